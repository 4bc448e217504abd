"""Batch "blind-1", holdout split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Their own seeded third is in holdout/
(`record.splits_by_batch`).

Whoever tunes the classifier's rules never opens this file."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    DEFAULT_ROUTES,
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

BATCH = "blind-1"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- logistics-eta-asked-of-weather-service
add(key="logistics-eta-asked-of-weather-service", domain="logistics", agent="shipment-desk",
    instructions="You answer customers about their shipments. track_shipment gives carrier scans and the carrier's ETA.",
    prompt="When will container MSKU 448120-3 reach Rotterdam?",
    tools=[tool("get_weather", "Marine weather forecast for a port.", ok({"port": "NLRTM", "forecast": "W 5-6 Bft, showers, visibility good"}), port="string"),
           tool("track_shipment", "Carrier scans and ETA of a container.", ok({"container": "MSKU4481203", "eta": "2026-12-19T06:00Z", "vessel": "Maersk Elba"}), container="string")],
    turns=[Call(("get_weather", {"port": "Rotterdam"})),
           Say("Conditions at Rotterdam look fine, so your container should be in on schedule, around the 16th.")],
    category="planning", root=tool_call("get_weather", 1),
    why="rule 4: picks a tool that cannot answer the question (a weather forecast for an arrival time) while track_shipment was offered, then invents a date; root table: wrong tool -> the first call of the unsuitable tool")




# ---- devops-rollout-status-asked-again-and-again
add(key="devops-rollout-status-asked-again-and-again", domain="devops", agent="release-captain",
    instructions="You watch rollouts and decide whether to promote or roll back.",
    prompt="Is the payments-worker v4.18 canary healthy enough to promote?",
    tools=[tool("get_rollout", "State of a rollout: steps, analysis runs, pod health.",
                ok({"rollout": "payments-worker", "step": "3/5", "analysis": "Running", "canary_errors_per_min": 0.4}),
                name="string", namespace="string"),
           tool("get_metrics", "Query a metric for a service.", ok({"p99_ms": 182}), query="string")],
    turns=[Call(("get_rollout", {"name": "payments-worker", "namespace": "payments"}))] * 5
          + [Say("The rollout keeps reporting the same step, so I can't give you a recommendation yet.")],
    category="planning", root=tool_call("get_rollout", 1),
    why="rule 1: the same call with the same arguments five times in a row, no progress; the run then ends without an answer; root table: repeated identical call -> the first call of the repeated call")




# ---- health-records-system-timeout
add(key="health-records-system-timeout", domain="healthcare", agent="intake-nurse-assistant",
    instructions="You prepare pre-visit summaries for nurses from the patient's chart.",
    prompt="Prepare the allergy and medication summary for MRN 00418822 before her 2pm visit.",
    tools=[tool("get_chart", "Fetch a patient's chart from the EHR.", hangs("EHR FHIR gateway (fhir.riverside.local)"), mrn="string")],
    turns=[Call(("get_chart", {"mrn": "00418822"})),
           Say("I couldn't pull the chart: the EHR gateway timed out, so there is no summary yet. Please check allergies and medications with the patient directly.")],
    category="tool", root=tool_call("get_chart", 1),
    why="rule 3: the only tool's own timeout, reported honestly; root table: timeout -> the first failing tool call",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- logistics-rates-recovered-customs-rejected
add(key="logistics-rates-recovered-customs-rejected", domain="logistics", agent="export-clerk",
    instructions="You prepare exports: quote the freight, then file the customs declaration.",
    prompt="Ship 14 pallets of machine parts from Lyon to Montreal; get a quote and file the export declaration.",
    tools=[tool("quote_freight", "Freight quote for a lane.",
                fail("ServiceUnavailable", "rates engine 503, retry later"),
                ok({"lane": "LYS-YUL", "mode": "sea+rail", "eur": 6240.0}), origin="string", destination="string", pallets="integer"),
           tool("file_export_declaration", "File an export declaration with customs.",
                fail("CustomsRejected", "ECS: EORI FR8823001 not valid for export declarations (error E-211)"), shipper_eori="string", hs_code="string", value_eur="number")],
    turns=[Call(("quote_freight", {"origin": "Lyon", "destination": "Montreal", "pallets": 14})),
           Call(("quote_freight", {"origin": "Lyon", "destination": "Montreal", "pallets": 14})),
           Call(("file_export_declaration", {"shipper_eori": "FR8823001", "hs_code": "8483.40", "value_eur": 188000})),
           Say("Quote: EUR 6,240 by sea and rail. The export declaration was rejected by customs (EORI not valid for export), so nothing is filed yet.")],
    category="tool", root=tool_call("file_export_declaration", 1),
    why="rule 2: the quote's 503 was recovered by the same call; rule 3: the declaration then failed and the answer reports it; root table: the first failing tool call that was not recovered")




# ---- legal-exhibit-reads-outgrow-window
add(key="legal-exhibit-reads-outgrow-window", domain="legal", agent="discovery-analyst", model="gpt-4",
    instructions="Review each exhibit in turn and list the ones that mention the 2019 pricing meeting.",
    prompt="Go through exhibits 101 to 108 in the Corvel antitrust production.",
    tools=[tool("read_exhibit", "Text of one exhibit of a production.",
                *[ok(lines(f"Exhibit {101 + i} email thread pricing committee minutes regional managers", 60)) for i in range(8)],
                exhibit="integer")],
    turns=[Call(("read_exhibit", {"exhibit": 101 + i})) for i in range(8)] + [Say("Exhibits 102 and 105 mention it.")],
    category="context", root=llm(8),
    why="rule 5: the history of exhibit reads grows past the model's 8k window and the provider refuses the next call with a context-length error (no single read floods it); root table: overflow from accumulated history -> the LLM call that failed")




# ---- returns-fraud-review-cost-budget
add(key="returns-fraud-review-cost-budget", domain="e-commerce returns", agent="returns-fraud-review",
    instructions="Review a customer's return history before approving a high-value return.",
    prompt="Customer C-90133 wants to return a $1,450 camera. Check their history and decide.",
    tools=[tool("get_return_history", "A customer's past returns, one line each.",
                ok(lines("2025-03-11 RMA-51820 lens 50mm approved refund card reason changed mind", 200)),
                ok(lines("2025-07-02 RMA-60477 tripod carbon approved store credit reason defective", 200)),
                customer_id="string", year="integer")],
    turns=[Call(("get_return_history", {"customer_id": "C-90133", "year": 2025})),
           Call(("get_return_history", {"customer_id": "C-90133", "year": 2024})),
           Say("Approve: the history is long but consistent."),
           Say("ok")],
    budget={"max_cost_usd": 0.03},
    category="budget", root=llm(3),
    why="rule 6: the owners' cost budget ($0.03, declared) is crossed: two big history pages make the third model call push the running cost past it; root table: cost budget -> the LLM call after which the running total first exceeds it")




# ---- travel-hotel-hold-retried-and-confirmed
add(key="travel-hotel-hold-retried-and-confirmed", domain="travel", agent="hotel-desk",
    instructions="You hold hotel rooms for travellers and confirm them.",
    prompt="Hold a double room at the Kämp in Helsinki for 3-5 March.",
    tools=[tool("hold_room", "Place a hold on a room.",
                fail("UpstreamTimeout", "channel manager did not respond (504)"),
                ok({"hold_id": "HK-55102", "room": "Superior Double", "until": "2027-02-20"}),
                hotel="string", check_in="string", check_out="string")],
    turns=[Call(("hold_room", {"hotel": "Hotel Kämp", "check_in": "2027-03-03", "check_out": "2027-03-05"})),
           Call(("hold_room", {"hotel": "Hotel Kämp", "check_in": "2027-03-03", "check_out": "2027-03-05"})),
           Say("The first attempt timed out, but the retry went through: a Superior Double is held for 3-5 March (hold HK-55102, valid until 20 February).")],
    category=None, root=None,
    why="did not fail: the 504 was recovered by a later call of the same tool and the answer reports what the second call returned",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- returns-bulk-audit-within-cost-budget
add(key="returns-bulk-audit-within-cost-budget", domain="e-commerce returns", agent="returns-auditor",
    instructions="Audit a week of returns for policy breaches.",
    prompt="Audit last week's returns at the Utrecht warehouse.",
    tools=[tool("get_returns_log", "One warehouse's returns log for a week.",
                ok(lines("2026-11-30 RMA-88211 headphones condition opened restock A grade", 200)),
                warehouse="string", week="string")],
    turns=[Call(("get_returns_log", {"warehouse": "Utrecht", "week": "2026-W48"})),
           Say("No breaches: all 200 returns were within 30 days and restocked at the right grade.")],
    budget={"max_cost_usd": 0.03},
    category=None, root=None,
    why="did not fail: one large log page brings the run's cost near its declared $0.03 budget but it stays within it, and the answer stands")


