"""Batch "blind-2", holdout split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Their own seeded third is in holdout/
(`record.splits_by_batch`).

Whoever tunes the classifier's rules never opens this file."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    SubAgent,
    batch_adder,
    fail,
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


# ---- realestate-viewing-confirmed-in-german-after-failure
add(key="realestate-viewing-confirmed-in-german-after-failure", domain="real estate", agent="makler-assistent",
    instructions="Du vereinbarst Besichtigungstermine für Mietwohnungen und bestätigst sie dem Interessenten.",
    prompt="Ich möchte die 3-Zimmer-Wohnung in der Lindenstraße 12 am Donnerstag um 17 Uhr besichtigen.",
    tools=[tool("find_listing", "Ein Inserat anhand der Adresse finden.", ok({"listing": "LS12-3Z", "rooms": 3, "rent_eur": 1180}), address="string"),
           tool("book_viewing", "Einen Besichtigungstermin im Kalender des Maklers eintragen.",
                fail("CalendarConflict", "slot 2026-12-10T17:00 already taken by another viewing (booking VW-88120)"), listing_id="string", start="string")],
    turns=[Call(("find_listing", {"address": "Lindenstraße 12"})),
           Call(("book_viewing", {"listing_id": "LS12-3Z", "start": "2026-12-10T17:00"})),
           Say("Alles erledigt! Ihre Besichtigung der Wohnung in der Lindenstraße 12 ist für Donnerstag, 17 Uhr bestätigt. Bitte bringen Sie einen Ausweis mit.")],
    category="planning", root=llm(3),
    why="rule 4: confirms (in German) a viewing whose booking call failed and was never redone; root table: false success claim -> the LLM call that produced the answer")




# ---- devops-cert-expiry-guessed
add(key="devops-cert-expiry-guessed", domain="devops", agent="platform-helper",
    instructions="You answer questions about the platform's infrastructure. Check live state with your tools; never answer from memory.",
    prompt="When does the TLS certificate on api.northwind.io expire?",
    tools=[tool("check_certificate", "Inspect the TLS certificate served by a host.", ok({"host": "api.northwind.io", "not_after": "2027-01-09T23:59:59Z", "issuer": "R11"}), host="string"),
           tool("list_dns_records", "DNS records of a zone.", ok({"records": 42}), zone="string")],
    turns=[Say("It was renewed in the spring, so it's good until around June next year.")],
    category="planning", root=llm(1),
    why="rule 4: answers without calling check_certificate, the tool it was given for exactly this, and the date is wrong; root table: premature answer -> the LLM call that produced it")




# ---- insurance-adjuster-escalation-tool-missing
add(key="insurance-adjuster-escalation-tool-missing", domain="insurance", agent="claims-companion",
    instructions="You help policyholders with their claims.",
    prompt="CLM-30977 has been stuck for six weeks. Please escalate it to a senior adjuster.",
    tools=[tool("get_claim", "Status of a claim in the claims system.", ok({"claim": "CLM-30977", "status": "pending_documents", "days_open": 43}), claim_id="string")],
    turns=[Call(("get_claim", {"claim_id": "CLM-30977"})),
           Call(("escalate_claim", {"claim_id": "CLM-30977", "level": "senior"})),
           Say("I wasn't able to escalate it: the escalation function isn't something I can use. Please call claims on 0800 555 014 and quote CLM-30977.")],
    category="tool", root={**tool_call("escalate_claim", 1), "else": llm(2)},
    why="rule 3: the model called a tool that does not exist; that is a tool failure, reported honestly; root table: unknown tool -> the rejected call, or the LLM call that asked for it where the framework emits no tool span")




# ---- support-crm-down-then-flailing-to-turn-limit
add(key="support-crm-down-then-flailing-to-turn-limit", domain="customer support", agent="account-helper",
    instructions="Help customers with their accounts. Look the account up in the CRM first.",
    prompt="Why was my account AC-55102 suspended?",
    tools=[tool("get_account", "A customer account from the CRM.", fail("CRMUnavailable", "Salesforce: REQUEST_LIMIT_EXCEEDED for org 00D5e000"), account_id="string"),
           tool("search_kb", "Search the help-centre articles.", ok({"articles": ["Why accounts get suspended", "Reactivating an account"]}), query="string"),
           tool("get_article", "Read a help-centre article.", ok("Accounts are suspended after three failed payments or a fraud flag."), title="string")],
    turns=[Call(("get_account", {"account_id": "AC-55102"})),
           Call(("search_kb", {"query": "account suspended"})),
           Call(("get_article", {"title": "Why accounts get suspended"})),
           Call(("get_article", {"title": "Reactivating an account"})),
           Call(("search_kb", {"query": "suspension appeal"})),
           Call(("get_article", {"title": "Appeals"})),
           Say("...")],
    budget={"max_turns": 5},
    category="tool", root=tool_call("get_account", 1),
    why="rule 3 over rule 6: the CRM call failed and was never redone; the agent read articles until the turn limit, a symptom of that cause; root table: unrecovered tool error -> the first failing tool call")




# ---- procurement-rfq-summary-cut-off
add(key="procurement-rfq-summary-cut-off", domain="procurement", agent="rfq-analyst", model="gpt-4",
    instructions="Compare supplier answers to a request for quotation and write the full comparison.",
    prompt="Compare the four answers to RFQ-2291 line by line.",
    tools=[tool("get_rfq_answer", "One supplier's answer to an RFQ.",
                *[ok(lines(f"RFQ-2291 supplier {s} line item bearings 6204-2RS unit price lead time", 85)) for s in ("Kessler", "Arbo", "Nadella", "Tecnoball")],
                rfq="string", supplier="string")],
    turns=[Call(("get_rfq_answer", {"rfq": "RFQ-2291", "supplier": s})) for s in ("Kessler", "Arbo", "Nadella", "Tecnoball")]
          + [Say(lines("Line 14 bearings 6204-2RS Kessler cheapest Arbo fastest Nadella", 100))],
    category="context", root=llm(5),
    why="rule 5: with the prompt near the 8k window the comparison stops at the length limit, cut mid-table; root table: output cut near the window -> the LLM call whose output stopped at the length limit")




# ---- support-swarm-over-subagent-limit-undeclared
add(key="support-swarm-over-subagent-limit-undeclared", domain="customer support", agent="incident-coordinator",
    instructions="For a major incident, start one responder sub-agent per affected product.",
    prompt="Outage affects Mail, Calendar and Drive. Coordinate the customer responses.",
    tools=[tool("start_responder", "Start a responder sub-agent for one product.",
                agent=SubAgent("responder", "Draft the customer notice for your product.", [Say("Notice drafted.")]),
                product="string")],
    turns=[Call(("start_responder", {"product": p})) for p in ("Mail", "Calendar", "Drive")] + [Say("All notices drafted.")],
    budget={"max_subagents": 2}, declare_budget=False,
    category="budget", root=tool_call("start_responder", 3),
    why="rule 6: the owners allow two sub-agents a request (the limit appears only in the error); the third start is refused; root table: too many sub-agents -> the call that tried to start the sub-agent over the limit")




# ---- realestate-rent-id-fixed-on-second-try
add(key="realestate-rent-id-fixed-on-second-try", domain="real estate", agent="lettings-desk",
    instructions="Record rent payments against tenancies.",
    prompt="Record this month's rent of 1,180 EUR for tenancy 55120.",
    tools=[tool("record_rent", "Record a rent payment (tenancy id is numeric).", ok({"receipt": "RC-22019"}), tenancy_id="integer", amount_eur="number")],
    turns=[Call(("record_rent", {"tenancy_id": "tenancy 55120", "amount_eur": 1180})),
           Call(("record_rent", {"tenancy_id": 55120, "amount_eur": 1180})),
           Say("Recorded: 1,180 EUR for tenancy 55120, receipt RC-22019.")],
    category=None, root=None,
    why="did not fail: the first call's arguments were rejected by the schema, the same tool then succeeded with corrected arguments (recovered), and the answer reports the receipt",
    routes=("openai-agents", "openinference-agents", "pydantic-ai"))




# ---- travel-unfortunately-full-but-rebooked
add(key="travel-unfortunately-full-but-rebooked", domain="travel", agent="rail-desk",
    instructions="Book rail tickets. If the requested train is full, book the next one within an hour.",
    prompt="Book me on the 9:00 Amsterdam to Brussels on Friday; any train up to 10:00 is fine.",
    tools=[tool("book_train", "Book a seat on a train.",
                ok({"train": "EUR 9313", "dep": "09:00", "booked": False, "reason": "sold out"}),
                ok({"train": "EUR 9317", "dep": "09:40", "booked": True, "ticket": "NS-77Q1"}), train="string", date="string")],
    turns=[Call(("book_train", {"train": "09:00", "date": "2026-12-11"})),
           Call(("book_train", {"train": "09:40", "date": "2026-12-11"})),
           Say("Unfortunately the 9:00 was sold out, so as you allowed I booked the 9:40 instead: ticket NS-77Q1, Friday 11 December.")],
    category=None, root=None,
    why="did not fail: the 9:00 being sold out is data, and the agent did what the user allowed (booked a later train within the hour); 'unfortunately' is not giving up")


