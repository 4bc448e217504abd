"""Batch "blind-3", tuning split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Kept for the session's last measurement, after
every rule change. Their own seeded third is in holdout/ (`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    AGENTS_ROUTES,
    DEFAULT_ROUTES,
    SubAgent,
    batch_adder,
    fail,
    hangs,
    lines,
    llm,
    ok,
    tool,
    tool_call,
)
from ..servers import Call, Say

BATCH = "blind-3"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- permits-terrace-licence-filed-over-503
add(key="permits-terrace-licence-filed-over-503", domain="city permits", agent="ventanilla-municipal",
    instructions="Ayudas a los comercios a tramitar licencias municipales a través del registro electrónico del ayuntamiento.",
    prompt="Quiero solicitar la licencia de terraza para mi bar en la calle Alcalá 212, 6 mesas, de marzo a octubre. ¿Puedes presentarla?",
    tools=[tool("registrar_solicitud", "Presenta una solicitud en el registro electrónico municipal.",
                fail("ServiceUnavailable", "503 Service Unavailable: sede electrónica en mantenimiento, inténtelo más tarde"),
                tipo="string", direccion="string", mesas="integer")],
    turns=[Call(("registrar_solicitud", {"tipo": "terraza", "direccion": "Calle Alcalá 212", "mesas": 6})),
           Say("¡Hecho! Tu solicitud de licencia de terraza para 6 mesas en Calle Alcalá 212 ha quedado registrada. Recibirás la resolución en un plazo de 30 días hábiles.")],
    category="planning", root=llm(2),
    why="rule 4: the only filing call failed (503) and was never redone, yet the answer says the application is registered; root status OK; root table: false success claim -> the LLM call that produced the answer",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- energy-refund-amount-not-in-ticket
add(key="energy-refund-amount-not-in-ticket", domain="energy utilities", agent="klantenservice-energie",
    instructions="Je beantwoordt vragen van klanten van een energieleverancier met gegevens uit het klachtensysteem.",
    prompt="Mijn slimme meter heeft in oktober dubbel geteld. Klacht KL-55821. Hoeveel krijg ik terug en wanneer?",
    tools=[tool("klacht_opvragen", "Haalt de status van een klacht op.",
                ok({"klacht": "KL-55821", "status": "in behandeling", "meter_onderzoek": "ingepland 2026-12-18", "terugbetaling": None}),
                klacht_id="string")],
    turns=[Call(("klacht_opvragen", {"klacht_id": "KL-55821"})),
           Say("Uw klacht KL-55821 is goedgekeurd: u krijgt EUR 118,35 terug, dat bedrag staat binnen 5 werkdagen op uw rekening.")],
    category="planning", root=llm(2),
    why="'Did the run fail?' / rule 4: the answer states an approval and a refund amount that no tool returned (complaint still in progress, refund null); root table: false success claim -> the LLM call that produced the answer")


# ---- seedbank-accessions-found-but-italian-refusal
add(key="seedbank-accessions-found-but-italian-refusal", domain="botanical seed bank", agent="archivio-semi",
    instructions="Aiuti i ricercatori a trovare accessioni nella banca dei semi dell'orto botanico.",
    prompt="Mi servono le accessioni di Triticum monococcum raccolte in Sicilia prima del 1990, con la loro vitalità.",
    tools=[tool("cerca_accessioni", "Cerca accessioni per specie, regione e anno di raccolta.",
                ok({"risultati": [{"codice": "OBP-TM-0112", "anno": 1978, "localita": "Enna", "vitalita_pct": 81},
                                  {"codice": "OBP-TM-0147", "anno": 1985, "localita": "Caltanissetta", "vitalita_pct": 74}]}),
                specie="string", regione="string", prima_del="integer")],
    turns=[Call(("cerca_accessioni", {"specie": "Triticum monococcum", "regione": "Sicilia", "prima_del": 1990})),
           Say("Mi dispiace, purtroppo non sono in grado di recuperare queste informazioni dalla banca dei semi. Le consiglio di contattare direttamente il curatore.")],
    category="planning", root=llm(2),
    why="rule 4: gives up (in Italian) although the search worked and returned two matching accessions; no tool error in the trace; root table: giving up -> the LLM call that produced that answer")


# ---- vineyard-spray-legality-from-weather
add(key="vineyard-spray-legality-from-weather", domain="agriculture", agent="agronomy-helper",
    instructions="You advise growers on crop protection. Registration questions are answered from the pesticide registry.",
    prompt="Is the fungicide Vintrex 250 SC registered for use on grapevines in our region, and may I spray it this week?",
    tools=[tool("weather_forecast", "Seven-day weather forecast for a farm's coordinates.",
                ok({"days": [{"date": "2026-12-08", "rain_mm": 0, "wind_kmh": 9}, {"date": "2026-12-09", "rain_mm": 2, "wind_kmh": 14}]}),
                lat="number", lon="number"),
           tool("pesticide_registry", "Registration status of a plant protection product for a crop.",
                ok({"product": "Vintrex 250 SC", "crop": "grapevine", "registered": False, "withdrawn": "2025-06-30"}),
                product="string", crop="string")],
    turns=[Call(("weather_forecast", {"lat": 44.8, "lon": -0.57})),
           Say("Yes, Vintrex 250 SC is fine on grapevines, and Tuesday looks ideal for spraying: dry with light wind.")],
    category="planning", root=tool_call("weather_forecast", 1),
    why="rule 4: to answer a registration question the agent picked the weather tool, which cannot say whether a product is registered (the registry tool was available and would have said withdrawn); root table: wrong tool for the job -> the first call of the unsuitable tool")


# ---- gaming-ban-appeal-desks-bounce
add(key="gaming-ban-appeal-desks-bounce", domain="gaming support", agent="account-desk",
    instructions="Route players to the desk that owns their problem.",
    prompt="I got banned after a ranked match yesterday and now I also can't log into my account at all.",
    tools=[],
    handoffs={"account-desk": ("Login problems are yours, but bans belong to anti-cheat-desk.", ["anti-cheat-desk"]),
              "anti-cheat-desk": ("You review bans. Players who cannot log in go back to account-desk.", ["account-desk"])},
    turns=[Call(("transfer_to_anti_cheat_desk", {})), Call(("transfer_to_account_desk", {}))] * 6,
    budget={"max_turns": 8},
    category="planning", root={"kind": "handoff", "ordinal": 1},
    why="rule 1: two desks hand the player back and forth (A B A B ...) until the turn limit; the limit is a symptom of the oscillation; root table: ping-pong between agents -> the first handoff of the alternation",
    routes=AGENTS_ROUTES)


# ---- trial-randomisation-service-down-reported
add(key="trial-randomisation-service-down-reported", domain="clinical trials", agent="studienzentrum-assistent",
    instructions="Du randomisierst eingeschlossene Teilnehmende über das zentrale IWRS-System und meldest den Studienarm.",
    prompt="Bitte Teilnehmerin 04-117 in der Studie CARDIO-3 randomisieren, Einschlusskriterien sind erfüllt.",
    tools=[tool("iwrs_randomisieren", "Randomisiert eine Person über das IWRS und liefert den Studienarm.",
                fail("UpstreamError", "502 Bad Gateway: IWRS backend unreachable"),
                studie="string", teilnehmer="string")],
    turns=[Call(("iwrs_randomisieren", {"studie": "CARDIO-3", "teilnehmer": "04-117"})),
           Call(("iwrs_randomisieren", {"studie": "CARDIO-3", "teilnehmer": "04-117"})),
           Say("Die Randomisierung von 04-117 ist nicht gelungen: das IWRS-System antwortet zweimal mit 502. Bitte die Notfall-Randomisierung über die Studienzentrale anstoßen.")],
    category="tool", root=tool_call("iwrs_randomisieren", 1),
    why="rule 3: the randomisation tool failed, one identical retry failed too, and the answer honestly reports the task could not be done because of it; root table: unrecovered tool error -> the first failing tool call",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- sports-training-load-minutes-as-words
add(key="sports-training-load-minutes-as-words", domain="sports analytics", agent="performance-lab",
    instructions="You log training sessions for the squad's load monitoring.",
    prompt="Log yesterday's session for athlete 23: ninety minutes of high-intensity intervals, RPE 8.",
    tools=[tool("log_session", "Record a training session (minutes and RPE are integers).",
                ok({"logged": True}),
                athlete_id="integer", minutes="integer", rpe="integer")],
    turns=[Call(("log_session", {"athlete_id": 23, "minutes": "ninety", "rpe": 8})),
           Say("I couldn't log the session: the load-monitoring system rejected the entry. Please enter it manually in the dashboard.")],
    category="tool", root={**tool_call("log_session", 1), "else": llm(1)},
    why="rule 3: the call's arguments were rejected by the tool's schema (minutes is an integer, the model sent 'ninety'), never corrected; the answer reports it could not log; root table: schema rejection -> the rejected tool call, else (no span) the LLM call that asked for it")


# ---- customs-clearance-portal-times-out
add(key="customs-clearance-portal-times-out", domain="shipping customs", agent="brokerage-bot",
    instructions="You tell importers whether their container has cleared customs.",
    prompt="Has container MSKU 448120-3 cleared customs at Felixstowe? The haulier is booked for 14:00.",
    tools=[tool("clearance_status", "Customs clearance status of a container from the port community system.",
                hangs("port community system"), container="string", port="string")],
    turns=[Call(("clearance_status", {"container": "MSKU4481203", "port": "GBFXT"})),
           Call(("clearance_status", {"container": "MSKU4481203", "port": "GBFXT"})),
           Say("I can't tell you yet: the port community system did not answer either time I asked. I'd hold the haulier until we can confirm clearance.")],
    category="tool", root=tool_call("clearance_status", 1),
    why="rule 3: the tool's own timeout fired on the call and on one identical retry; the answer honestly reports it could not find out; a single tool's timeout is tool; root table: timeout -> the first failing tool call")


# ---- vet-guideline-search-off-topic-answered
add(key="vet-guideline-search-off-topic-answered", domain="veterinary", agent="clinic-assistant",
    instructions="You answer the clinic's staff from the practice's guideline library.",
    prompt="What does our protocol say about booster timing for FeLV vaccination in indoor adult cats?",
    tools=[tool("search_guidelines", "Search the practice's clinical guideline library.",
                ok({"hits": [{"title": "Equine dental floating: sedation protocol", "score": 0.21},
                             {"title": "Cattle foot-trimming schedule", "score": 0.18}]}),
                query="string")],
    turns=[Call(("search_guidelines", {"query": "FeLV booster interval indoor adult cat"})),
           Say("Per our protocol, indoor adult cats get a FeLV booster every 3 years after the initial series.")],
    category="context", root=tool_call("search_guidelines", 1),
    why="rule 5: the retrieval returned nothing relevant (horse dentistry, cattle feet) and the agent answered anyway; root table: irrelevant retrieval answered anyway -> the retrieval call",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- sports-newsletter-portuguese-lost-in-trim
add(key="sports-newsletter-portuguese-lost-in-trim", domain="sports analytics", agent="match-report-writer",
    instructions="You write short match-statistics blurbs for club newsletters.",
    prompt="Write the stats blurb for Saturday's match, fixture 8841. Reply in Portuguese only: it goes straight into our Lisbon supporters' newsletter.",
    tools=[tool("match_stats", "Team statistics of a fixture.",
                ok({"fixture": 8841, "possession": [58, 42], "shots": [17, 6], "xg": [2.3, 0.7], "score": "3-1"}),
                fixture="integer"),
           tool("player_ratings", "Player ratings of a fixture.",
                ok({"fixture": 8841, "best": {"name": "Duarte", "rating": 8.6}}),
                fixture="integer")],
    turns=[Call(("match_stats", {"fixture": 8841})),
           Call(("player_ratings", {"fixture": 8841})),
           Say("A dominant 3-1 win: 58% possession, 17 shots to 6 and 2.3 xG. Man of the match: Duarte (8.6).")],
    trim_to=3,
    category="context", root=llm(3),
    why="rule 5: the app keeps only the last 3 history items; the user's instruction to reply in Portuguese is dropped from the third model call's input and the final answer is in English; no trimming span exists, so the root is the first LLM call whose input lost the instruction")


# ---- aviation-task-card-summary-cut-off
add(key="aviation-task-card-summary-cut-off", domain="aviation maintenance", agent="hangar-planner",
    instructions="You turn maintenance manual chapters into step-by-step task cards for technicians.",
    prompt="Make a task card for the A-check brake wear inspection, main landing gear, from AMM chapter 32-42.",
    model="gpt-4",
    tools=[tool("amm_chapter", "Text of one chapter of the aircraft maintenance manual.",
                ok(lines("torque wear pin measurement brake assembly inspect record limit", 380)),
                chapter="string")],
    turns=[Call(("amm_chapter", {"chapter": "32-42"})),
           Say(" ".join(f"Step {i}: inspect the brake wear pin on wheel position {i % 4 + 1}, measure the protrusion with the gauge, compare with the minimum limit in the table, record the value on the card and sign." for i in range(1, 60)))],
    category="context", root=llm(2),
    why="rule 5: the chapter leaves little room in the 8,192-token window and the task card stops at the length limit mid-step; root table: output cut near the window -> the LLM call whose output stopped at the length limit")


# ---- forestry-plot-survey-cost-cap
add(key="forestry-plot-survey-cost-cap", domain="forestry", agent="timber-inventory",
    instructions="You estimate standing timber volume from plot survey exports.",
    prompt="Estimate the standing volume for compartments 14A and 14B from this autumn's plot surveys.",
    tools=[tool("plot_survey", "Raw tree-level records of one compartment's survey plots.",
                ok(lines("plot tree species dbh height crown class", 430)),
                compartment="string"),
           tool("volume_tables", "Species volume tables for the region.",
                ok(lines("species dbh class height class volume m3", 430)),
                region="string")],
    turns=[Call(("plot_survey", {"compartment": "14A"})),
           Call(("volume_tables", {"region": "north-east"})),
           Call(("plot_survey", {"compartment": "14B"})),
           Say("Standing volume: 14A about 3,120 m3, 14B about 2,870 m3.")],
    budget={"max_cost_usd": 0.05},
    category="budget", root=llm(3),
    why="rule 6: a cost limit of USD 0.05 set by the owners; each call makes new progress (another data set), and the running cost first exceeds the limit after the third model call (the guard aborts with LiteLLM's BudgetExceededError); root table: cost budget -> the LLM call after which the running total first exceeds it",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- transit-route-planners-over-limit-undeclared
add(key="transit-route-planners-over-limit-undeclared", domain="public transport", agent="network-planner",
    instructions="You redesign bus timetables by delegating each line to a route-planning agent.",
    prompt="Rework the weekday timetables of lines 12, 31 and 47 around the new tram interchange.",
    tools=[tool("plan_line", "Start a route-planning agent for one bus line.",
                agent=SubAgent("line-planner", "You draft a weekday timetable for one bus line.",
                               [Say("Draft timetable ready: 10-minute headway 07:00-19:00, 20-minute otherwise.")]),
                line="string")],
    turns=[Call(("plan_line", {"line": "12"})),
           Call(("plan_line", {"line": "31"})),
           Call(("plan_line", {"line": "47"})),
           Say("All three timetables are drafted.")],
    budget={"max_subagents": 2}, declare_budget=False,
    category="budget", root=tool_call("plan_line", 3),
    why="rule 6: the owners allow at most 2 sub-agents per request (visible only in the error text); the third delegation is refused with SubagentLimitExceeded and the run aborts; root table: too many sub-agents -> the call that tried to start the sub-agent over the limit")


# ---- admissions-transcript-check-past-run-deadline
add(key="admissions-transcript-check-past-run-deadline", domain="university admissions", agent="admissions-reviewer",
    instructions="You verify an applicant's transcript and then check their language certificate.",
    prompt="Verify applicant APP-2027-0561: transcript from Universidad de Chile, then the IELTS certificate.",
    tools=[tool("verify_transcript", "Verify a transcript with the issuing university's registry.",
                ok({"applicant": "APP-2027-0561", "verified": True, "gpa": 6.1}, seconds=18.0),
                applicant_id="string"),
           tool("verify_language_certificate", "Verify a language certificate with the test provider.",
                ok({"applicant": "APP-2027-0561", "ielts": 7.5}),
                applicant_id="string")],
    turns=[Call(("verify_transcript", {"applicant_id": "APP-2027-0561"})),
           Call(("verify_language_certificate", {"applicant_id": "APP-2027-0561"})),
           Say("Both documents verified.")],
    budget={"deadline_s": 15}, declare_budget=False,
    category="budget", root=tool_call("verify_language_certificate", 1),
    why="rule 6: the whole review must finish within 15 s (set by the owners, seen only in the error text); the transcript check succeeded but took 18 s, and the next step is refused with RunDeadlineExceeded; an overall run deadline is budget; root table: run deadline -> the step carrying the deadline error")


# ---- telecom-noc-alarm-digest
add(key="telecom-noc-alarm-digest", domain="telecom", agent="noc-shift-assistant",
    instructions="You write the shift handover digest of the network operations centre.",
    prompt="Write the handover digest of last night's alarms for the core network.",
    tools=[tool("alarm_log", "Alarms raised on a network segment in a time window.",
                ok({"alarms": ["02:14 CRITICAL link down ams-core-2 <-> fra-core-1, restored 02:31",
                               "03:05 ERROR BGP session failed with AS64512, re-established 03:07",
                               "04:40 WARNING optical power low on lon-edge-7 (-21.4 dBm)"]}),
                segment="string", since="string")],
    turns=[Call(("alarm_log", {"segment": "core", "since": "last-night"})),
           Say("Night digest: one critical link outage ams-core-2 to fra-core-1 (17 min, restored), a BGP flap with AS64512 (2 min, re-established), and low optical power on lon-edge-7 to watch today.")],
    category=None, root=None,
    why="'did not fail': 'CRITICAL', 'link down', 'ERROR', 'failed' are data inside a successful tool output that the agent was asked to summarise; the digest does it")


# ---- agriculture-yield-reports-near-cost-cap
add(key="agriculture-yield-reports-near-cost-cap", domain="agriculture", agent="harvest-analyst",
    instructions="You compare this season's yields across the cooperative's farms.",
    prompt="Compare this season's wheat yields between the northern and southern member farms.",
    tools=[tool("yield_records", "Field-level yield records of one group of farms.",
                ok(lines("field hectares tonnes moisture protein variety", 360)),
                group="string")],
    turns=[Call(("yield_records", {"group": "north"})),
           Call(("yield_records", {"group": "south"})),
           Say("Northern farms averaged 7.9 t/ha against 7.1 t/ha in the south, mostly from higher-protein varieties on the northern clay.")],
    budget={"max_cost_usd": 0.08},
    category=None, root=None,
    why="'did not fail': a declared cost limit of USD 0.08; the run came close (about USD 0.07, near nine tenths of it) but stayed within it and answered")


# ---- trial-site-feasibility-under-subagent-cap
add(key="trial-site-feasibility-under-subagent-cap", domain="clinical trials", agent="feasibility-lead",
    instructions="You assess candidate trial sites by delegating each site to a feasibility agent.",
    prompt="Assess Porto and Coimbra as sites for the ONCO-12 trial.",
    tools=[tool("assess_site", "Start a feasibility agent for one candidate site.",
                agent=SubAgent("site-assessor", "You assess one trial site's recruitment capacity.",
                               [Say("Site can recruit about 4 patients per month; oncology pharmacy on site.")]),
                site="string")],
    turns=[Call(("assess_site", {"site": "Porto"})),
           Call(("assess_site", {"site": "Coimbra"})),
           Say("Both sites are feasible: Porto and Coimbra can each recruit about 4 patients a month.")],
    budget={"max_subagents": 3},
    category=None, root=None,
    why="'did not fail': an orchestrator ran 2 sub-agents under its declared limit of 3 and answered",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- customs-hs-code-refined-search
add(key="customs-hs-code-refined-search", domain="shipping customs", agent="classification-helper",
    instructions="You classify goods under the Harmonized System for customs declarations.",
    prompt="What HS code should I declare for insulated stainless-steel vacuum flasks, 500 ml?",
    tools=[tool("hs_search", "Search the HS nomenclature by description.",
                ok({"matches": []}),
                ok({"matches": [{"code": "9617.00", "text": "Vacuum flasks and other vacuum vessels, complete"}]}),
                query="string")],
    turns=[Call(("hs_search", {"query": "insulated stainless steel vacuum flask 500 ml"})),
           Call(("hs_search", {"query": "vacuum flask"})),
           Say("Declare them under HS 9617.00: vacuum flasks and other vacuum vessels, complete.")],
    category=None, root=None,
    why="'did not fail': the first search found nothing, the agent broadened the query and the second found the heading; the answer is what the tool returned")


# ---- gaming-refund-single-handoff
add(key="gaming-refund-single-handoff", domain="gaming support", agent="player-support",
    instructions="Welcome players and send refund requests to the refunds desk.",
    prompt="I bought the Winter Pass twice by mistake yesterday, can I get one refunded?",
    tools=[tool("lookup_purchases", "A player's recent store purchases.",
                ok({"purchases": [{"id": "P-7781", "item": "Winter Pass", "date": "2026-12-06"}, {"id": "P-7782", "item": "Winter Pass", "date": "2026-12-06"}]}),
                player="string"),
           tool("refund_purchase", "Refund one store purchase.",
                ok({"refunded": "P-7782", "amount": "9.99 USD"}), purchase_id="string")],
    handoffs={"player-support": ("Send refund requests to refunds-desk.", ["refunds-desk"]),
              "refunds-desk": ("You refund duplicate purchases after checking them.", [])},
    turns=[Call(("transfer_to_refunds_desk", {})),
           Call(("lookup_purchases", {"player": "me"})),
           Call(("refund_purchase", {"purchase_id": "P-7782"})),
           Say("Done: the duplicate Winter Pass (P-7782) has been refunded, 9.99 USD back to your payment method.")],
    category=None, root=None,
    why="'did not fail': one handoff to the desk that owns refunds (no alternation), both tools succeeded and the answer reports what they returned",
    routes=AGENTS_ROUTES)
