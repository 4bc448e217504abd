"""Scenarios of the holdout split. Whoever tunes the classifier's rules does not open this folder:
its figures are only meaningful while the rules never saw it."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    DEFAULT_ROUTES,
    Scenario,
    SubAgent,
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

SCENARIOS = []
add = SCENARIOS.append


# ---- finance-portfolio-total-invented
add(Scenario(
    key="finance-portfolio-total-invented", domain="finance", agent="wealth-assistant",
    instructions="Answer questions about the client's brokerage account using the positions "
                 "tool. Only quote numbers the tools give you.",
    prompt="What's my account worth right now, all positions together?",
    tools=[tool("list_positions", "List the positions held in the account, quantity per ticker.",
                ok({"account": "BRK-7731", "positions": [
                    {"ticker": "VTI", "quantity": 310}, {"ticker": "BND", "quantity": 145},
                    {"ticker": "AAPL", "quantity": 40}], "prices": "not included"}),
                account_id="string"),
           tool("get_quote", "Latest price of one ticker.", ok({"price": 0}), ticker="string")],
    turns=[Call(("list_positions", {"account_id": "BRK-7731"})),
           Say("Your account BRK-7731 is currently worth $118,452.60 across VTI, BND and AAPL.")],
    category="planning", root=llm(2),
    why="rule 4 / 'did the run fail': the answer states a figure no tool returned (no prices "
        "were fetched); root table: false success claim -> the LLM call that produced it",
))


# ---- travel-flight-search-loop
add(Scenario(
    key="travel-flight-search-loop", domain="travel", agent="flight-finder",
    instructions="Find flights for the user and book the cheapest direct one.",
    prompt="Book me the cheapest direct flight Lisbon to Tokyo on 14 March.",
    tools=[tool("search_flights", "Search flights between two airports on a date.",
                ok({"flights": [{"no": "TP 2301", "stops": 1, "eur": 912}],
                    "direct": 0}), origin="string", destination="string", date="string"),
           tool("book_flight", "Book a flight by number.", ok("booked"), flight_no="string")],
    turns=[Call(("search_flights", {"origin": "LIS", "destination": "NRT",
                                    "date": "2026-03-14"}))] * 8,
    budget={"max_turns": 5}, declare_budget=False,
    category="planning", root=tool_call("search_flights", 1),
    why="rule 1: the same call with the same arguments and the same result again and again is a "
        "loop, planning even though the run then hits its turn limit; root table: loop -> the "
        "first call of the repeated call",
))


# ---- finance-rate-and-convert-ping-pong
add(Scenario(
    key="finance-rate-and-convert-ping-pong", domain="finance", agent="fx-desk",
    instructions="Quote conversions for corporate clients.",
    prompt="Quote 50,000 USD into CHF for settlement on Friday.",
    tools=[tool("get_fx_rate", "Today's mid rate between two currencies.",
                ok({"pair": "USD/CHF", "mid": 0.8812}), pair="string"),
           tool("convert_amount", "Convert an amount at a given rate.",
                ok({"amount_chf": 44060.0}), amount="number", rate="number")],
    turns=[Call(("get_fx_rate", {"pair": "USD/CHF"})),
           Call(("convert_amount", {"amount": 50000, "rate": 0.8812})),
           Call(("get_fx_rate", {"pair": "USD/CHF"})),
           Call(("convert_amount", {"amount": 50000, "rate": 0.8812})),
           Call(("get_fx_rate", {"pair": "USD/CHF"})),
           Call(("convert_amount", {"amount": 50000, "rate": 0.8812})),
           Call(("get_fx_rate", {"pair": "USD/CHF"}))],
    budget={"max_turns": 6},
    category="planning", root=tool_call("get_fx_rate", 1),
    why="rule 1: two tools alternating A B A B A B with the same results, then the turn limit; "
        "ping-pong is planning; root table: ping-pong -> the first call of the alternation",
))


# ---- support-recovered-lookup-then-gave-up
add(Scenario(
    key="support-recovered-lookup-then-gave-up", domain="retail", agent="warranty-helper",
    instructions="Check warranty coverage for customers' devices.",
    prompt="Is my Aero X2 headset (serial AX2-99817) still under warranty?",
    tools=[tool("lookup_device", "Look a device up by serial number.",
                fail("ServiceUnavailable", "503 from device-registry: upstream restarting"),
                ok({"serial": "AX2-99817", "purchased": "2025-08-02", "warranty_months": 24}),
                serial="string")],
    turns=[Call(("lookup_device", {"serial": "AX2-99817"})),
           Call(("lookup_device", {"serial": "AX2-99817"})),
           Say("I'm not able to determine the warranty status for this headset, sorry.")],
    category="planning", root=llm(3),
    why="rule 2 then rule 4: the 503 was recovered (the same call succeeded next), so it does "
        "not count; the agent then gives up although the tool answered; root table: giving up "
        "-> the LLM call that produced that answer",
))


# ---- retail-order-service-down-reported
add(Scenario(
    key="retail-order-service-down-reported", domain="retail", agent="order-tracker",
    instructions="Tell customers where their parcels are.",
    prompt="Where's my order 55-1187? It was due yesterday.",
    tools=[tool("track_order", "Carrier tracking for an order.",
                fail("HTTPError", "502 Bad Gateway from carrier-gateway.internal"),
                order_id="string")],
    turns=[Call(("track_order", {"order_id": "55-1187"})),
           Say("I'm sorry, I can't reach the carrier's tracking system right now, so I can't "
               "tell you where order 55-1187 is. Please try again in a little while.")],
    category="tool", root=tool_call("track_order", 1),
    why="rule 3: the final answer honestly reports the task could not be done because a tool "
        "failed; root table: unrecovered tool error -> the first failing tool call",
    routes=DEFAULT_ROUTES + ("langfuse",),
))


# ---- ops-nonexistent-rollback-tool
add(Scenario(
    key="ops-nonexistent-rollback-tool", domain="ops", agent="release-bot",
    instructions="Manage releases of the payments service.",
    prompt="Roll payments-svc back to v2.14.3 in staging.",
    tools=[tool("list_releases", "Releases of a service.", ok({"releases": ["v2.14.3",
                                                                          "v2.15.0"]}),
                service="string"),
           tool("deploy_release", "Deploy a release of a service to an environment.",
                ok("deployed"), service="string", version="string", environment="string")],
    turns=[Call(("rollback_service", {"service": "payments-svc", "to": "v2.14.3"})),
           Say("I couldn't roll back payments-svc: the rollback tool isn't available to me.")],
    category="tool", root=llm(1),
    why="rule 3: a call to a tool that does not exist is a tool failure even though the model "
        "emitted it; root table: unknown tool where the framework emits no tool span -> the "
        "LLM call that asked for it",
))


# ---- retail-quantity-rejected-by-schema
add(Scenario(
    key="retail-quantity-rejected-by-schema", domain="retail", agent="bulk-orders",
    instructions="Place bulk orders for office supplies.",
    prompt="Order two boxes of A4 paper for the Leeds office.",
    tools=[tool("place_order", "Order a number of units of a SKU for an office.",
                ok({"order": "PO-5521"}), sku="string", quantity="integer", office="string")],
    turns=[Call(("place_order", {"sku": "A4-80G-BOX", "quantity": "two boxes",
                                 "office": "Leeds"})),
           Say("The order system refused the request, so no paper was ordered for Leeds.")],
    category="tool", root={"kind": "tool", "name": "place_order", "ordinal": 1, "else": llm(1)},
    why="rule 3: arguments rejected by the tool's schema are a tool failure, honestly reported; "
        "root table: schema rejection -> the rejected tool call, or the LLM call that asked for "
        "it where the framework emits no tool span",
))


# ---- research-full-text-floods-window
add(Scenario(
    key="research-full-text-floods-window", domain="research", agent="paper-reader",
    model="gpt-3.5-turbo",
    instructions="Answer questions about papers by reading them.",
    prompt="In the CRISPR off-target paper (doi 10.5555/crispr.2291), which cell lines were used?",
    tools=[tool("download_fulltext", "Download the full text of a paper by DOI.",
                ok(lines("Methods and supplementary tables cell line HEK293T guide RNA", 1000)),
                doi="string")],
    turns=[Call(("download_fulltext", {"doi": "10.5555/crispr.2291"})),
           Say("They used HEK293T and K562 cells.")],
    category="context", root=tool_call("download_fulltext", 1),
    why="rule 5: a single tool output (the whole paper) floods the window and the next call "
        "fails on context length; root table: one huge tool output -> that tool call",
))


# ---- retail-policy-search-empty-answered-anyway
add(Scenario(
    key="retail-policy-search-empty-answered-anyway", domain="retail", agent="policy-qa",
    instructions="Answer questions about store policy from the knowledge base.",
    prompt="Can I return an opened video game for a refund?",
    tools=[tool("search_kb", "Search the policy knowledge base.", ok({"documents": []}),
                query="string")],
    turns=[Call(("search_kb", {"query": "return opened video game refund"})),
           Say("Yes, opened video games can be returned within 30 days for a full refund as long "
               "as you have the receipt.")],
    category="context", root=tool_call("search_kb", 1),
    why="rule 5: the retrieval returned nothing and the agent answered anyway; root table: "
        "irrelevant retrieval answered anyway -> the retrieval call",
))


# ---- support-french-instruction-trimmed
add(Scenario(
    key="support-french-instruction-trimmed", domain="retail", agent="parcel-support",
    instructions="You are a parcel-delivery support agent.",
    prompt="Répondez uniquement en français, s'il vous plaît. Mon colis FR-88213 est bloqué "
           "depuis lundi, et le colis FR-88214 aussi. Que se passe-t-il ?",
    tools=[tool("parcel_status", "Delivery status of a parcel.",
                ok({"parcel": "FR-88213", "status": "held at customs", "since": "Monday"}),
                ok({"parcel": "FR-88214", "status": "held at customs", "since": "Monday"}),
                parcel_id="string")],
    turns=[Call(("parcel_status", {"parcel_id": "FR-88213"})),
           Call(("parcel_status", {"parcel_id": "FR-88214"})),
           Say("Both parcels FR-88213 and FR-88214 are held at customs since Monday; customs "
               "usually releases parcels within 3 working days.")],
    trim_to=3,
    category="context", root=llm(3),
    why="rule 5: the user's instruction to answer in French was lost when the history was "
        "trimmed to the last messages, and the answer ignores it; root table: instruction "
        "dropped by trimming -> no trimming step is traced, so the first LLM call whose input "
        "lost the instruction",
))


# ---- research-reading-list-turn-limit
add(Scenario(
    key="research-reading-list-turn-limit", domain="research", agent="survey-builder",
    instructions="Build an annotated reading list. Read each candidate paper's abstract.",
    prompt="Annotate the ten most cited papers on federated learning privacy.",
    tools=[tool("fetch_abstract", "Abstract of a paper by arXiv id.",
                *[ok(f"Abstract of paper {i}: differential privacy bound number {i}...")
                  for i in range(10)], arxiv_id="string")],
    turns=[Call(("fetch_abstract", {"arxiv_id": f"1{i}02.0{i}631"})) for i in range(10)],
    budget={"max_turns": 4}, declare_budget=False,
    category="budget", root=limit(),
    why="rule 6 not rule 1: every turn read a different paper (distinct progress) and the run "
        "still hit its turn limit; root table: turn limit -> the deepest step carrying the limit "
        "error, else the last LLM call before it",
))


# ---- coding-migration-steps-limit-declared
add(Scenario(
    key="coding-migration-steps-limit-declared", domain="coding", agent="migration-runner",
    instructions="Apply the database migrations one by one and verify each.",
    prompt="Apply migrations 0041 to 0047 on the staging database.",
    tools=[tool("apply_migration", "Apply one migration.", *[ok(f"migration 00{41 + i} applied")
                                                             for i in range(7)],
                migration="string")],
    turns=[Call(("apply_migration", {"migration": f"00{41 + i}"})) for i in range(7)],
    budget={"max_turns": 5},
    category="budget", root=limit(),
    why="rule 6: distinct progress every turn (a different migration each time), then the turn "
        "limit the owners set (declared in the trace); root table: turn limit -> the deepest "
        "step carrying the limit error, else the last LLM call",
))


# ---- travel-cost-budget-error-text-only
add(Scenario(
    key="travel-cost-budget-error-text-only", domain="travel", agent="itinerary-writer",
    instructions="Write day-by-day itineraries from the destination guides.",
    prompt="Plan 5 days in Sicily for a family with two kids, with beach time.",
    tools=[tool("get_guide", "A destination guide.",
                ok(lines("Sicily guide Palermo Cefalu Taormina beaches family", 150)),
                ok(lines("Sicily guide Syracuse Noto Marzamemi beaches family", 150)),
                region="string")],
    turns=[Call(("get_guide", {"region": "north-east Sicily"})),
           Call(("get_guide", {"region": "south-east Sicily"})),
           Say("Day 1: Cefalu beach. Day 2: Taormina...")],
    budget={"max_cost_usd": 0.015}, declare_budget=False,
    category="budget", root=llm(3),
    why="rule 6: a cost budget of the owners, visible only in the BudgetExceededError text, is "
        "crossed; root table: cost budget -> the LLM call after which the total first exceeds it",
))


# ---- coding-config-question-answered
add(Scenario(
    key="coding-config-question-answered", domain="coding", agent="repo-helper",
    instructions="Answer questions about the repository; read files before answering.",
    prompt="What port does the dev server listen on?",
    tools=[tool("read_file", "Read a file of the repository.",
                ok("DEV_SERVER = {'host': '127.0.0.1', 'port': 5173}"), path="string")],
    turns=[Call(("read_file", {"path": "config/dev.py"})),
           Say("The dev server listens on port 5173 (config/dev.py).")],
    category=None, root=None,
    why="did not fail: read the file, answered from it",
))


# ---- finance-rate-timeout-recovered
add(Scenario(
    key="finance-rate-timeout-recovered", domain="finance", agent="invoice-converter",
    instructions="Convert supplier invoices into EUR for the ledger.",
    prompt="Convert invoice INV-3412 (4,000 NOK) to EUR.",
    tools=[tool("get_rate", "Today's rate from the market data feed.",
                hangs("market-data feed (fx.internal:8443)"), ok({"NOK/EUR": 0.0853}),
                base="string", quote="string")],
    turns=[Call(("get_rate", {"base": "NOK", "quote": "EUR"})),
           Call(("get_rate", {"base": "NOK", "quote": "EUR"})),
           Say("INV-3412 is 341.20 EUR at 0.0853.")],
    category=None, root=None,
    why="did not fail: the feed's timeout was recovered by the next call of the same tool",
))


# ---- research-orchestrator-under-limit
add(Scenario(
    key="research-orchestrator-under-limit", domain="research", agent="market-scan-lead",
    instructions="Split market research into sub-questions and delegate each to a researcher.",
    prompt="Two quick questions on the Nordic EV charger market: size and top vendor.",
    tools=[tool("delegate_research", "Start a researcher sub-agent on one question.",
                agent=SubAgent("researcher", "Answer the research question briefly.",
                               [Say("Finding: about 1.1 bn EUR, led by Easee.")]),
                question="string")],
    turns=[Call(("delegate_research", {"question": "Nordic EV charger market size"})),
           Call(("delegate_research", {"question": "top vendor by share"})),
           Say("About 1.1 bn EUR; Easee leads.")],
    budget={"max_subagents": 3},
    category=None, root=None,
    why="did not fail: the orchestrator ran two sub-agents under its limit of three",
))


# ---- travel-multi-step-itinerary
add(Scenario(
    key="travel-multi-step-itinerary", domain="travel", agent="trip-planner",
    instructions="Plan and book short trips.",
    prompt="Weekend in Ghent from Brussels: train there Saturday morning, one night hotel.",
    tools=[tool("find_trains", "Trains between two stations on a date.",
                ok({"trains": [{"id": "IC 1812", "dep": "09:04"}]}),
                origin="string", destination="string", date="string"),
           tool("search_hotels", "Search hotels.", ok({"results": [{"name": "Hotel Gravensteen",
                                                               "eur_per_night": 132}]}),
                city="string", check_in="string", check_out="string", max_price="number"),
           tool("book_hotel", "Book a hotel.", ok({"confirmation": "HG-55121"}),
                name="string", check_in="string", nights="integer")],
    turns=[Call(("find_trains", {"origin": "Bruxelles-Central", "destination": "Gent-Sint-Pieters",
                                 "date": "2026-04-18"})),
           Call(("search_hotels", {"city": "Ghent", "check_in": "2026-04-18",
                                   "check_out": "2026-04-19", "max_price": 180})),
           Call(("book_hotel", {"name": "Hotel Gravensteen", "check_in": "2026-04-18",
                                "nights": 1})),
           Say("Take the IC 1812 at 09:04; Hotel Gravensteen is booked for Saturday night "
               "(confirmation HG-55121).")],
    category=None, root=None,
    why="did not fail: every step succeeded and the answer reports them",
))
