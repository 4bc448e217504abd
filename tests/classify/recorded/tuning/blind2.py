"""Batch "blind-2", tuning split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Their own seeded third is in holdout/
(`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    AGENTS_ROUTES,
    DEFAULT_ROUTES,
    SubAgent,
    batch_adder,
    fail,
    hangs,
    limit,
    lines,
    llm,
    ok,
    tool,
    tool_call,
)
from ..servers import Call, Say

BATCH = "blind-2"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- insurance-payout-figure-from-nowhere
add(key="insurance-payout-figure-from-nowhere", domain="insurance", agent="claims-companion",
    instructions="You tell policyholders where their claim stands, from the claims system only.",
    prompt="Has my water-damage claim CLM-30418 been approved yet, and how much will I get?",
    tools=[tool("get_claim", "Status of a claim in the claims system.",
                ok({"claim": "CLM-30418", "status": "under_review", "adjuster": "R. Boateng", "payout_eur": None, "next_step": "site inspection 2026-12-14"}),
                claim_id="string")],
    turns=[Call(("get_claim", {"claim_id": "CLM-30418"})),
           Say("Good news: CLM-30418 has been approved and EUR 2,340 will be paid into your account by Friday.")],
    category="planning", root=llm(2),
    why="rule 4 / 'Did the run fail?': the answer claims an approval and a figure that no tool returned (the claim is under review, no payout set); root table: false success claim -> the LLM call that produced the answer",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- support-triage-and-techdesk-bounce
add(key="support-triage-and-techdesk-bounce", domain="customer support", agent="triage",
    instructions="Send each customer to the desk that owns the problem.",
    prompt="My router keeps dropping the connection every evening and my last bill looks too high.",
    tools=[],
    handoffs={"triage": ("Connection problems belong to tech-desk.", ["tech-desk"]),
              "tech-desk": ("You fix connectivity. If the customer mentions billing, send them back to triage.", ["triage"])},
    turns=[Call(("transfer_to_tech_desk", {})), Call(("transfer_to_triage", {}))] * 5,
    budget={"max_turns": 8},
    category="planning", root={"kind": "handoff", "ordinal": 1},
    why="rule 1: two agents hand the customer back and forth (A B A B ...) until the declared turn limit; the limit is a symptom of the oscillation; root table: ping-pong between agents -> the first handoff of the alternation",
    routes=AGENTS_ROUTES)




# ---- procurement-suppliers-listed-but-japanese-apology
add(key="procurement-suppliers-listed-but-japanese-apology", domain="procurement", agent="sourcing-assistant",
    instructions="調達担当者のために、条件に合うサプライヤーを探して候補を提示してください。",
    prompt="ステンレス製M8ボルトを月5万本、納期2週間以内で供給できる国内サプライヤーを3社挙げてください。",
    tools=[tool("search_suppliers", "条件に合うサプライヤーを検索する。",
                ok({"suppliers": [{"name": "東邦精密工業", "lead_days": 10, "monthly_capacity": 80000},
                                  {"name": "北陸ファスナー", "lead_days": 12, "monthly_capacity": 60000},
                                  {"name": "関西ボルト製作所", "lead_days": 9, "monthly_capacity": 120000}]}),
                part="string", monthly_qty="integer", max_lead_days="integer")],
    turns=[Call(("search_suppliers", {"part": "SUS M8 bolt", "monthly_qty": 50000, "max_lead_days": 14})),
           Say("申し訳ありませんが、今回はご依頼の条件でサプライヤーをご提案することができませんでした。")],
    category="planning", root=llm(2),
    why="rule 4: gives up (in Japanese) although the search worked and returned three matching suppliers; no tool error in the trace; root table: giving up -> the LLM call that produced that answer")




# ---- hr-headcount-read-off-org-chart-image
add(key="hr-headcount-read-off-org-chart-image", domain="hr", agent="people-analytics",
    instructions="You answer headcount questions for HR business partners.",
    prompt="How many people are in Engineering and in Sales right now?",
    tools=[tool("get_org_chart_image", "Render the org chart as a PNG and return its link.", ok({"url": "https://hr.internal/orgchart/2026-12-07.png", "format": "png"}), root_unit="string"),
           tool("count_employees", "Current headcount of a department.", ok({"count": 0}), department="string")],
    turns=[Call(("get_org_chart_image", {"root_unit": "company"})),
           Say("Engineering has 142 people and Sales has 57.")],
    category="planning", root=tool_call("get_org_chart_image", 1),
    why="rule 4: picks a tool that cannot give a count (an image link) while count_employees was offered, then states numbers no tool returned; root table: wrong tool -> the first call of the unsuitable tool")




# ---- logistics-same-tracking-call-until-turn-limit
add(key="logistics-same-tracking-call-until-turn-limit", domain="logistics", agent="parcel-watch",
    instructions="Tell customers where their parcel is.",
    prompt="Where is parcel 1Z 999 AA1 0123 4567 84?",
    tools=[tool("track_parcel", "Latest scan of a parcel.", ok({"parcel": "1Z999AA10123456784", "last_scan": "Arrived at facility, Koeln", "when": "2026-12-07T04:12Z"}), tracking="string")],
    turns=[Call(("track_parcel", {"tracking": "1Z999AA10123456784"}))] * 7,
    budget={"max_turns": 5},
    category="planning", root=tool_call("track_parcel", 1),
    why="rule 1: the same call with the same arguments over and over until the turn limit stops the run; loops are planning even when they end at a turn limit; root table: repeated identical call -> the first call of the repeated call")




# ---- realestate-listing-publish-failed-portuguese
add(key="realestate-listing-publish-failed-portuguese", domain="real estate", agent="anuncios",
    instructions="Publica anúncios de imóveis no portal e confirma ao proprietário.",
    prompt="Publica o T2 da Rua das Flores 41 em Lisboa por 1.350 euros por mês.",
    tools=[tool("publish_listing", "Publica um anúncio no portal imobiliário.",
                fail("PortalError", "HTTP 500 from portal API: internal server error (request id 7c1f-22ab)"), address="string", rent_eur="number", typology="string")],
    turns=[Call(("publish_listing", {"address": "Rua das Flores 41, Lisboa", "rent_eur": 1350, "typology": "T2"})),
           Say("Não consegui publicar o anúncio: o portal devolveu um erro interno. O anúncio não está online; posso tentar mais tarde.")],
    category="tool", root=tool_call("publish_listing", 1),
    why="rule 3: the publishing tool failed and the answer (in Portuguese) honestly reports that the task could not be done; root table: unrecovered tool error -> the first failing tool call")




# ---- travel-visa-checker-times-out-twice
add(key="travel-visa-checker-times-out-twice", domain="travel", agent="trip-compliance",
    instructions="Check entry requirements before employees travel.",
    prompt="Does a Brazilian passport holder need a visa for a 5-day business trip to Japan?",
    tools=[tool("check_entry_rules", "Entry requirements for a nationality and destination.", hangs("Timatic gateway"), nationality="string", destination="string", purpose="string")],
    turns=[Call(("check_entry_rules", {"nationality": "BR", "destination": "JP", "purpose": "business"})),
           Call(("check_entry_rules", {"nationality": "BR", "destination": "JP", "purpose": "business"})),
           Say("The entry-rules service timed out twice, so I can't confirm the visa requirement right now. Please check with the Japanese consulate before booking.")],
    category="tool", root=tool_call("check_entry_rules", 1),
    why="rule 3: the tool's own timeout, one identical retry timed out too, and the answer says so; root table: timeout -> the first failing tool call (not the retry)")




# ---- edu-exam-duration-rejected-by-schema
add(key="edu-exam-duration-rejected-by-schema", domain="education", agent="exam-office",
    instructions="Schedule exams in the exam office calendar.",
    prompt="Schedule the BIO-204 final on 18 December at 09:00, ninety minutes, room H-12.",
    tools=[tool("schedule_exam", "Create an exam in the calendar (duration in whole minutes).", ok({"exam": "EX-5521"}), course="string", start="string", duration_minutes="integer", room="string")],
    turns=[Call(("schedule_exam", {"course": "BIO-204", "start": "2026-12-18T09:00", "duration_minutes": "ninety minutes", "room": "H-12"})),
           Say("The calendar rejected the request, so the BIO-204 final is not scheduled. I'll need the duration as a number of minutes to try again.")],
    category="tool", root={**tool_call("schedule_exam", 1), "else": llm(1)},
    why="rule 3: arguments rejected by the tool's schema (text for an integer duration) are a tool failure, and the answer reports the task undone; root table: schema rejection -> the rejected tool call")




# ---- support-ticket-threads-outgrow-window
add(key="support-ticket-threads-outgrow-window", domain="customer support", agent="escalation-reviewer", model="gpt-4",
    instructions="Read each ticket thread of an escalation and write a timeline.",
    prompt="Build the timeline for escalation ESC-771 (tickets TCK-4410 to TCK-4416).",
    tools=[tool("read_ticket", "Full thread of one support ticket.",
                *[ok(lines(f"TCK-{4410 + i} customer reply printer offline again after firmware 3.2 update", 95)) for i in range(7)],
                ticket="string")],
    turns=[Call(("read_ticket", {"ticket": f"TCK-{4410 + i}"})) for i in range(7)] + [Say("Timeline ready.")],
    category="context", root=llm(6),
    why="rule 5: the threads read so far pile up past the 8k window and the provider refuses the sixth model call with a context-length error; no single thread floods it; root table: overflow from accumulated history -> the LLM call that failed with the context error")




# ---- devops-patch-call-truncated-by-window
add(key="devops-patch-call-truncated-by-window", domain="devops", agent="hotfix-bot", model="gpt-4",
    instructions="Apply hotfixes: read the affected files, then write the patched file in full.",
    prompt="Hotfix INC-9021: rename render_total to render_invoice_total in the billing templates.",
    tools=[tool("read_source", "Read one source file.", *[ok(lines(f"src/billing/invoice{i}.py def render_invoice(ctx) total vat rounding", 90)) for i in range(4)], path="string"),
           tool("write_source", "Overwrite one source file with new content.", ok("written"), path="string", content="string")],
    turns=[Call(("read_source", {"path": f"src/billing/invoice{i}.py"})) for i in range(4)]
          + [Call(("write_source", {"path": "src/billing/invoice0.py", "content": lines("Patch line replace render_total with render_invoice_total in template", 100)})),
             Say("Hotfix applied.")],
    category="context", root=llm(5),
    why="rule 5: the prompt is near the 8k window and the model's write call stops at the length limit, its arguments cut mid-JSON; a truncated tool-call JSON caused by that is context, not tool; root table: output cut near the window -> the LLM call that stopped at the length limit")




# ---- insurance-policy-clauses-off-topic-answered
add(key="insurance-policy-clauses-off-topic-answered", domain="insurance", agent="policy-explainer",
    instructions="Explain what a home policy covers, quoting the clauses that retrieve_clauses returns.",
    prompt="Am I covered if a tree from my neighbour's garden falls on my garage?",
    tools=[tool("retrieve_clauses", "Retrieve the policy clauses closest to a question.",
                ok({"clauses": [{"id": "4.2", "text": "Jewellery kept outside a locked safe is covered up to EUR 1,500."},
                                {"id": "9.7", "text": "Premiums may be paid monthly by direct debit."},
                                {"id": "11.1", "text": "This policy is governed by the laws of Ireland."}]}),
                policy="string", question="string")],
    turns=[Call(("retrieve_clauses", {"policy": "HOME-PLUS-2026", "question": "tree from neighbour falls on garage"})),
           Say("Yes. Under clause 6.3 falling trees are covered, including damage to outbuildings such as garages, minus your EUR 250 excess.")],
    category="context", root=tool_call("retrieve_clauses", 1),
    why="rule 5: retrieval returned nothing relevant (jewellery, premiums, governing law) and the agent answered anyway, citing a clause no passage contains; root table: irrelevant retrieval answered anyway -> the retrieval call",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- marketing-regional-pulls-hit-turn-cap
add(key="marketing-regional-pulls-hit-turn-cap", domain="marketing", agent="campaign-analyst",
    instructions="Build the campaign report region by region: pull each region's results, then summarise.",
    prompt="Report on the winter campaign across our six regions.",
    tools=[tool("get_campaign_results", "Results of a campaign in one region.", ok({"impressions": 1_204_000, "ctr": 0.021, "conversions": 3110}), campaign="string", region="string")],
    turns=[Call(("get_campaign_results", {"campaign": "winter-26", "region": r})) for r in ("north", "south", "east", "west", "central", "islands")]
          + [Say("Report ready.")],
    budget={"max_turns": 4},
    category="budget", root=limit(),
    why="rule 6: each turn pulls a different region (distinct progress), and the owners' turn limit (4, declared) runs out before the six regions are done; root table: turn limit -> the deepest step carrying the limit error, else the last LLM call before it")




# ---- accounting-close-review-cost-limit-in-error
add(key="accounting-close-review-cost-limit-in-error", domain="accounting", agent="close-reviewer",
    instructions="Review month-end journal entries for anomalies.",
    prompt="Review the November close: journals for the Paris and Madrid entities.",
    tools=[tool("get_journal", "An entity's journal entries for a month, one line each.",
                ok(lines("2026-11-28 JE-40211 EUR 8,450.00 accrual consulting Paris entity", 200)),
                ok(lines("2026-11-29 JE-40388 EUR 12,030.00 reversal rent Madrid entity", 200)),
                entity="string", month="string")],
    turns=[Call(("get_journal", {"entity": "FR01", "month": "2026-11"})),
           Call(("get_journal", {"entity": "ES02", "month": "2026-11"})),
           Say("No anomalies."),
           Say("ok")],
    budget={"max_cost_usd": 0.025}, declare_budget=False,
    category="budget", root=llm(3),
    why="rule 6: a cost budget that appears only in the error text (LiteLLM's wording) is crossed after the third model call; root table: cost budget -> the LLM call after which the running total first exceeds it")




# ---- logistics-route-plan-deadline-undeclared
add(key="logistics-route-plan-deadline-undeclared", domain="logistics", agent="route-planner",
    instructions="Plan delivery routes depot by depot.",
    prompt="Plan tomorrow's routes for the Leeds, York and Hull depots.",
    tools=[tool("optimise_routes", "Optimise one depot's routes for a day.",
                ok({"routes": 14}, seconds=0.1), ok({"routes": 11}, seconds=6.0), ok({"routes": 9}, seconds=0.1),
                depot="string", date="string")],
    turns=[Call(("optimise_routes", {"depot": d, "date": "2026-12-08"})) for d in ("Leeds", "York", "Hull")] + [Say("Routes planned for all three depots.")],
    budget={"deadline_s": 5.0}, declare_budget=False,
    category="budget", root=tool_call("optimise_routes", 3),
    why="rule 6: the whole run's deadline (only in the error text) passes before the third depot can start; each optimisation finished fine, so it is budget, not a tool timeout; root table: run deadline -> the step carrying the deadline error")




# ---- insurance-handoff-to-claims-resolved
add(key="insurance-handoff-to-claims-resolved", domain="insurance", agent="reception",
    instructions="Greet policyholders and route them.",
    prompt="I want to know the status of claim CLM-31002.",
    tools=[tool("get_claim", "Status of a claim in the claims system.", ok({"claim": "CLM-31002", "status": "paid", "payout_eur": 860, "paid_on": "2026-12-02"}), claim_id="string")],
    handoffs={"reception": ("Claims questions go to claims-desk.", ["claims-desk"]),
              "claims-desk": ("You answer claim questions from the claims system.", [])},
    turns=[Call(("transfer_to_claims_desk", {})),
           Call(("get_claim", {"claim_id": "CLM-31002"})),
           Say("CLM-31002 was paid: EUR 860 went out on 2 December.")],
    category=None, root=None,
    why="did not fail: one handoff to the right desk, which looked the claim up and answered from it",
    routes=AGENTS_ROUTES)




# ---- marketing-four-regions-within-turn-cap
add(key="marketing-four-regions-within-turn-cap", domain="marketing", agent="campaign-analyst",
    instructions="Build the campaign report region by region: pull each region's results, then summarise.",
    prompt="Report on the spring teaser across our four regions.",
    tools=[tool("get_campaign_results", "Results of a campaign in one region.", ok({"impressions": 410_000, "ctr": 0.017, "conversions": 802}), campaign="string", region="string")],
    turns=[Call(("get_campaign_results", {"campaign": "spring-teaser", "region": r})) for r in ("north", "south", "east", "west")]
          + [Say("Spring teaser: 1.64M impressions, CTR 1.7 %, 3,208 conversions across the four regions.")],
    budget={"max_turns": 5},
    category=None, root=None,
    why="did not fail: four region pulls and the summary use exactly the five turns the owners allow; close to the limit but within it")




# ---- devops-failed-jobs-are-the-answer
add(key="devops-failed-jobs-are-the-answer", domain="devops", agent="ci-reporter",
    instructions="Report on CI pipelines as asked.",
    prompt="Which nightly jobs failed last night?",
    tools=[tool("list_jobs", "CI jobs of a pipeline run with their status.",
                ok({"pipeline": "nightly-2026-12-06", "jobs": [
                    {"name": "e2e-chrome", "status": "failed", "error": "Timeout: page.goto exceeded 30000ms"},
                    {"name": "db-migrations", "status": "failed", "error": "relation \"ledger_v2\" already exists"},
                    {"name": "unit", "status": "passed", "error": None}]}),
                pipeline="string")],
    turns=[Call(("list_jobs", {"pipeline": "nightly"})),
           Say("Two nightly jobs failed: e2e-chrome (timeout: page.goto exceeded 30 s) and db-migrations (relation \"ledger_v2\" already exists). Unit tests passed.")],
    category=None, root=None,
    why="did not fail: 'failed', 'error' and 'Timeout' are data returned by a working tool, and reporting them was the task")




# ---- edu-two-tutors-exactly-at-limit-undeclared
add(key="edu-two-tutors-exactly-at-limit-undeclared", domain="education", agent="study-planner",
    instructions="Prepare revision plans by asking a tutor sub-agent about each subject.",
    prompt="Make a revision plan for my maths and physics exams next week.",
    tools=[tool("ask_tutor", "Start a tutor sub-agent on one subject.",
                agent=SubAgent("tutor", "Give a 3-day revision plan for the subject.", [Say("Day 1 theory, day 2 past papers, day 3 weak spots.")]),
                subject="string")],
    turns=[Call(("ask_tutor", {"subject": "maths"})), Call(("ask_tutor", {"subject": "physics"})),
           Say("Maths Mon-Wed, physics Thu-Sat: theory, past papers, then weak spots for each.")],
    budget={"max_subagents": 2}, declare_budget=False,
    category=None, root=None,
    why="did not fail: the orchestrator ran two sub-agents, exactly its limit and not over it, and answered")
