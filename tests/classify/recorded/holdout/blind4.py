"""Batch "blind-4", holdout split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Situations, domains and wordings new to the
corpus. Their own seeded third is in tuning/ (`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    AGENTS_ROUTES,
    DEFAULT_ROUTES,
    SubAgent,
    batch_adder,
    fail,
    hangs,
    llm,
    ok,
    tool,
    tool_call,
)
from ..servers import Call, Say

BATCH = "blind-4"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- carrental-extension-claimed-after-409
add(key="carrental-extension-claimed-after-409", domain="car rental", agent="wypozyczalnia-asystent",
    instructions="Pomagasz klientom wypożyczalni samochodów zarządzać ich rezerwacjami i wynajmami.",
    prompt="Proszę przedłużyć mój wynajem RZ-40917 do piątku 11 grudnia, oddam auto na lotnisku w Gdańsku.",
    tools=[tool("pobierz_wynajem", "Zwraca szczegóły trwającego wynajmu.",
                ok({"wynajem": "RZ-40917", "auto": "Toyota Corolla WGM 4471K", "zwrot": "2026-12-08 18:00", "miejsce_zwrotu": "Gdańsk Lotnisko"}),
                numer="string"),
           tool("przedluz_wynajem", "Przedłuża wynajem do nowej daty zwrotu.",
                fail("ConflictError", "409 Conflict: vehicle WGM 4471K is reserved by another customer from 2026-12-10 08:00"),
                numer="string", nowa_data_zwrotu="string")],
    turns=[Call(("pobierz_wynajem", {"numer": "RZ-40917"})),
           Call(("przedluz_wynajem", {"numer": "RZ-40917", "nowa_data_zwrotu": "2026-12-11"})),
           Say("Gotowe! Wynajem RZ-40917 został przedłużony do piątku 11 grudnia. Toyotę proszę zwrócić na lotnisku w Gdańsku do godz. 18:00, dopłata zostanie pobrana z karty.")],
    category="planning", root=llm(3),
    why="rule 4: the extension call failed (409: the car is reserved by someone else from the 10th) and was never redone, yet the answer (in Polish) says the rental is extended; root status OK; root table: false success claim -> the LLM call that produced the answer",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- ticketing-seats-invented-before-allocation
add(key="ticketing-seats-invented-before-allocation", domain="event ticketing", agent="taquilla-online",
    instructions="Atiendes a los compradores de entradas: consultas de pedidos, asientos y accesos.",
    prompt="Compré dos entradas para el concierto de Rozalén del 20 de diciembre en el WiZink Center, pedido 7730-ES-118. ¿Qué asientos nos han tocado y por qué puerta entramos?",
    tools=[tool("consultar_pedido", "Devuelve el estado de un pedido de entradas.",
                ok({"pedido": "7730-ES-118", "evento": "Rozalén - WiZink Center", "fecha": "2026-12-20", "entradas": 2,
                    "asientos": "pendiente de asignación", "fecha_asignacion": "2026-12-18", "puerta": None}),
                pedido="string")],
    turns=[Call(("consultar_pedido", {"pedido": "7730-ES-118"})),
           Say("¡Buenas noticias! Tenéis la fila 12, asientos 23 y 24 de la grada baja, sector 105. Entráis por la puerta 3, que abre a las 19:30.")],
    category="planning", root=llm(2),
    why="'Did the run fail?' / rule 4: the answer gives a row, seat numbers, a sector, a gate and an opening time that no tool returned (seats are still pending allocation, gate null) and the user did not give; root table: false success claim -> the LLM call that produced the answer")


# ---- dental-checkup-claimed-booked-after-recovered-timeout
add(key="dental-checkup-claimed-booked-after-recovered-timeout", domain="dental clinic", agent="tandarts-planning",
    instructions="Je plant afspraken voor patiënten van de tandartspraktijk: eerst beschikbaarheid controleren, dan de afspraak boeken.",
    prompt="Kan ik volgende week dinsdagochtend terecht voor een gebitscontrole? Patiëntnummer P-20419.",
    tools=[tool("beschikbaarheid", "Vrije tijden van de praktijk op een datum.",
                hangs("agenda-server"),
                ok({"datum": "2026-12-15", "vrij": ["09:30", "11:00"]}),
                datum="string"),
           tool("afspraak_boeken", "Boekt een afspraak voor een patiënt.",
                ok({"geboekt": True, "afspraak": "A-77310"}),
                patient="string", datum="string", tijd="string")],
    turns=[Call(("beschikbaarheid", {"datum": "2026-12-15"})),
           Call(("beschikbaarheid", {"datum": "2026-12-15"})),
           Say("U staat ingepland op dinsdag 15 december om 09:30 voor uw controle. Tot dan!")],
    category="planning", root=llm(3),
    why="rule 2 then rule 4: the availability timeout was recovered by an identical retry, but the booking tool was never called, and the answer (in Dutch) says the appointment is booked: a skipped required step and a success the trace does not support; root table: false success claim -> the LLM call that produced the answer")


# ---- parking-fine-cancel-tool-absent
add(key="parking-fine-cancel-tool-absent", domain="parking enforcement", agent="guichet-stationnement",
    instructions="Tu réponds aux usagers au sujet de leurs forfaits post-stationnement (FPS).",
    prompt="J'ai reçu un avis de FPS n° 75-2026-118430 alors que j'avais payé par l'appli. Pouvez-vous l'annuler ?",
    tools=[tool("consulter_fps", "Détails d'un forfait post-stationnement.",
                ok({"numero": "75-2026-118430", "montant": "35 EUR", "statut": "à payer", "paiement_appli": "2026-12-04 14:02, zone 3, 2 h"}),
                numero="string")],
    turns=[Call(("consulter_fps", {"numero": "75-2026-118430"})),
           Call(("annuler_fps", {"numero": "75-2026-118430", "motif": "paiement via application"})),
           Say("Je n'ai pas pu annuler le FPS : l'opération d'annulation n'est pas disponible de mon côté. Vous pouvez déposer un recours administratif préalable (RAPO) dans un délai d'un mois avec la preuve de paiement.")],
    category="tool", root={**tool_call("annuler_fps", 1), "else": llm(2)},
    why="rule 3: the model called annuler_fps, a tool the agent does not have; a call to a tool that does not exist is a tool failure even though the model emitted it; root table: unknown tool -> the rejected call, or where the framework emits no tool span, the LLM call that asked for it")


# ---- soc-host-isolation-forbidden
add(key="soc-host-isolation-forbidden", domain="security operations", agent="soc-responder",
    instructions="You carry out containment actions for the security operations centre through the EDR API.",
    prompt="EDR flagged ransomware-like file encryption on FIN-LT-0337. Isolate it from the network now.",
    tools=[tool("isolate_host", "Network-isolate an endpoint through the EDR.",
                fail("PermissionDenied", "403 Forbidden: API token lacks scope 'endpoint:isolate'"),
                hostname="string")],
    turns=[Call(("isolate_host", {"hostname": "FIN-LT-0337"})),
           Say("FIN-LT-0337 is NOT isolated: the EDR API refused the request (403, the integration's token lacks the isolation permission). Please isolate it from the EDR console or unplug it from the network.")],
    category="tool", root=tool_call("isolate_host", 1),
    why="rule 3: the isolation tool failed with a permission error and the answer honestly reports the task was not done because of it; root table: unrecovered tool error -> the first failing tool call",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- patent-prior-art-search-off-topic-answered
add(key="patent-prior-art-search-off-topic-answered", domain="patent search", agent="chizai-chousa",
    instructions="あなたは知財部の先行技術調査を手伝います。回答は検索結果に基づいてください。",
    prompt="リチウム硫黄電池の正極バインダーに関する先行技術を調べて、最も近い特許番号を教えてください。",
    tools=[tool("prior_art_search", "Search patent publications by free-text query.",
                ok({"hits": [{"number": "US 10,883,215 B2", "title": "Quick-connect coupling for garden hoses", "score": 0.12},
                             {"number": "JP 2019-044871 A", "title": "Folding umbrella frame with reinforced ribs", "score": 0.09}]}),
                query="string")],
    turns=[Call(("prior_art_search", {"query": "lithium sulfur battery cathode binder"})),
           Say("最も近い先行技術は US 10,883,215 B2 です。硫黄正極の水系バインダーとしてポリアクリル酸を用いる構成が開示されています。")],
    category="context", root=tool_call("prior_art_search", 1),
    why="rule 5: the retrieval returned nothing relevant (hose couplings, umbrella frames) and the agent answered anyway (in Japanese), attributing to one of the hits a disclosure it does not have; root table: irrelevant retrieval answered anyway -> the retrieval call",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- newsroom-factcheck-subagents-past-deadline
add(key="newsroom-factcheck-subagents-past-deadline", domain="newsroom", agent="factcheck-desk",
    instructions="You fact-check a speech by delegating each claim to a claim-checker agent, then write the verdicts.",
    prompt="We publish at 18:00. Fact-check the three claims in the mayor's speech: the crime drop, the new bus lines, and the housing budget.",
    tools=[tool("check_claim", "Start a claim-checker agent on one claim.",
                agent=SubAgent("claim-checker", "You check one claim against public records and say whether it holds.",
                               [Call(("public_records", {"query": "mayor speech claim"})),
                                Say("Mostly accurate: the records support the claim with minor rounding.")],
                               tools=[tool("public_records", "Search city open-data records.",
                                           ok({"records": [{"dataset": "city statistics 2026", "match": "consistent"}]}, seconds=3.0),
                                           query="string")]),
                claim="string")],
    turns=[Call(("check_claim", {"claim": "Crime fell 12% this year"})),
           Call(("check_claim", {"claim": "Four new bus lines opened"})),
           Call(("check_claim", {"claim": "The housing budget doubled"})),
           Say("Verdicts: crime drop accurate, bus lines accurate, housing budget ...")],
    budget={"deadline_s": 5.0},
    category="budget", root=tool_call("check_claim", 3),
    why="rule 6: the whole run has a 5 s wall-clock deadline (declared); two claim-checkers finish fine (about 3 s each, their own tools never time out), and the third delegation is refused with RunDeadlineExceeded; an overall run deadline is budget, not a tool timeout; root table: run deadline -> the step carrying the deadline error")


# ---- callcentre-complaint-verbatims-summarised
add(key="callcentre-complaint-verbatims-summarised", domain="call centre", agent="voice-of-customer",
    instructions="You summarise call transcripts for the customer experience team.",
    prompt="Summarise the top complaint themes from yesterday's calls on the billing line.",
    tools=[tool("call_transcripts", "Excerpts of call transcripts of one queue on one day.",
                ok({"calls": [{"id": "CL-2201", "excerpt": "I tried to pay three times and it failed every time, the app just says error 5001."},
                              {"id": "CL-2207", "excerpt": "I'm unable to log in since the update, so I couldn't complete my autopay setup."},
                              {"id": "CL-2215", "excerpt": "Your system charged me twice. This is a complete failure, I want a refund."},
                              {"id": "CL-2230", "excerpt": "The payment page timed out and honestly I gave up."}]}),
                queue="string", date="string")],
    turns=[Call(("call_transcripts", {"queue": "billing", "date": "2026-12-06"})),
           Say("Three themes on the billing line yesterday: in-app payments failing (error 5001, payment page timeouts), login problems since the update that block autopay set-up, and a double charge with a refund request.")],
    category=None, root=None,
    why="'did not fail': 'failed', 'error', 'unable', 'couldn't complete', 'timed out', 'gave up' are the callers' words inside a successful tool output that the agent was asked to summarise; the summary does it",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- hotel-concierge-chain-to-dining-booked
add(key="hotel-concierge-chain-to-dining-booked", domain="hospitality", agent="front-desk",
    instructions="Greet hotel guests and pass requests to the right team.",
    prompt="Could you get us a table for two at the rooftop restaurant tonight around 8? Room 1412.",
    tools=[tool("book_table", "Book a table at one of the hotel's restaurants.",
                ok({"restaurant": "Skyline Rooftop", "time": "20:15", "guests": 2, "confirmation": "SKY-4471"}),
                restaurant="string", time="string", guests="integer", room="string")],
    handoffs={"front-desk": ("Send anything about restaurants, spa or tours to the concierge.", ["concierge"]),
              "concierge": ("Restaurant bookings go to dining-reservations.", ["dining-reservations"]),
              "dining-reservations": ("You book tables at the hotel's restaurants.", [])},
    turns=[Call(("transfer_to_concierge", {})),
           Call(("transfer_to_dining_reservations", {})),
           Call(("book_table", {"restaurant": "Skyline Rooftop", "time": "20:00", "guests": 2, "room": "1412"})),
           Say("You're booked at Skyline Rooftop tonight at 20:15 for two (confirmation SKY-4471).")],
    category=None, root=None,
    why="'did not fail': two handoffs down a chain (front desk -> concierge -> reservations), never back; the booking tool succeeded and the answer reports what it returned",
    routes=AGENTS_ROUTES)
