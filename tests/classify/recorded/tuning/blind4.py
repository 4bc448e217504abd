"""Batch "blind-4", tuning split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Situations, domains and wordings new to the
corpus. Their own seeded third is in holdout/ (`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    AGENTS_ROUTES,
    DEFAULT_ROUTES,
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

BATCH = "blind-4"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- library-hold-available-yet-declined
add(key="library-hold-available-yet-declined", domain="public library", agent="branch-library-helper",
    instructions="You help library members find books in the catalogue and place holds on them.",
    prompt="Can you put a hold on 'The Overstory' by Richard Powers for me? Library card 2150 0348 7712, I'd pick it up at Riverside.",
    tools=[tool("search_catalogue", "Search the library catalogue by title and author.",
                ok({"results": [{"record_id": "b1204471", "title": "The Overstory", "author": "Richard Powers",
                                 "copies": [{"branch": "Riverside", "status": "available"}, {"branch": "Central", "status": "on loan, due 2026-12-15"}]}]}),
                title="string", author="string"),
           tool("place_hold", "Place a hold on a catalogue record for a member.",
                ok({"hold_id": "H-88120", "pickup_branch": "Riverside", "ready_by": "2026-12-09"}),
                record_id="string", card_number="string", pickup_branch="string")],
    turns=[Call(("search_catalogue", {"title": "The Overstory", "author": "Richard Powers"})),
           Say("I'm sorry, I'm not able to place holds for you at the moment. Please try again later, or ask a librarian at the Riverside desk to do it for you.")],
    category="planning", root=llm(2),
    why="rule 4: gives up although its tools work: the search found an available copy at Riverside and the hold tool was never even tried; no tool error anywhere in the trace; root table: giving up -> the LLM call that produced that answer")


# ---- water-advisory-answered-from-billing
add(key="water-advisory-answered-from-billing", domain="water utility", agent="water-customer-care",
    instructions="You answer customers of Riverbend Water about their account and about service notices (outages, boil-water advisories) in their area.",
    prompt="Is there a boil-water advisory in Maple Heights right now? I've got a newborn at home. Account 55-20981.",
    tools=[tool("billing_account", "Balance, service address and billing dates of a customer account.",
                ok({"account": "55-20981", "service_address": "14 Linden Ct, Maple Heights", "balance_due": "42.17 USD", "next_bill": "2026-12-22", "status": "active"}),
                account="string"),
           tool("service_notices", "Current service notices (outages, boil-water advisories) for an area.",
                ok({"area": "Maple Heights", "notices": [{"type": "boil_water_advisory", "issued": "2026-12-06T17:40Z", "reason": "main break on Oak Ave"}]}),
                area="string")],
    turns=[Call(("billing_account", {"account": "55-20981"})),
           Say("Your account at 14 Linden Ct, Maple Heights is active and in good standing, with no notices on it, so you can keep using your tap water as normal.")],
    category="planning", root=tool_call("billing_account", 1),
    why="rule 4: asked about an advisory in an area, the agent called the billing tool, which cannot say anything about advisories (service_notices was offered and would have reported one), and answered from it; root table: wrong tool for the job -> the first call of the unsuitable tool")


# ---- skiresort-lift-status-polled-until-turn-limit
add(key="skiresort-lift-status-polled-until-turn-limit", domain="ski resort", agent="pistenservice",
    instructions="Du beantwortest Fragen von Gästen zu Liften, Pisten und Öffnungszeiten im Skigebiet.",
    prompt="Fährt die Gondel Nord heute noch? Wir wollen um 13 Uhr mit den Kindern hoch.",
    tools=[tool("liftstatus", "Aktueller Betriebsstatus eines Lifts.",
                ok({"lift": "Gondel Nord", "status": "geschlossen", "grund": "Windpause", "naechste_pruefung": "11:30"}),
                lift="string")],
    turns=[Call(("liftstatus", {"lift": "Gondel Nord"}))] * 7,
    budget={"max_turns": 5}, declare_budget=False,
    category="planning", root=tool_call("liftstatus", 1),
    why="rule 1: the same status call with the same arguments, answered the same way each time, over and over until a turn limit (visible only in the error text) stops the run; a loop is planning even when it ends at a turn limit; root table: repeated identical call -> the first call of the repeated call")


# ---- film-location-and-production-desks-bounce
add(key="film-location-and-production-desks-bounce", domain="film production", agent="produzione-desk",
    instructions="Coordini il piano di lavorazione di una produzione cinematografica.",
    prompt="Dobbiamo spostare le riprese della scena 42 dal 14 al 16 gennaio: la villa a Frascati è libera quel giorno?",
    tools=[],
    handoffs={"produzione-desk": ("Le domande sulla disponibilità delle location vanno al location-desk.", ["location-desk"]),
              "location-desk": ("Gestisci le location. Le modifiche al piano di lavorazione vanno al produzione-desk.", ["produzione-desk"])},
    turns=[Call(("transfer_to_location_desk", {})), Call(("transfer_to_produzione_desk", {})),
           Call(("transfer_to_location_desk", {})), Call(("transfer_to_produzione_desk", {})),
           Say("Ti ricontatterà qualcuno del team per confermare la data e la villa.")],
    category="planning", root={"kind": "handoff", "ordinal": 1},
    why="rule 1: the two desks pass the request back and forth (A B A B) and nobody answers it; it ends with a vague promise, not with a limit; root table: ping-pong between agents -> the first handoff of the alternation",
    routes=AGENTS_ROUTES)


# ---- pharmacy-refill-ready-without-checking
add(key="pharmacy-refill-ready-without-checking", domain="pharmacy", agent="pharmacy-refill-bot",
    instructions="You answer patients' questions about their prescriptions using the pharmacy system. Always check a prescription's status before telling a patient anything about it.",
    prompt="Is my refill for RX 6620185 ready to pick up? I can come by after work today.",
    tools=[tool("prescription_status", "Fill status, pickup location and copay of a prescription.",
                ok({"rx": "6620185", "status": "waiting for prescriber authorization", "ready": False}),
                rx_number="string")],
    turns=[Say("Yes! Your refill for RX 6620185 is ready at the pickup counter. We're open until 9 pm today and your copay is $12.50.")],
    category="planning", root=llm(1),
    why="rule 4: answers without calling the tool it was given for the job (the status was never checked), with a pickup state, hours and a copay that no tool returned; root table: premature answer -> the LLM call that produced it")


# ---- solar-telemetry-timeout-then-scada-500
add(key="solar-telemetry-timeout-then-scada-500", domain="solar energy", agent="operacion-planta-solar",
    instructions="Entregas datos de operación de la planta fotovoltaica al equipo de despacho.",
    prompt="¿Cuánta energía generó ayer el bloque B de la planta Atacama Sur? Necesito el dato para el informe al coordinador.",
    tools=[tool("telemetria_inversores", "Energía generada por los inversores de un bloque en una fecha.",
                hangs("inverter telemetry gateway"), bloque="string", fecha="string"),
           tool("exportar_scada", "Exporta el histórico del SCADA de un bloque para una fecha.",
                fail("ExportFailed", "500 Internal Server Error: historian query aborted"), bloque="string", fecha="string")],
    turns=[Call(("telemetria_inversores", {"bloque": "B", "fecha": "2026-12-06"})),
           Call(("exportar_scada", {"bloque": "B", "fecha": "2026-12-06"})),
           Say("No pude obtener la generación de ayer del bloque B: la pasarela de telemetría de los inversores no respondió y la exportación del SCADA falló con un error 500. Habrá que sacar el dato del histórico a mano.")],
    category="tool", root=tool_call("telemetria_inversores", 1),
    why="rule 3: the telemetry tool's own timeout fired, the fallback export failed too, and the answer honestly reports the figure could not be obtained; root table: unrecovered tool error or timeout -> the first failing tool call")


# ---- lims-result-decimal-comma-rejected
add(key="lims-result-decimal-comma-rejected", domain="laboratory", agent="labor-assistent",
    instructions="Du trägst Messergebnisse von Wasserproben in das LIMS ein.",
    prompt="Bitte für Probe L-2026-88412 den Bleiwert eintragen: 1,25 µg/L, Methode ICP-MS.",
    tools=[tool("ergebnis_erfassen", "Speichert ein Messergebnis (wert ist eine Zahl) zu einer Probe im LIMS.",
                ok({"gespeichert": True}),
                probe="string", parameter="string", wert="number", einheit="string")],
    turns=[Call(("ergebnis_erfassen", {"probe": "L-2026-88412", "parameter": "Pb", "wert": "1,25", "einheit": "µg/L"})),
           Say("Der Bleiwert konnte nicht gespeichert werden: das LIMS hat die Eingabe abgelehnt. Bitte trag ihn direkt in der Probenmaske ein.")],
    category="tool", root={**tool_call("ergebnis_erfassen", 1), "else": llm(1)},
    why="rule 3: the arguments were rejected by the tool's schema (wert is a number, the model sent the text '1,25' with a decimal comma) and never corrected; the answer reports the value was not stored; root table: schema rejection -> the rejected tool call, else (no span) the LLM call that asked for it")


# ---- recruiting-interview-calendar-fails-after-recovered-lookup
add(key="recruiting-interview-calendar-fails-after-recovered-lookup", domain="recruiting", agent="recruiting-coordinator",
    instructions="You coordinate interviews: look the candidate up in the ATS, then create the calendar event.",
    prompt="Schedule a 45-minute technical interview for candidate C-30918 with Priya and Marcus on Thursday afternoon.",
    tools=[tool("get_candidate", "A candidate's profile from the applicant tracking system.",
                fail("UpstreamError", "502 Bad Gateway from ats-api"),
                ok({"id": "C-30918", "name": "Tomás Herrera", "role": "Backend Engineer", "timezone": "Europe/Madrid"}),
                candidate_id="string"),
           tool("schedule_interview", "Create an interview event with the candidate and interviewers.",
                fail("CalendarError", "500: calendar service could not create event (upstream Exchange error)"),
                candidate_id="string", interviewers="string", day="string", duration_min="integer")],
    turns=[Call(("get_candidate", {"candidate_id": "C-30918"})),
           Call(("get_candidate", {"candidate_id": "C-30918"})),
           Call(("schedule_interview", {"candidate_id": "C-30918", "interviewers": "Priya, Marcus", "day": "2026-12-10 afternoon", "duration_min": 45})),
           Call(("schedule_interview", {"candidate_id": "C-30918", "interviewers": "Priya, Marcus", "day": "2026-12-10 afternoon", "duration_min": 45})),
           Say("I couldn't schedule the interview: the calendar service failed twice when creating the event. Tomás Herrera's profile is fine; please book it from Outlook directly or ask me again later.")],
    category="tool", root=tool_call("schedule_interview", 1),
    why="rule 2 then rule 3: the ATS lookup's 502 was recovered by a retry; the calendar tool then failed, one identical retry failed too, and the answer honestly reports the interview was not scheduled; root table: unrecovered tool error -> the first failing call (the earlier recovered error is not a root)")


# ---- genealogy-register-pages-outgrow-window
add(key="genealogy-register-pages-outgrow-window", domain="genealogy archive", agent="parish-records-researcher", model="gpt-4",
    instructions="You transcribe and search digitised parish registers for family historians.",
    prompt="Trace the baptisms of the Halvorsen family in Stord parish between 1841 and 1860 and list the children with their parents.",
    tools=[tool("read_register_page", "Transcription of one page of a digitised parish register.",
                *[ok(lines(f"Stord ministerialbok 1841-1860 side {p} daap barn far mor faddere bosted", 84)) for p in range(1, 8)],
                book="string", page="integer")],
    turns=[Call(("read_register_page", {"book": "Stord MB 1841-1860", "page": p})) for p in range(1, 8)]
          + [Say("Halvorsen baptisms found: ...")],
    category="context", root=llm(6),
    why="rule 5: each register page read adds to the history until the provider refuses the sixth model call with a context-length error (8k window), in a run that declares tools; no single page floods it; root table: overflow from accumulated history -> the LLM call that failed with the context error")


# ---- podcast-embargo-lost-in-trim-published-early
add(key="podcast-embargo-lost-in-trim-published-early", domain="podcast hosting", agent="podcast-publisher",
    instructions="You prepare and release episodes on the podcast host: check audio, write show notes, then publish or schedule.",
    prompt="Episode 88 is edited. Check the audio and write the show notes, but do NOT publish it yet: schedule it for Friday 06:00 UTC, when our sponsor's embargo lifts.",
    tools=[tool("get_episode", "Metadata and transcript summary of an episode draft.",
                ok({"episode": 88, "title": "Grid batteries, explained", "guest": "Dr. Amara Osei", "summary": "Why utility-scale storage is growing and what limits it."}),
                episode="integer"),
           tool("check_audio", "Loudness and clipping check of an episode's audio.",
                ok({"episode": 88, "loudness_lufs": -16.1, "true_peak_db": -1.2, "duration": "52:14"}),
                episode="integer"),
           tool("publish_episode", "Publish an episode immediately with its show notes.",
                ok({"episode": 88, "status": "live", "url": "https://pod.example/88"}),
                episode="integer", notes="string"),
           tool("schedule_episode", "Schedule an episode for a later release time (UTC).",
                ok({"episode": 88, "status": "scheduled"}),
                episode="integer", notes="string", release_at="string")],
    turns=[Call(("get_episode", {"episode": 88})),
           Call(("check_audio", {"episode": 88})),
           Call(("publish_episode", {"episode": 88, "notes": "Dr. Amara Osei on why grid batteries are booming and what still holds them back."})),
           Say("Episode 88 is live with its show notes: https://pod.example/88. Audio checked: -16.1 LUFS, no clipping.")],
    trim_to=3,
    category="context", root=llm(3),
    why="rule 5: the app keeps only the last 3 history items, so from the third model call on the user's 'do NOT publish, schedule for Friday' is gone, and that call publishes at once; no trimming span exists, so the root is the first LLM call whose input lost the instruction")


# ---- museum-collection-export-floods-window
add(key="museum-collection-export-floods-window", domain="museum collections", agent="collections-assistant", model="gpt-3.5-turbo",
    instructions="You answer curators' questions about the museum's collection database.",
    prompt="How many objects in the textile collection still lack a provenance record? Give me the count by decade of acquisition.",
    tools=[tool("export_collection", "Export every object record of one collection.",
                ok(lines("TX accession title maker date medium acquired provenance none", 1500)),
                collection="string")],
    turns=[Call(("export_collection", {"collection": "textiles"})),
           Say("312 textile objects lack provenance.")],
    category="context", root=tool_call("export_collection", 1),
    why="rule 5: one tool output (the whole collection export) is larger than the 16k window; the next model call fails with a context-length error; root table: overflow from one huge tool output -> the tool call whose output crowded the window")


# ---- brewery-fermentation-logs-token-budget
add(key="brewery-fermentation-logs-token-budget", domain="brewing", agent="brewhouse-qa",
    instructions="You review fermentation logs of the brewery's batches for quality assurance.",
    prompt="Compare the fermentation curves of batches 311, 312 and 313 of the winter stout and tell me which one drifted.",
    tools=[tool("fermentation_log", "Hourly gravity and temperature log of one batch.",
                *[ok(lines(f"batch {b} hour gravity SG temperature C pH yeast pitch", 45)) for b in (311, 312, 313)],
                batch="integer")],
    turns=[Call(("fermentation_log", {"batch": b})) for b in (311, 312, 313)]
          + [Say("Batch 312 drifted: its gravity stalled at 1.024 from hour 60.")],
    budget={"max_total_tokens": 4000},
    category="budget", root=llm(3),
    why="rule 6: a token budget of 4,000 set by the owners (declared); every call reads a different batch (distinct progress), and the running total first exceeds the budget after the third model call; root table: token budget -> the LLM call after which the running total first exceeds it",
    routes=DEFAULT_ROUTES + ("langfuse",))


# ---- fisheries-weekly-catches-cost-cap-in-error
add(key="fisheries-weekly-catches-cost-cap-in-error", domain="fisheries", agent="diario-de-pesca", model="gpt-4o-mini",
    instructions="Acompanhas as capturas da frota e o consumo da quota anual.",
    prompt="Resume as capturas de pescada da frota de Peniche nas semanas 46 a 49 e diz-me se estamos perto da quota.",
    tools=[tool("capturas_semana", "Desembarques por embarcação e espécie numa semana.",
                *[ok(lines(f"semana {w} embarcacao especie pescada kg lota Peniche", 55)) for w in (46, 47, 48, 49)],
                semana="integer")],
    turns=[Call(("capturas_semana", {"semana": w})) for w in (46, 47, 48, 49)]
          + [Say("A frota desembarcou 182 t de pescada nas semanas 46-49, 91% da quota.")],
    budget={"max_cost_usd": 0.001}, declare_budget=False,
    category="budget", root=llm(4),
    why="rule 6: a cost limit set by the owners, visible only in the error text (LiteLLM's BudgetExceededError); each call reads a new week (distinct progress) and the running cost first exceeds it after the fourth model call; root table: cost budget -> the LLM call after which the running total first exceeds it")


# ---- firedept-hydrant-districts-turn-limit-in-error
add(key="firedept-hydrant-districts-turn-limit-in-error", domain="fire department", agent="hydrant-inspection-planner",
    instructions="You plan hydrant inspection crews: collect each district's overdue hydrants, then propose the week's routes.",
    prompt="Compile the overdue hydrant inspections for all six districts so I can plan next week's crews.",
    tools=[tool("overdue_hydrants", "Hydrants past their inspection date in one district.",
                *[ok({"district": d, "overdue": n, "oldest": f"2025-{m:02d}-01"})
                  for d, n, m in (("Harbor", 14, 3), ("Eastside", 9, 5), ("Old Town", 22, 1), ("Northgate", 6, 7), ("Riverside", 11, 4), ("Airport", 3, 9))],
                district="string")],
    turns=[Call(("overdue_hydrants", {"district": d})) for d in ("Harbor", "Eastside", "Old Town", "Northgate", "Riverside", "Airport")]
          + [Say("65 overdue hydrants across six districts; Old Town first.")],
    budget={"max_turns": 4}, declare_budget=False,
    category="budget", root=limit(),
    why="rule 6: every turn asks about a different district (distinct progress, no repetition), and the owners' turn limit (4, visible only in the error text) runs out before the six are done; root table: turn limit -> the deepest step carrying the limit error, else the last LLM call before it")


# ---- mortgage-rate-service-503-then-answered
add(key="mortgage-rate-service-503-then-answered", domain="mortgage lending", agent="bolanerådgivare",
    instructions="Du svarar kunder om bankens aktuella bolåneräntor.",
    prompt="Vad är er aktuella ränta för bunden bolåneränta på 3 år?",
    tools=[tool("aktuella_rantor", "Bankens aktuella bolåneräntor för en bindningstid.",
                fail("ServiceUnavailable", "503 Service Unavailable: rate service warming up"),
                ok({"bindningstid_ar": 3, "ranta_pct": 3.29, "effektiv_ranta_pct": 3.34, "galler_fran": "2026-12-01"}),
                bindningstid_ar="integer")],
    turns=[Call(("aktuella_rantor", {"bindningstid_ar": 3})),
           Call(("aktuella_rantor", {"bindningstid_ar": 3})),
           Say("Just nu är vår bundna ränta på 3 år 3,29 % (effektiv ränta 3,34 %), gällande från den 1 december 2026.")],
    category=None, root=None,
    why="'did not fail': the rate service's 503 was recovered by a later call of the same tool, and the answer (in Swedish) reports exactly what that call returned")


# ---- airport-lost-backpack-honestly-not-found
add(key="airport-lost-backpack-honestly-not-found", domain="airport services", agent="gevonden-voorwerpen",
    instructions="Je helpt reizigers zoeken in het register van gevonden voorwerpen van de luchthaven.",
    prompt="Ik ben gisteren mijn blauwe Osprey-rugzak kwijtgeraakt bij gate D7. Is die gevonden?",
    tools=[tool("zoek_gevonden_voorwerpen", "Zoekt in geregistreerde gevonden voorwerpen op omschrijving, locatie en datum.",
                ok({"matches": [], "doorzocht": "voorwerpen geregistreerd 2026-12-06 t/m 2026-12-07, pier D"}),
                omschrijving="string", locatie="string", sinds="string")],
    turns=[Call(("zoek_gevonden_voorwerpen", {"omschrijving": "blauwe Osprey rugzak", "locatie": "pier D, gate D7", "sinds": "2026-12-06"})),
           Say("Helaas, er is sinds gisteren geen blauwe Osprey-rugzak geregistreerd bij de gevonden voorwerpen van pier D. Vondsten worden soms later ingevoerd, dus zoek gerust over een paar dagen opnieuw.")],
    category=None, root=None,
    why="'did not fail': the search worked and found nothing; the question was whether the backpack had been found, and 'no' is the correct answer from the tool's result, not giving up")


# ---- gym-churn-reasons-near-token-budget
add(key="gym-churn-reasons-near-token-budget", domain="fitness clubs", agent="member-retention-analyst",
    instructions="You analyse membership cancellations across the gym chain's clubs.",
    prompt="Which of our three clubs lost the most members in November, and what reasons did they give?",
    tools=[tool("cancellations", "November membership cancellations of one club, with the stated reasons.",
                *[ok({"club": c, "cancellations": n, "top_reasons": reasons,
                      "records": lines(f"{c} member cancellation reason price moved away schedule", 28)})
                  for c, n, reasons in (("Westpark", 23, ["class schedule", "moved away"]),
                                        ("Centrum", 41, ["price rise", "class schedule"]),
                                        ("Lakeside", 17, ["moved away", "price rise"]))],
                club="string")],
    turns=[Call(("cancellations", {"club": c})) for c in ("Westpark", "Centrum", "Lakeside")]
          + [Say("Centrum lost the most members in November (41), mostly over the price rise; Westpark lost 23 (class schedule first) and Lakeside 17 (moving away first).")],
    budget={"max_total_tokens": 4800},
    category=None, root=None,
    why="'did not fail': a declared token budget of 4,800; the run came close (about seven eighths of it, some 4,200 tokens) but stayed within it and answered")


# ---- bikeshare-station-id-corrected-after-rejection
add(key="bikeshare-station-id-corrected-after-rejection", domain="bike sharing", agent="bikeshare-helper",
    instructions="You help riders find stations and reserve bikes.",
    prompt="Reserve an e-bike for me at the Canal Street station, I'll be there in 10 minutes.",
    tools=[tool("find_station", "Find a docking station by name; returns its numeric id and bikes available.",
                ok({"station_id": 214, "name": "Canal St & Baxter", "ebikes": 3, "classic": 5}),
                name="string"),
           tool("reserve_bike", "Reserve a bike at a station (station_id is the numeric id).",
                ok({"reservation": "R-55190", "station_id": 214, "hold_minutes": 15}),
                station_id="integer", ebike="boolean")],
    turns=[Call(("find_station", {"name": "Canal Street"})),
           Call(("reserve_bike", {"station_id": "Canal St & Baxter", "ebike": True})),
           Call(("reserve_bike", {"station_id": 214, "ebike": True})),
           Say("Done: an e-bike is reserved for you at Canal St & Baxter (reservation R-55190) and held for 15 minutes.")],
    category=None, root=None,
    why="'did not fail': the first reservation call was rejected by the tool's schema (a name for the numeric id), the model corrected it and the next call of the same tool succeeded; the error was recovered and the answer stands. Not recorded through LangGraph, whose ToolNode aborts the run on a schema rejection instead of reporting it, so there the run would really fail",
    routes=("openai-agents", "openinference-agents", "pydantic-ai", "langfuse"))


# ---- maritime-crew-certificates-timeout-recovered
add(key="maritime-crew-certificates-timeout-recovered", domain="maritime crewing", agent="crew-compliance",
    instructions="あなたは船員配乗担当者の質問に、船員証明書データベースの情報で答えます。",
    prompt="来週乗船予定の二等航海士 佐藤健太(船員番号 JP-55102)のSTCW証明書は有効ですか?",
    tools=[tool("crew_certificates", "Certificates of a seafarer with their expiry dates.",
                hangs("crew certificate registry"),
                ok({"seafarer_id": "JP-55102", "certificates": [{"type": "STCW II/1", "valid_until": "2028-03-31"},
                                                                {"type": "Basic Safety Training", "valid_until": "2027-09-14"}]}),
                seafarer_id="string")],
    turns=[Call(("crew_certificates", {"seafarer_id": "JP-55102"})),
           Call(("crew_certificates", {"seafarer_id": "JP-55102"})),
           Say("はい、有効です。STCW II/1 は2028年3月31日まで、基本安全訓練(BST)は2027年9月14日まで有効です。")],
    category=None, root=None,
    why="'did not fail': the registry's timeout on the first call was recovered by an identical retry that returned the certificates, and the answer (in Japanese) reports them")
