"""Scenarios of the tuning split: rules may be tuned on these (and their captures)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    AGENTS_ROUTES,
    DEFAULT_ROUTES,
    Scenario,
    SubAgent,
    fail,
    hangs,
    lines,
    llm,
    ok,
    tool,
    tool_call,
)
from ..servers import Call, RateLimited, Say

SCENARIOS = []
add = SCENARIOS.append


# ---- retail-refund-claimed-after-gateway-decline
add(Scenario(
    key="retail-refund-claimed-after-gateway-decline", domain="retail", agent="refund-desk",
    instructions="You process refunds for Lumen Home. Look the order up, then refund it with the "
                 "payment gateway. Tell the customer exactly what happened.",
    prompt="Order LH-20931 arrived with a cracked lamp shade. Please refund the $84.00.",
    tools=[
        tool("lookup_order", "Fetch an order by its id.",
             ok({"order": "LH-20931", "total": 84.0, "status": "delivered", "card": "visa-4417"}),
             order_id="string"),
        tool("issue_refund", "Refund an amount on an order through the payment gateway.",
             fail("GatewayDeclined", "card processor declined the reversal (response code 05)"),
             order_id="string", amount="number"),
    ],
    turns=[Call(("lookup_order", {"order_id": "LH-20931"})),
           Call(("issue_refund", {"order_id": "LH-20931", "amount": 84.0})),
           Say("All done! I've refunded $84.00 to your Visa ending 4417; expect it within 3-5 "
               "business days.")],
    category="planning", root=llm(3),
    why="rule 4: the answer claims a refund the trace does not support, right after the refund "
        "call failed and was never redone; root table: false success claim -> the LLM call "
        "that produced that answer",
    routes=DEFAULT_ROUTES + ("langfuse",),
))


# ---- travel-hotels-found-but-gave-up
add(Scenario(
    key="travel-hotels-found-but-gave-up", domain="travel", agent="trip-planner",
    instructions="Help travellers book stays. Search hotels and propose the best two options.",
    prompt="Find me a hotel in Porto for 12-15 May, under 150 EUR a night, near Ribeira.",
    tools=[tool("search_hotels", "Search hotels by city, dates and nightly budget.",
                ok({"results": [
                    {"name": "Casa do Cais", "area": "Ribeira", "eur_per_night": 128},
                    {"name": "Douro Loft", "area": "Ribeira", "eur_per_night": 141},
                    {"name": "Bolhao Rooms", "area": "Bolhao", "eur_per_night": 97}]}),
                city="string", check_in="string", check_out="string", max_price="number")],
    turns=[Call(("search_hotels", {"city": "Porto", "check_in": "2026-05-12",
                                   "check_out": "2026-05-15", "max_price": 150})),
           Say("Unfortunately I wasn't able to find anything that fits. You may want to try "
               "another booking site.")],
    category="planning", root=llm(2),
    why="rule 4: gives up although its tools work (the search returned matching hotels, no tool "
        "error in the trace); root table: giving up -> the LLM call that produced that answer",
))


# ---- coding-lockfile-answered-without-reading
add(Scenario(
    key="coding-lockfile-answered-without-reading", domain="coding", agent="repo-helper",
    instructions="You answer questions about the checked-out repository. Read files with "
                 "read_file before answering anything about their contents.",
    prompt="Which version of pyyaml is pinned in poetry.lock?",
    tools=[tool("read_file", "Read a file of the repository.", ok("[[package]]\nname = pyyaml\n"
                "version = 6.0.2\n"), path="string"),
           tool("grep_repo", "Search the repository for a pattern.", ok("poetry.lock:412"),
                pattern="string")],
    turns=[Say("poetry.lock pins pyyaml 5.4.1.")],
    category="planning", root=llm(1),
    why="rule 4: answers without calling the tools it was given for the job (the run never "
        "read the lockfile); root table: premature answer -> the LLM call that produced it",
))


# ---- research-title-search-cannot-give-abstracts
add(Scenario(
    key="research-title-search-cannot-give-abstracts", domain="research", agent="lit-review",
    instructions="You summarise papers for the lab. fetch_abstract returns a paper's abstract; "
                 "search_titles only finds titles and ids.",
    prompt="Summarise the abstract of arXiv 2403.11877 in two sentences.",
    tools=[tool("search_titles", "Find paper titles and ids matching a query; no abstracts.",
                ok({"hits": [{"id": "2403.11877", "title": "Sparse Mixture Routing at Scale"}],
                    "note": "this endpoint only returns titles and ids"}), query="string"),
           tool("fetch_abstract", "Fetch the abstract of a paper by arXiv id.",
                ok("We study routing in sparse mixtures..."), arxiv_id="string")],
    turns=[Call(("search_titles", {"query": "2403.11877"})),
           Say("The paper proposes a new routing scheme for sparse mixtures that balances expert "
               "load, and shows it matches dense models at a third of the compute.")],
    category="planning", root=tool_call("search_titles", 1),
    why="rule 4: picks a tool that cannot do the job (titles only) although fetch_abstract was "
        "there, then answers from nothing; root table: wrong tool -> its first call",
))


# ---- finance-fx-asked-of-stock-quotes
add(Scenario(
    key="finance-fx-asked-of-stock-quotes", domain="finance", agent="treasury-bot",
    instructions="You help the treasury team with conversions and quotes.",
    prompt="How many yen do we get for 1,200 euros today?",
    tools=[tool("get_stock_quote", "Latest quote for an equity ticker.",
                ok({"symbol": "EURJPY", "error": None,
                    "message": "unsupported symbol: only NYSE and NASDAQ equities are quoted"}),
                symbol="string"),
           tool("convert_currency", "Convert an amount between two currencies at today's rate.",
                ok({"result": 193_560.0}), amount="number", source="string", target="string")],
    turns=[Call(("get_stock_quote", {"symbol": "EURJPY"})),
           Say("I couldn't get a EUR/JPY rate today, so I can't convert the 1,200 euros.")],
    category="planning", root=tool_call("get_stock_quote", 1),
    why="rule 4: picks a tool that cannot do the job (an equities quote for an FX conversion) "
        "while convert_currency was offered; root table: wrong tool -> its first call",
))


# ---- ops-pod-status-polled-then-gave-up
add(Scenario(
    key="ops-pod-status-polled-then-gave-up", domain="ops", agent="oncall-copilot",
    instructions="You help the on-call engineer. Diagnose before you act.",
    prompt="checkout-api pods keep restarting in prod-eu; what is going on?",
    tools=[tool("get_pod_status", "Status of the pods of a deployment.",
                ok({"deployment": "checkout-api", "ready": "0/3", "reason": "CrashLoopBackOff"}),
                deployment="string", cluster="string"),
           tool("get_pod_logs", "Last lines of a pod's logs.", ok("panic: missing env DB_URL"),
                deployment="string", cluster="string")],
    turns=[Call(("get_pod_status", {"deployment": "checkout-api", "cluster": "prod-eu"}))] * 4
          + [Say("I've checked several times and I can't tell why the pods restart; you'll need "
                 "to look into it yourself.")],
    category="planning", root=tool_call("get_pod_status", 1),
    why="rule 1 / 4: the agent repeats the identical status call four times with identical "
        "results and then gives up while its log tool was never tried; root table: loop -> the "
        "first call of the repeated call",
))


# ---- retail-triage-billing-handoff-ping-pong
add(Scenario(
    key="retail-triage-billing-handoff-ping-pong", domain="retail", agent="front-desk",
    instructions="Route the customer to the right desk.",
    prompt="I was charged twice for my March subscription, can you fix it?",
    tools=[],
    handoffs={"front-desk": ("Route customers: billing questions go to billing-desk.",
                             ["billing-desk"]),
              "billing-desk": ("You handle invoices. Anything about subscriptions goes back to "
                               "the front desk.", ["front-desk"])},
    turns=[Call(("transfer_to_billing_desk", {})), Call(("transfer_to_front_desk", {})),
           Call(("transfer_to_billing_desk", {})), Call(("transfer_to_front_desk", {})),
           Call(("transfer_to_billing_desk", {})), Call(("transfer_to_front_desk", {})),
           Call(("transfer_to_billing_desk", {}))],
    budget={"max_turns": 6}, declare_budget=False,
    category="planning", root={"kind": "handoff", "ordinal": 1},
    why="rule 1: two agents handing the conversation back and forth (A B A B A B) until the turn "
        "limit; root table: ping-pong between agents -> the first handoff of the alternation",
    routes=AGENTS_ROUTES,
))


# ---- travel-booking-retried-once-then-reported
add(Scenario(
    key="travel-booking-retried-once-then-reported", domain="travel", agent="rail-booker",
    instructions="Book train tickets for staff travel.",
    prompt="Book a 2nd class seat on the 07:42 Zurich to Milan train next Tuesday.",
    tools=[tool("find_trains", "Trains between two stations on a date.",
                ok({"trains": [{"id": "EC 315", "dep": "07:42", "seats_2nd": 14}]}),
                origin="string", destination="string", date="string"),
           tool("reserve_seat", "Reserve a seat on a train.",
                fail("ReservationError", "seat inventory service returned 500: internal error"),
                train_id="string", travel_class="integer")],
    turns=[Call(("find_trains", {"origin": "Zurich HB", "destination": "Milano Centrale",
                                 "date": "2026-06-09"})),
           Call(("reserve_seat", {"train_id": "EC 315", "travel_class": 2})),
           Call(("reserve_seat", {"train_id": "EC 315", "travel_class": 2})),
           Say("The EC 315 at 07:42 has seats, but the reservation system failed twice, so "
               "nothing is booked yet. You can book at the station or I can try again later.")],
    category="tool", root=tool_call("reserve_seat", 1),
    why="rule 3: a tool error after one identical retry, honestly reported; root table: "
        "unrecovered tool error -> the first failing tool call (not the retry)",
))


# ---- finance-fx-feed-timeout
add(Scenario(
    key="finance-fx-feed-timeout", domain="finance", agent="invoice-converter",
    instructions="Convert supplier invoices into EUR for the ledger.",
    prompt="Convert invoice INV-3390 (18,250 SEK) to EUR at today's rate.",
    tools=[tool("get_rate", "Today's rate from the market data feed.",
                hangs("market-data feed (fx.internal:8443)"), base="string", quote="string")],
    turns=[Call(("get_rate", {"base": "SEK", "quote": "EUR"})),
           Say("The market data feed did not respond in time, so I could not convert INV-3390. "
               "Nothing was written to the ledger.")],
    category="tool", root=tool_call("get_rate", 1),
    why="rule 3: a single tool's own timeout is a tool failure, reported honestly; root table: "
        "timeout -> the first failing tool call",
))


# ---- coding-ci-logs-tool-error-then-turn-limit
add(Scenario(
    key="coding-ci-logs-tool-error-then-turn-limit", domain="coding", agent="ci-doctor",
    instructions="Find out why CI failed and propose a fix.",
    prompt="Why did pipeline 88412 fail on main?",
    tools=[tool("get_ci_logs", "Download the logs of a CI pipeline.",
                fail("PermissionDenied", "403: token lacks read_api scope for project web/shop"),
                pipeline_id="integer"),
           tool("list_commits", "Recent commits on a branch.",
                ok({"commits": ["a91f3c2 bump eslint", "77c01d9 fix cart rounding"]}),
                branch="string"),
           tool("read_file", "Read a file of the repository.", ok("module.exports = {}"),
                path="string")],
    turns=[Call(("get_ci_logs", {"pipeline_id": 88412})),
           Call(("list_commits", {"branch": "main"})),
           Call(("read_file", {"path": ".eslintrc.js"})),
           Call(("read_file", {"path": "package.json"})),
           Call(("read_file", {"path": "src/cart/round.ts"})),
           Call(("read_file", {"path": "src/cart/round.test.ts"}))],
    budget={"max_turns": 5},
    category="tool", root=tool_call("get_ci_logs", 1),
    why="rule 3 over rule 6: the logs tool failed and was never redone; the agent flailed until "
        "the turn limit, a symptom of that cause; root table: unrecovered tool error -> the "
        "first failing tool call",
))


# ---- retail-recovered-stock-then-payment-failure
add(Scenario(
    key="retail-recovered-stock-then-payment-failure", domain="retail", agent="checkout-agent",
    instructions="Place orders for returning customers.",
    prompt="Reorder my usual: two bags of Kenyan AA beans, 1kg each.",
    tools=[tool("check_stock", "Units in stock for a SKU.",
                fail("ConnectionResetError", "connection reset by peer (inventory-db)"),
                ok({"sku": "KEN-AA-1KG", "units": 37}), sku="string"),
           tool("charge_card", "Charge the customer's saved card.",
                fail("PaymentError", "issuer unavailable: try again later (code 91)"),
                customer_id="string", amount="number")],
    turns=[Call(("check_stock", {"sku": "KEN-AA-1KG"})),
           Call(("check_stock", {"sku": "KEN-AA-1KG"})),
           Call(("charge_card", {"customer_id": "c-2231", "amount": 58.0})),
           Say("The beans are in stock, but your card's issuer is unavailable at the moment, so I "
               "couldn't place the order.")],
    category="tool", root=tool_call("charge_card", 1),
    why="rule 2: the stock error was recovered (the same call succeeded); the later payment "
        "failure is unrecovered and honestly reported (rule 3); root table: the first failing "
        "call of it (an earlier recovered error is not a root)",
))


# ---- research-model-rate-limited
add(Scenario(
    key="research-model-rate-limited", domain="research", agent="grant-writer",
    instructions="Draft grant summaries from the lab's notes.",
    prompt="Draft a 150-word summary of the soil microbiome project for the NSF form.",
    tools=[tool("get_notes", "The lab's notes on a project.",
                ok("Project SM-4: 14 field sites, 16S sequencing, drought response..."),
                project="string")],
    turns=[Call(("get_notes", {"project": "SM-4"})), RateLimited()],
    category="tool", root=llm(2),
    why="rule 3 (by extension): the run aborts with an external service's error, the model "
        "provider's 429, not a decision, context or an owners' limit (docs/classifier.md "
        "tool.provider_error); root: the failing call",
))


# ---- ops-dns-api-error-body-reported
add(Scenario(
    key="ops-dns-api-error-body-reported", domain="ops", agent="dns-admin",
    instructions="Manage DNS records for the company's zones.",
    prompt="Point status.acme-corp.io at 203.0.113.40.",
    tools=[tool("upsert_record", "Create or update a DNS A record.",
                ok({"success": False, "error": {"code": 10000,
                                                "message": "Authentication error: API token "
                                                           "expired"}}),
                zone="string", name="string", address="string")],
    turns=[Call(("upsert_record", {"zone": "acme-corp.io", "name": "status",
                                   "address": "203.0.113.40"})),
           Say("The DNS provider rejected the change (its API token has expired), so "
               "status.acme-corp.io still points to the old address.")],
    category="tool", root=tool_call("upsert_record", 1),
    why="rule 3: the tool's result is an error (success false, authentication error) and the "
        "answer reports the failure; root table: unrecovered tool error -> the failing call",
))


# ---- coding-history-overflows-window
add(Scenario(
    key="coding-history-overflows-window", domain="coding", agent="refactor-bot", model="gpt-4",
    instructions="Rename the deprecated helper across the package. Read each module first.",
    prompt="Replace every use of legacy_fmt() with format_amount() in the billing package.",
    tools=[tool("read_module", "Read one module of the repository.",
                *[ok(lines(f"billing/mod{i}.py legacy_fmt(total) and friends", 50))
                  for i in range(8)], path="string")],
    turns=[Call(("read_module", {"path": f"billing/mod{i}.py"})) for i in range(8)]
          + [Say("Done.")],
    category="context", root=llm(8),
    why="rule 5: a context-length error from the provider after the history of reads grew past "
        "the window (no single output floods it); root table: overflow from accumulated "
        "history -> the LLM call that failed with the context error",
))


# ---- ops-log-dump-floods-window
add(Scenario(
    key="ops-log-dump-floods-window", domain="ops", agent="incident-analyst", model="gpt-4",
    instructions="Investigate incidents from the logs and summarise the cause.",
    prompt="What caused the 02:10 outage of the ledger service?",
    tools=[tool("fetch_logs", "Fetch the logs of a service for a time window.",
                ok(lines("2026-02-03T02:09:58Z ledger worker-7 retrying batch flush", 600)),
                service="string", since="string", until="string")],
    turns=[Call(("fetch_logs", {"service": "ledger", "since": "01:50", "until": "02:30"})),
           Say("The outage was caused by a stuck batch flush.")],
    category="context", root=tool_call("fetch_logs", 1),
    why="rule 5: one tool output larger than the model's window; the next model call failed "
        "with a context-length error; root table: overflow from one huge tool output -> the "
        "tool call whose output crowded the window",
    routes=DEFAULT_ROUTES + ("langfuse",),
))


# ---- research-report-cut-at-window
add(Scenario(
    key="research-report-cut-at-window", domain="research", agent="market-analyst",
    model="gpt-4",
    instructions="Write a market brief from the interview transcripts.",
    prompt="Write the full brief on e-bike demand in Benelux from interviews 1-4.",
    tools=[tool("get_transcript", "The transcript of an interview.",
                *[ok(lines(f"interview {i} respondent on cargo bikes and leasing", 50))
                  for i in range(1, 5)], interview="integer")],
    turns=[Call(("get_transcript", {"interview": i})) for i in range(1, 5)]
          + [Say(lines("Brief section on demand drivers leasing subsidies and urban logistics",
                       150))],
    category="context", root=llm(5),
    why="rule 5: the answer stops at finish_reason length with the prompt near the window; root "
        "table: output cut near the window -> the LLM call whose output stopped at the limit",
))


# ---- coding-patch-call-cut-mid-json
add(Scenario(
    key="coding-patch-call-cut-mid-json", domain="coding", agent="patch-writer", model="gpt-4",
    instructions="Fix failing tests by writing patched files.",
    prompt="tests/test_tax.py fails on rounding; fix calc/tax.py.",
    tools=[tool("read_file", "Read a file of the repository.",
                *[ok(lines(f"calc module {i} rounding helpers decimal quantize", 50))
                  for i in range(4)], path="string"),
           tool("write_file", "Write a whole file.", ok("written"), path="string",
                content="string")],
    turns=[Call(("read_file", {"path": p})) for p in ("calc/tax.py", "calc/money.py",
                                                      "tests/test_tax.py", "calc/rates.py")]
          + [Call(("write_file", {"path": "calc/tax.py",
                                  "content": lines("def tax(amount): return quantize(x)", 110)})),
             Say("I wasn't able to write the patch.")],
    category="context", root=llm(5),
    why="rule 5: the model's tool call stopped at length with the prompt near the window, its "
        "JSON cut off: that is context, not tool; root table: output cut near the window -> "
        "the LLM call whose output stopped",
))


# ---- research-irrelevant-passages-answered-anyway
add(Scenario(
    key="research-irrelevant-passages-answered-anyway", domain="research", agent="clinic-qa",
    instructions="Answer clinicians' questions from the guideline library, citing passages.",
    prompt="What is the maximum daily dose of apixaban for a patient on dialysis?",
    tools=[tool("retrieve_passages", "Retrieve guideline passages relevant to a question.",
                ok({"passages": [
                    {"source": "Travel vaccines 2025", "text": "Yellow fever vaccine is given "
                     "at least 10 days before travel."},
                    {"source": "Asthma inhaler technique", "text": "Shake the inhaler and "
                     "exhale fully before each puff."}]}), question="string")],
    turns=[Call(("retrieve_passages", {"question": "apixaban maximum daily dose dialysis"})),
           Say("For patients on dialysis the maximum is 5 mg twice daily, per the guideline "
               "library.")],
    category="context", root=tool_call("retrieve_passages", 1),
    why="rule 5: retrieval returned nothing relevant (vaccines, inhalers) and the agent "
        "answered anyway; root table: irrelevant retrieval -> the retrieval call",
))


# ---- research-token-budget-crossed
add(Scenario(
    key="research-token-budget-crossed", domain="research", agent="due-diligence",
    instructions="Prepare due-diligence notes from the data room.",
    prompt="Summarise the risks in the Harbor Robotics data room.",
    tools=[tool("open_document", "Open a data-room document.",
                ok(lines("Harbor Robotics supplier contract clause liability cap", 55)),
                ok(lines("Harbor Robotics cap table convertible notes", 4)),
                doc_id="string")],
    turns=[Call(("open_document", {"doc_id": "DR-001"})),
           Call(("open_document", {"doc_id": "DR-002"})),
           Say("Main risks: an uncapped supplier liability clause and convertible notes that "
               "convert at a discount.")],
    budget={"max_total_tokens": 3500},
    category="budget", root=llm(3),
    why="rule 6: the owners' token budget (declared) is crossed; root table: token budget -> "
        "the LLM call after which the running total first exceeds the budget",
))


# ---- finance-cost-budget-litellm-declared
add(Scenario(
    key="finance-cost-budget-litellm-declared", domain="finance", agent="audit-sampler",
    instructions="Sample ledger entries and flag anomalies.",
    prompt="Sample 2025 Q4 ledger entries over 10k EUR and flag anything unusual.",
    tools=[tool("export_ledger", "Export ledger entries matching a filter.",
                ok(lines("2025-10-03 JE-88121 EUR 12,400.00 vendor ACME consulting", 150)),
                ok(lines("2025-11-14 JE-90311 EUR 18,950.00 vendor Nordlys", 150)),
                filter="string")],
    turns=[Call(("export_ledger", {"filter": "quarter=2025Q4 amount>10000 page=1"})),
           Call(("export_ledger", {"filter": "quarter=2025Q4 amount>10000 page=2"})),
           Say("Two unusual entries: JE-88121 and JE-90311.")],
    budget={"max_cost_usd": 0.015},
    category="budget", root=llm(3),
    why="rule 6: the cost budget set by the owners (declared) is crossed; root table: cost "
        "budget -> the LLM call after which the running total first exceeds it",
))


# ---- research-orchestrator-too-many-subagents
add(Scenario(
    key="research-orchestrator-too-many-subagents", domain="research", agent="market-scan-lead",
    instructions="Split market research into sub-questions and delegate each to a researcher.",
    prompt="Scan the European heat-pump market: size, growth, top vendors.",
    tools=[tool("delegate_research", "Start a researcher sub-agent on one question.",
                agent=SubAgent("researcher", "Answer the research question briefly.",
                               [Say("Finding: the segment grew about 12% last year.")]),
                question="string")],
    turns=[Call(("delegate_research", {"question": "EU heat-pump market size 2025"})),
           Call(("delegate_research", {"question": "growth by country"})),
           Call(("delegate_research", {"question": "top five vendors by share"})),
           Say("Summary...")],
    budget={"max_subagents": 2},
    category="budget", root=tool_call("delegate_research", 3),
    why="rule 6: the number of sub-agents is a limit the owners set (declared, 2); root table: "
        "too many sub-agents -> the call that tried to start the sub-agent over the limit",
))


# ---- ops-runbook-deadline
add(Scenario(
    key="ops-runbook-deadline", domain="ops", agent="runbook-executor",
    instructions="Run the runbook steps in order; each step is a health check.",
    prompt="Run the post-deploy checks for search-api.",
    tools=[tool("run_check", "Run one health check.",
                ok("check passed", seconds=0.6), ok("check passed", seconds=0.6),
                ok("check passed", seconds=0.6), check="string")],
    turns=[Call(("run_check", {"check": c})) for c in ("latency", "error-rate", "index-size")]
          + [Say("All checks passed.")],
    budget={"deadline_s": 1.0},
    category="budget", root=tool_call("run_check", 3),
    why="rule 6: the whole run's wall-clock deadline (declared) passed; an overall run deadline "
        "is budget, not a tool timeout; root table: run deadline -> the step carrying the "
        "deadline error",
))


# ---- retail-recovered-error-then-token-budget
add(Scenario(
    key="retail-recovered-error-then-token-budget", domain="retail", agent="catalog-enricher",
    instructions="Write product descriptions from supplier sheets.",
    prompt="Write descriptions for the 3 new Nordic Oak chairs.",
    tools=[tool("get_supplier_sheet", "A supplier's product sheet.",
                fail("HTTPError", "504 Gateway Timeout from supplier-portal"),
                ok(lines("Nordic Oak chair solid oak oiled finish seat height 46", 55)),
                sku="string")],
    turns=[Call(("get_supplier_sheet", {"sku": "NO-CH-01"})),
           Call(("get_supplier_sheet", {"sku": "NO-CH-01"})),
           Say("Nordic Oak chair: solid oak..."),
           Say("done")],
    budget={"max_total_tokens": 1900}, declare_budget=False,
    category="budget", root=llm(3),
    why="rule 2: the 504 was recovered by the same call, so the later budget failure decides; "
        "rule 6: the token budget (error text only) is crossed; root table: token budget -> the "
        "LLM call after which the running total first exceeds it",
))


# ---- retail-order-status-plain
add(Scenario(
    key="retail-order-status-plain", domain="retail", agent="order-tracker",
    instructions="Tell customers where their parcels are.",
    prompt="Has order 77-4410 shipped yet?",
    tools=[tool("track_order", "Carrier tracking for an order.",
                ok({"order": "77-4410", "status": "in transit", "eta": "Thursday"}),
                order_id="string")],
    turns=[Call(("track_order", {"order_id": "77-4410"})),
           Say("Yes, 77-4410 is in transit and should arrive on Thursday.")],
    category=None, root=None,
    why="did not fail: the tool answered and the answer reports what it returned",
    routes=DEFAULT_ROUTES + ("langfuse",),
))


# ---- travel-visa-lookup-recovered
add(Scenario(
    key="travel-visa-lookup-recovered", domain="travel", agent="visa-checker",
    instructions="Tell travellers whether they need a visa.",
    prompt="Do I need a visa for Vietnam with a Canadian passport, for 10 days?",
    tools=[tool("visa_rules", "Entry rules for a passport and destination.",
                fail("HTTPError", "503 Service Unavailable from visa-rules-api"),
                ok({"visa_required": False, "visa_free_days": 45}),
                passport="string", destination="string")],
    turns=[Call(("visa_rules", {"passport": "CA", "destination": "VN"})),
           Call(("visa_rules", {"passport": "CA", "destination": "VN"})),
           Say("No visa needed: Canadians can stay up to 45 days visa-free, so 10 days is fine.")],
    category=None, root=None,
    why="did not fail: the 503 was recovered by a later call of the same tool and the answer "
        "stands",
))


# ---- ops-error-lines-are-data
add(Scenario(
    key="ops-error-lines-are-data", domain="ops", agent="log-summariser",
    instructions="Summarise service logs for the morning report.",
    prompt="Summarise last night's errors for the mailer service.",
    tools=[tool("search_logs", "Search a service's logs.",
                ok("02:14:07 ERROR smtp relay refused connection: 421 too many connections\n"
                   "02:14:09 ERROR retry 1/3 failed: connection refused\n"
                   "02:14:15 INFO retry 2/3 delivered"), service="string", level="string")],
    turns=[Call(("search_logs", {"service": "mailer", "level": "ERROR"})),
           Say("Overnight the SMTP relay refused connections around 02:14 (421 too many "
               "connections); the mailer's retry delivered on the second attempt.")],
    category=None, root=None,
    why="did not fail: the error words are data inside a tool output that the agent was asked "
        "to summarise",
))


# ---- research-within-token-budget
add(Scenario(
    key="research-within-token-budget", domain="research", agent="due-diligence",
    instructions="Prepare due-diligence notes from the data room.",
    prompt="List the key terms of the Harbor Robotics lease.",
    tools=[tool("open_document", "Open a data-room document.",
                ok(lines("Harbor Robotics lease term rent escalation break clause", 30)),
                doc_id="string")],
    turns=[Call(("open_document", {"doc_id": "DR-014"})),
           Say("Ten-year lease, 3% annual escalation, break option after year five.")],
    budget={"max_total_tokens": 3500},
    category=None, root=None,
    why="did not fail: came close to its token budget and stayed within it",
))


# ---- finance-within-cost-budget
add(Scenario(
    key="finance-within-cost-budget", domain="finance", agent="audit-sampler",
    instructions="Sample ledger entries and flag anomalies.",
    prompt="Sample 2025 Q3 entries over 50k EUR.",
    tools=[tool("export_ledger", "Export ledger entries matching a filter.",
                ok(lines("2025-08-21 JE-71120 EUR 54,100.00 vendor Brightline", 150)),
                filter="string")],
    turns=[Call(("export_ledger", {"filter": "quarter=2025Q3 amount>50000"})),
           Say("One entry over 50k: JE-71120 (Brightline, 54,100 EUR); nothing unusual.")],
    budget={"max_cost_usd": 0.015},
    category=None, root=None,
    why="did not fail: the cost stayed under the declared budget",
))


# ---- retail-billing-handoff-resolved
add(Scenario(
    key="retail-billing-handoff-resolved", domain="retail", agent="front-desk",
    instructions="Route the customer to the right desk.",
    prompt="Can I get a copy of my February invoice?",
    tools=[tool("send_invoice_copy", "Email a copy of an invoice.", ok({"sent": True}),
                month="string")],
    handoffs={"front-desk": ("Route customers: billing questions go to billing-desk.",
                             ["billing-desk"]),
              "billing-desk": ("You handle invoices.", [])},
    turns=[Call(("transfer_to_billing_desk", {})),
           Call(("send_invoice_copy", {"month": "2026-02"})),
           Say("I've emailed you a copy of your February invoice.")],
    category=None, root=None,
    why="did not fail: one handoff to the right desk, which did the job",
    routes=AGENTS_ROUTES,
))


# ---- support-error-code-explained
add(Scenario(
    key="support-error-code-explained", domain="retail", agent="device-support",
    instructions="Explain device error codes from the manual.",
    prompt="My dishwasher shows error E24 and won't drain. What does it mean?",
    tools=[tool("search_manual", "Search the appliance manual.",
                ok({"documents": [{"title": "Error codes", "text": "E24: drain error - the "
                                   "drain hose is kinked or the filter is blocked."}]}),
                query="string")],
    turns=[Call(("search_manual", {"query": "error E24 drain"})),
           Say("E24 is a drain error: check that the drain hose isn't kinked and clean the "
               "filter.")],
    category=None, root=None,
    why="did not fail: 'error' is the subject of the question; the manual answered it",
))


# ---- coding-flaky-test-rerun-passes
add(Scenario(
    key="coding-flaky-test-rerun-passes", domain="coding", agent="ci-doctor",
    instructions="Re-run flaky tests and report.",
    prompt="Re-run test_checkout_total and tell me if it's really broken.",
    tools=[tool("run_test", "Run one test.",
                fail("TestRunnerError", "runner lost connection to the build agent"),
                ok("1 passed in 0.84s"), name="string")],
    turns=[Call(("run_test", {"name": "test_checkout_total"})),
           Call(("run_test", {"name": "test_checkout_total"})),
           Say("It passes on a clean run (the first attempt lost its build agent); the test "
               "isn't broken.")],
    category=None, root=None,
    why="did not fail: the runner error was recovered by the same call succeeding",
))
