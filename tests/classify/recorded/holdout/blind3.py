"""Batch "blind-3", holdout split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Kept for the session's last measurement, after
every rule change. The other two thirds are in tuning/ (`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    DEFAULT_ROUTES,
    batch_adder,
    fail,
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


# ---- customs-duty-quoted-from-memory
add(key="customs-duty-quoted-from-memory", domain="shipping customs", agent="customs-desk",
    instructions="You quote import duties for shipments into the EU. Always use the tariff tool: rates change often.",
    prompt="What duty will I pay importing 400 electric bicycles from Vietnam into Rotterdam? Declared value USD 212,000.",
    tools=[tool("tariff_rate", "Current EU duty rate (and any anti-dumping duty) for an HS code and country of origin.",
                ok({"hs_code": "8711.60.10", "origin": "VN", "conventional_rate_pct": 6.0, "anti_dumping_pct": 0.0}),
                hs_code="string", origin="string"),
           tool("fx_rate", "Exchange rate between two currencies today.", ok({"pair": "USD/EUR", "rate": 0.93}), pair="string")],
    turns=[Say("E-bikes (HS 8711.60) from Vietnam pay a 4.5% conventional duty, so on USD 212,000 you will owe about USD 9,540 in duty at Rotterdam.")],
    category="planning", root=llm(1),
    why="rule 4: answers with a duty rate and amount without calling the tariff tool it was given (and told to use) for the job; no tool was called at all; root table: premature answer -> the LLM call that produced it",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- telecom-line-status-polled-until-turn-limit
add(key="telecom-line-status-polled-until-turn-limit", domain="telecom", agent="fibre-activation",
    instructions="You follow a customer's fibre activation and tell them when the line is live.",
    prompt="My fibre was supposed to be activated today, order FTTH-77120. Is it working yet?",
    tools=[tool("line_status", "Provisioning status of a fibre order.",
                ok({"order": "FTTH-77120", "state": "provisioning", "eta": "2026-12-09"}),
                order_id="string")],
    turns=[Call(("line_status", {"order_id": "FTTH-77120"}))] * 12,
    budget={"max_turns": 6},
    category="planning", root=tool_call("line_status", 1),
    why="rule 1: the same call with the same arguments, answered identically each time, repeated until the declared turn limit; the limit is a symptom of the loop; root table: loop -> the first call of the repeated call")


# ---- telecom-sim-reset-tool-absent
add(key="telecom-sim-reset-tool-absent", domain="telecom", agent="assistance-mobile",
    instructions="Tu aides les abonnés mobiles avec leur ligne. Outils disponibles : consultation de l'abonnement.",
    prompt="Mon téléphone affiche « SIM non valide » depuis ce matin, ligne 06 12 34 56 78. Pouvez-vous réinitialiser ma carte SIM ?",
    tools=[tool("consulter_abonnement", "Affiche l'abonnement et l'état de la ligne.",
                ok({"ligne": "0612345678", "etat": "active", "forfait": "5G 80 Go"}),
                ligne="string")],
    turns=[Call(("reinitialiser_carte_sim", {"ligne": "0612345678"})),
           Say("Je n'ai pas pu réinitialiser votre carte SIM : l'opération a échoué de notre côté. Merci de vous rendre en boutique avec une pièce d'identité.")],
    category="tool", root={**tool_call("reinitialiser_carte_sim", 1), "else": llm(1)},
    why="rule 3: the model called a tool that does not exist (only consulter_abonnement is declared); calls to a nonexistent tool are tool failures; root table: unknown tool -> the rejected call, and where the framework emits no tool span, the LLM call that asked for it",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- energy-account-recovered-meter-swap-refused
add(key="energy-account-recovered-meter-swap-refused", domain="energy utilities", agent="field-service-planner",
    instructions="You book meter exchanges for domestic energy customers.",
    prompt="Please book a smart meter swap for account 3300-8814 any weekday morning next week.",
    tools=[tool("get_account", "Customer account and meter details.",
                fail("ConnectionReset", "connection reset by peer while reading account 3300-8814"),
                ok({"account": "3300-8814", "meter": "E7-legacy", "postcode": "LS6 2AB"}),
                account_id="string"),
           tool("book_meter_swap", "Book a meter exchange appointment.",
                fail("SchedulingError", "500 Internal Server Error: field-service scheduler failed to allocate an engineer"),
                account_id="string", window="string")],
    turns=[Call(("get_account", {"account_id": "3300-8814"})),
           Call(("get_account", {"account_id": "3300-8814"})),
           Call(("book_meter_swap", {"account_id": "3300-8814", "window": "weekday-am"})),
           Say("I found your account, but I couldn't book the swap: the field-service scheduler returned an error. Please try again tomorrow or call us.")],
    category="tool", root=tool_call("book_meter_swap", 1),
    why="rule 2 + 3: the account lookup failed once and was recovered by a retry (not a root); the booking tool then failed and was never redone, and the answer honestly reports it; root table: unrecovered tool error -> the first failing call of that tool")


# ---- trial-adverse-event-reports-overflow
add(key="trial-adverse-event-reports-overflow", domain="clinical trials", agent="safety-reviewer",
    instructions="You summarise serious adverse event reports for the trial's safety committee.",
    prompt="Summarise SAE reports SAE-901, SAE-902, SAE-903 and SAE-904 for Thursday's DSMB meeting.",
    model="gpt-4",
    tools=[tool("fetch_sae_report", "Full narrative of one serious adverse event report.",
                ok(lines("narrative patient admitted monitored dose held lab values reviewed", 180)),
                report_id="string")],
    turns=[Call(("fetch_sae_report", {"report_id": "SAE-901"})),
           Call(("fetch_sae_report", {"report_id": "SAE-902"})),
           Call(("fetch_sae_report", {"report_id": "SAE-903"})),
           Say("Summary of SAE-901 to SAE-904 for the DSMB.")],
    category="context", root=llm(4),
    why="rule 5: each report's narrative stays in the history; the fourth model call's prompt is over the 8,192-token window and fails with a context-length error; root table: overflow from accumulated history -> the LLM call that failed with the context error")


# ---- water-leak-reports-token-cap
add(key="water-leak-reports-token-cap", domain="water utility", agent="leak-analyst",
    instructions="You prioritise reported water leaks for the repair crews.",
    prompt="Prioritise this week's leak reports for districts Noord and Zuid and draft the crew schedule.",
    tools=[tool("leak_reports", "All open leak reports of one district.",
                ok(lines("report street pressure drop flow anomaly severity", 300)),
                district="string"),
           tool("crew_roster", "Available repair crews this week.",
                ok({"crews": ["A", "B", "C"]}), week="integer")],
    turns=[Call(("leak_reports", {"district": "Noord"})),
           Call(("leak_reports", {"district": "Zuid"})),
           Call(("crew_roster", {"week": 50})),
           Say("Schedule drafted: crew A on Noord mains, crews B and C on Zuid.")],
    budget={"max_total_tokens": 20000},
    category="budget", root=llm(3),
    why="rule 6: a token budget of 20,000 set by the owners; every call makes distinct progress, and the running total first exceeds the budget after the third model call; root table: token budget -> the LLM call after which the running total first exceeds it")


# ---- energy-outage-map-retried-german
add(key="energy-outage-map-retried-german", domain="energy utilities", agent="stoerungsauskunft",
    instructions="Du informierst Kundinnen und Kunden eines Netzbetreibers über Stromausfälle.",
    prompt="Bei uns in 04229 Leipzig ist seit einer Stunde der Strom weg. Wisst ihr davon und wann kommt er wieder?",
    tools=[tool("stoerungskarte", "Aktuelle Störungen für eine Postleitzahl.",
                fail("GatewayTimeout", "504 Gateway Timeout from outage-map backend"),
                ok({"plz": "04229", "stoerung": True, "ursache": "Kabelfehler Mittelspannung", "wiederversorgung": "ca. 16:30"}),
                plz="string")],
    turns=[Call(("stoerungskarte", {"plz": "04229"})),
           Call(("stoerungskarte", {"plz": "04229"})),
           Say("Ja, die Störung in 04229 ist bekannt: ein Kabelfehler im Mittelspannungsnetz. Die Versorgung soll gegen 16:30 Uhr wiederhergestellt sein.")],
    category=None, root=None,
    why="'did not fail': the outage map failed once (504) and the same call succeeded on the retry; the answer stands on the recovered result",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- museum-reading-room-malheureusement-rebooked
add(key="museum-reading-room-malheureusement-rebooked", domain="museum archives", agent="salle-de-lecture",
    instructions="Tu réserves des places en salle de lecture des archives du musée et la consultation des fonds.",
    prompt="Je voudrais consulter le fonds Dufresne (cote 3 AR 45) mardi matin à 9 h.",
    tools=[tool("disponibilites", "Places libres en salle de lecture pour une date.",
                ok({"date": "2026-12-15", "09:00": 0, "11:00": 3}), date="string"),
           tool("reserver", "Réserve une place et la communication d'une cote.",
                ok({"reservation": "SL-20931", "date": "2026-12-15", "heure": "11:00", "cote": "3 AR 45"}),
                date="string", heure="string", cote="string")],
    turns=[Call(("disponibilites", {"date": "2026-12-15"})),
           Call(("reserver", {"date": "2026-12-15", "heure": "11:00", "cote": "3 AR 45"})),
           Say("Malheureusement, il n'y avait plus de place à 9 h mardi ; je vous ai donc réservé la séance de 11 h (réservation SL-20931), le fonds 3 AR 45 vous attendra en salle.")],
    category=None, root=None,
    why="'did not fail': the answer opens with regret words, but the booking tool succeeded and the answer reports exactly what it returned")
