"""Batch "blind-1", tuning split: scenarios written from /work/shared/CLASSIFICATION.md and issue
14 alone, by a helper who never read the classifier's rules, their docs or their tests, and
labelled before anything was measured on them. Their own seeded third is in holdout/
(`record.splits_by_batch`)."""
# ruff: noqa: E501 -- scripted wording reads best on one line

from ..kit import (
    DEFAULT_ROUTES,
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

BATCH = "blind-1"
SCENARIOS: list = []
add = batch_adder(BATCH, SCENARIOS)


# ---- hr-payroll-adjustment-claimed-after-rejection
add(key="hr-payroll-adjustment-claimed-after-rejection", domain="hr", agent="payroll-assistant",
    instructions="You help HR staff correct payroll. Check the employee record, then submit the adjustment. Report the outcome faithfully.",
    prompt="Kenji Mori (EMP-5520) was underpaid 6 hours of overtime in October at 1.5x. Please fix it on the next run.",
    tools=[tool("get_employee", "Look up an employee's payroll record.",
                ok({"id": "EMP-5520", "name": "Kenji Mori", "hourly_rate": 31.2, "pay_group": "biweekly-B"}),
                employee_id="string"),
           tool("submit_payroll_adjustment", "Queue a one-off adjustment for the next payroll run.",
                fail("AdjustmentRejected", "pay period 2026-10 is locked; adjustments must go through off-cycle request form OC-2"),
                employee_id="string", amount="number", reason="string")],
    turns=[Call(("get_employee", {"employee_id": "EMP-5520"})),
           Call(("submit_payroll_adjustment", {"employee_id": "EMP-5520", "amount": 280.8, "reason": "October overtime 6h x 1.5"})),
           Say("Sorted. Kenji's $280.80 overtime correction is queued and will appear on his next biweekly payslip.")],
    category="planning", root=llm(3),
    why="rule 4: the answer says the adjustment is queued, but the only call that could queue it was rejected and never redone; root table: false success claim -> the LLM call that produced the answer",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- health-clinic-slots-found-yet-declined
add(key="health-clinic-slots-found-yet-declined", domain="healthcare", agent="clinic-scheduler",
    instructions="You book appointments at Riverside Family Clinic. Offer the patient concrete slots.",
    prompt="I need a follow-up with Dr. Amadi sometime next week, mornings if possible.",
    tools=[tool("find_open_slots", "Open appointment slots for a clinician in a date range.",
                ok({"clinician": "Dr. N. Amadi", "slots": ["2026-12-15T09:20", "2026-12-16T10:40", "2026-12-18T08:00"]}),
                clinician="string", start="string", end="string")],
    turns=[Call(("find_open_slots", {"clinician": "Amadi", "start": "2026-12-14", "end": "2026-12-18"})),
           Say("I'm afraid there's nothing I can arrange for you here. It would be best to ring the front desk on 555-0142.")],
    category="planning", root=llm(2),
    why="rule 4: gives up although the tool worked and returned three morning slots (no tool error anywhere); root table: giving up -> the LLM call that produced that answer")




# ---- legal-indemnity-cap-without-opening-contract
add(key="legal-indemnity-cap-without-opening-contract", domain="legal", agent="contract-reviewer",
    instructions="You answer questions about contracts in the matter workspace. Always open the contract with get_contract or search_clauses before quoting any term.",
    prompt="What's the indemnity cap in the Halvorsen Shipping MSA (matter 2291)?",
    tools=[tool("get_contract", "Full text of a contract in a matter.", ok("12.3 Indemnification. Liability under this Section is capped at EUR 2,000,000."),
                matter_id="string", document="string"),
           tool("search_clauses", "Find clauses in a matter's contracts by keyword.", ok({"hits": [{"section": "12.3", "text": "capped at EUR 2,000,000"}]}),
                matter_id="string", query="string")],
    turns=[Say("The Halvorsen MSA caps indemnity at twelve months of fees, which is the standard position in their paper.")],
    category="planning", root=llm(1),
    why="rule 4: answers without calling either tool it was given for the job (the contract was never opened, and the figure comes from nowhere); root table: premature answer -> the LLM call that produced it")




# ---- edu-roster-gradebook-back-and-forth
add(key="edu-roster-gradebook-back-and-forth", domain="education", agent="registrar-aide",
    instructions="Tu aides le secrétariat pédagogique à retrouver les notes des étudiants.",
    prompt="Quelle note a obtenue Léa Fontaine (L2 informatique) à l'examen de réseaux ?",
    tools=[tool("get_roster", "Liste des étudiants d'une promotion.", ok({"promo": "L2-INFO", "students": [{"id": "20231187", "name": "Léa Fontaine"}]}), promo="string"),
           tool("get_gradebook", "Notes d'un module pour une promotion.", ok({"module": "RES-201", "grades": {"20231187": 14.5, "20231190": 11.0}}), module="string", promo="string")],
    turns=[Call(("get_roster", {"promo": "L2-INFO"})),
           Call(("get_gradebook", {"module": "RES-201", "promo": "L2-INFO"})),
           Call(("get_roster", {"promo": "L2-INFO"})),
           Call(("get_gradebook", {"module": "RES-201", "promo": "L2-INFO"})),
           Call(("get_roster", {"promo": "L2-INFO"})),
           Call(("get_gradebook", {"module": "RES-201", "promo": "L2-INFO"})),
           Say("Désolée, je n'arrive pas à retrouver cette note pour le moment.")],
    category="planning", root=tool_call("get_roster", 1),
    why="rule 1: alternates between the same two calls (A B A B A B) although both answered, then gives up; root table: ping-pong between tools -> the first call of the alternation")




# ---- returns-label-claimed-in-spanish
add(key="returns-label-claimed-in-spanish", domain="e-commerce returns", agent="devoluciones",
    instructions="Gestionas devoluciones de la tienda online Brisa. Crea la etiqueta de devolución con la paquetería y envíala al cliente.",
    prompt="Quiero devolver las zapatillas del pedido BR-77310, me quedan pequeñas.",
    tools=[tool("get_order", "Datos de un pedido.", ok({"order": "BR-77310", "items": [{"sku": "ZP-RUN-42", "name": "Zapatillas Trail 42"}], "returnable": True}), order_id="string"),
           tool("create_return_label", "Genera una etiqueta de devolución con la paquetería.",
                fail("CarrierAPIError", "SEUR: 401 Unauthorized - API credentials expired"), order_id="string", sku="string")],
    turns=[Call(("get_order", {"order_id": "BR-77310"})),
           Call(("create_return_label", {"order_id": "BR-77310", "sku": "ZP-RUN-42"})),
           Say("¡Listo! Ya tienes tu etiqueta de devolución de SEUR en tu correo. Deja el paquete en cualquier punto Pickup y te reembolsaremos en cuanto llegue.")],
    category="planning", root=llm(3),
    why="rule 4: claims (in Spanish) a label that the trace does not support: the only label call failed and was never redone; root table: false success claim -> the LLM call that produced the answer")




# ---- travel-flight-change-failed-twice-reported
add(key="travel-flight-change-failed-twice-reported", domain="travel", agent="corporate-travel",
    instructions="You rebook business travel for employees.",
    prompt="Move my LH 1187 Frankfurt-Oslo flight on Thursday to the evening departure, same fare class.",
    tools=[tool("get_booking", "A traveller's booking by flight number.", ok({"pnr": "6KQ2ZT", "flight": "LH1187", "date": "2026-12-10", "fare": "Y-flex"}), flight="string"),
           tool("change_flight", "Change a booked segment to another departure.",
                fail("GDSError", "Amadeus: SEGMENT NOT MODIFIABLE - UNABLE TO PROCESS (code 9371)"), pnr="string", new_departure="string")],
    turns=[Call(("get_booking", {"flight": "LH1187"})),
           Call(("change_flight", {"pnr": "6KQ2ZT", "new_departure": "LH1191 19:35"})),
           Call(("change_flight", {"pnr": "6KQ2ZT", "new_departure": "LH1191 19:35"})),
           Say("I tried twice, but the reservation system refuses to modify this segment, so you are still on the original morning flight. The travel desk can change it by phone.")],
    category="tool", root=tool_call("change_flight", 1),
    why="rule 3: the change tool failed, one identical retry failed too, and the answer honestly says the task could not be done; root table: unrecovered tool error -> the first failing tool call")




# ---- hr-pto-update-tool-not-offered
add(key="hr-pto-update-tool-not-offered", domain="hr", agent="leave-desk",
    instructions="You answer employees' questions about leave balances.",
    prompt="Please add the 2 days I worked over the holidays back to my PTO balance. I'm EMP-7741.",
    tools=[tool("get_leave_balance", "An employee's leave balances.", ok({"employee": "EMP-7741", "pto_days": 6.5, "sick_days": 4}), employee_id="string")],
    turns=[Call(("get_leave_balance", {"employee_id": "EMP-7741"})),
           Call(("credit_pto_days", {"employee_id": "EMP-7741", "days": 2})),
           Say("I couldn't add the days: the balance-crediting action isn't available to me here. HR operations can credit them for you.")],
    category="tool", root={**tool_call("credit_pto_days", 1), "else": llm(2)},
    why="rule 3: a call to a tool that does not exist is a tool failure even though the model emitted it; root table: unknown tool -> the rejected call, or where the framework emits no tool span, the LLM call that asked for it")




# ---- edu-enrolment-id-rejected-by-schema
add(key="edu-enrolment-id-rejected-by-schema", domain="education", agent="enrolment-bot",
    instructions="You enrol students in course sections.",
    prompt="Enrol student S-20931 in CHEM-110 section B.",
    tools=[tool("find_section", "Find a course section and its seats.", ok({"section_id": 88412, "course": "CHEM-110", "section": "B", "seats_left": 7}), course="string", section="string"),
           tool("enrol_student", "Enrol a student (numeric id) in a section (numeric id).", ok({"status": "enrolled"}), student_id="integer", section_id="integer")],
    turns=[Call(("find_section", {"course": "CHEM-110", "section": "B"})),
           Call(("enrol_student", {"student_id": "S-20931", "section_id": 88412})),
           Say("The enrolment system would not accept the student number in that form, so S-20931 is not enrolled yet. Could you give me the numeric student id?")],
    category="tool", root={**tool_call("enrol_student", 1), "else": llm(2)},
    why="rule 3: arguments rejected by the tool's schema (a string for an integer id) are a tool failure; the answer reports it; root table: schema rejection -> the rejected tool call")




# ---- devops-heap-dump-floods-window
add(key="devops-heap-dump-floods-window", domain="devops", agent="jvm-doctor", model="gpt-4",
    instructions="Diagnose memory problems of JVM services.",
    prompt="order-svc-7 got OOM-killed twice tonight. What's eating the heap?",
    tools=[tool("get_heap_histogram", "Class histogram of a JVM's heap.",
                ok(lines("java.util.HashMap$Node 48211203 instances 1.4GB com.acme.order.CacheEntry", 400)), pod="string")],
    turns=[Call(("get_heap_histogram", {"pod": "order-svc-7"})),
           Say("The order cache is the culprit.")],
    category="context", root=tool_call("get_heap_histogram", 1),
    why="rule 5: one tool output larger than the whole window; the next model call fails with a context-length error; root table: overflow from one huge tool output -> the tool call whose output crowded the window")




# ---- hr-handbook-search-off-topic-answered
add(key="hr-handbook-search-off-topic-answered", domain="hr", agent="policy-helper",
    instructions="Answer policy questions from the employee handbook. Use search_handbook and quote what it returns.",
    prompt="How many weeks of paid parental leave do second parents get?",
    tools=[tool("search_handbook", "Retrieve the handbook passages most similar to a query.",
                ok({"passages": [
                    {"section": "7.2 Parking", "text": "Permits for the north garage are renewed every January through the facilities portal."},
                    {"section": "9.1 Dress code", "text": "Business casual applies Monday to Thursday; Fridays are casual."},
                    {"section": "4.8 Expense claims", "text": "Claims older than 90 days cannot be reimbursed."}]}),
                query="string")],
    turns=[Call(("search_handbook", {"query": "paid parental leave second parent weeks"})),
           Say("Second parents get 12 weeks of fully paid parental leave, to be taken within the first year.")],
    category="context", root=tool_call("search_handbook", 1),
    why="rule 5: retrieval returned nothing relevant (parking, dress code, expenses) and the agent answered anyway with a figure no passage contains; root table: irrelevant retrieval answered anyway -> the retrieval call",
    routes=DEFAULT_ROUTES + ("langfuse",))




# ---- travel-vegetarian-note-trimmed-away
add(key="travel-vegetarian-note-trimmed-away", domain="travel", agent="city-concierge",
    instructions="You plan evenings for hotel guests: find restaurants near their hotel and check that tables are free.",
    prompt="Book me dinner near my hotel in Lyon tomorrow at 8. I'm strictly vegetarian, nothing with meat or fish please.",
    tools=[tool("get_guest_hotel", "The hotel a guest is staying at.", ok({"hotel": "Hôtel des Célestins", "district": "Lyon 2e"}), guest="string"),
           tool("search_restaurants", "Restaurants near a place, with cuisine tags.",
                ok({"results": [{"name": "Le Potager des Halles", "tags": ["vegetarian", "seasonal"]}, {"name": "Daniel et Denise", "tags": ["bouchon", "charcuterie"]}]}),
                near="string", diet="string"),
           tool("check_table", "Whether a restaurant has a free table.", ok({"free": True}), restaurant="string", time="string")],
    turns=[Call(("get_guest_hotel", {"guest": "current"})),
           Call(("search_restaurants", {"near": "Hôtel des Célestins", "diet": "vegetarian"})),
           Call(("check_table", {"restaurant": "Daniel et Denise", "time": "20:00"})),
           Say("You're booked at Daniel et Denise at 8pm tomorrow: a classic Lyon bouchon, their pâté en croûte and quenelles de brochet are famous.")],
    trim_to=3,
    category="context", root=llm(3),
    why="rule 5: the app keeps only the last 3 messages, so from the third model call on the guest's 'strictly vegetarian' is gone and the answer books a meat-and-fish bouchon; no trimming step in the trace; root table: instruction dropped by trimming -> the first LLM call whose input lost it")




# ---- logistics-manifest-token-limit-in-error-only
add(key="logistics-manifest-token-limit-in-error-only", domain="logistics", agent="manifest-checker",
    instructions="Check that warehouse manifests match the purchase orders.",
    prompt="Check manifest WH-DE-2210 against PO 55-1840 and PO 55-1841.",
    tools=[tool("get_manifest", "Lines of a warehouse manifest.", ok(lines("WH-DE-2210 pallet SKU-4410 qty 48 lot 2026-11", 40)), manifest="string"),
           tool("get_po", "Lines of a purchase order.", ok(lines("PO 55-1840 SKU-4410 qty 48 unit EUR 12.40", 40)), po="string")],
    turns=[Call(("get_manifest", {"manifest": "WH-DE-2210"})),
           Call(("get_po", {"po": "55-1840"})),
           Call(("get_po", {"po": "55-1841"})),
           Say("Everything matches.")],
    budget={"max_total_tokens": 3000}, declare_budget=False,
    category="budget", root=llm(3),
    why="rule 6: a token budget set by the owners and visible only in the error text is crossed after the third model call, while every turn made distinct progress; root table: token budget -> the LLM call after which the running total first exceeds it")




# ---- devops-smoke-suite-run-deadline
add(key="devops-smoke-suite-run-deadline", domain="devops", agent="smoke-runner",
    instructions="Run the smoke tests one by one after a deploy and report.",
    prompt="Run the smoke suite against staging-eu for release 2026.12.07-2.",
    tools=[tool("run_smoke_test", "Run one smoke test against an environment.", ok("PASS", seconds=0.1), ok("PASS", seconds=6.0), ok("PASS", seconds=0.1), test="string", env="string")],
    turns=[Call(("run_smoke_test", {"test": t, "env": "staging-eu"})) for t in ("login", "search", "checkout", "refund")]
          + [Say("All four smoke tests passed.")],
    budget={"deadline_s": 5.0},
    category="budget", root=tool_call("run_smoke_test", 3),
    why="rule 6: the whole run's wall-clock deadline (5 s, declared) passes before the third test can start; each test itself was quick and fine, so it is budget, not a tool timeout; root table: run deadline -> the step carrying the deadline error")




# ---- edu-curriculum-lead-over-subagent-cap
add(key="edu-curriculum-lead-over-subagent-cap", domain="education", agent="curriculum-lead",
    instructions="Design a course by delegating each unit to a unit-writer sub-agent.",
    prompt="Draft a 4-unit intro course on data literacy for first-year nursing students.",
    tools=[tool("assign_unit_writer", "Start a unit-writer sub-agent on one unit.",
                agent=SubAgent("unit-writer", "Write a short outline for the unit you are given.",
                               [Say("Outline: 3 lessons, 1 exercise, 1 quiz.")]),
                unit="string")],
    turns=[Call(("assign_unit_writer", {"unit": u})) for u in ("reading charts", "basic statistics", "spreadsheets", "evaluating evidence")]
          + [Say("Here is the full course outline.")],
    budget={"max_subagents": 3},
    category="budget", root=tool_call("assign_unit_writer", 4),
    why="rule 6: the owners allow 3 sub-agents per request (declared); the fourth start is refused and aborts the run; root table: too many sub-agents -> the call that tried to start the sub-agent over the limit")




# ---- devops-error-burst-summarised-from-logs
add(key="devops-error-burst-summarised-from-logs", domain="devops", agent="log-analyst",
    instructions="Summarise what the logs say; quote the error lines that matter.",
    prompt="What errors did auth-gateway log between 03:00 and 03:15?",
    tools=[tool("search_logs", "Search a service's logs in a time window.",
                ok({"hits": ["03:02:11 ERROR TokenValidationException: signature expired for kid=7f2a",
                             "03:02:12 ERROR upstream 502 from userinfo",
                             "03:09:40 FATAL connection pool exhausted (max=50)"], "count": 3}),
                service="string", since="string", until="string")],
    turns=[Call(("search_logs", {"service": "auth-gateway", "since": "03:00", "until": "03:15"})),
           Say("Three error lines: an expired token signature (kid 7f2a) at 03:02:11, a 502 from userinfo a second later, and a FATAL 'connection pool exhausted (max=50)' at 03:09:40. The pool exhaustion is the one to look at first.")],
    category=None, root=None,
    why="did not fail: the error and FATAL words are data inside a tool output that worked, and the answer reports them as asked")




# ---- health-saturday-slot-honestly-none
add(key="health-saturday-slot-honestly-none", domain="healthcare", agent="physio-booking",
    instructions="Answer patients' questions about physiotherapy availability.",
    prompt="Does anyone at the Eastside physio clinic have a Saturday slot next week?",
    tools=[tool("list_availability", "Availability of all therapists at a clinic for a week.",
                ok({"clinic": "Eastside", "week": "2026-W51", "saturday": [], "friday": ["16:30 J. Okafor", "17:15 M. Lind"]}),
                clinic="string", week="string")],
    turns=[Call(("list_availability", {"clinic": "Eastside", "week": "2026-W51"})),
           Say("No - nobody at Eastside has a Saturday opening next week. The latest slots are on Friday: 16:30 with J. Okafor or 17:15 with M. Lind. Want me to hold one?")],
    category=None, root=None,
    why="did not fail: the question was whether a Saturday slot exists; the tool worked and the answer correctly says none does (a negative answer, not giving up)")




# ---- legal-two-researchers-under-cap
add(key="legal-two-researchers-under-cap", domain="legal", agent="research-partner",
    instructions="Split legal research questions and delegate each to an associate sub-agent.",
    prompt="Is a non-compete enforceable for a software engineer in California and in Washington?",
    tools=[tool("ask_associate", "Start an associate sub-agent on one research question.",
                agent=SubAgent("associate", "Answer the research question in two sentences with the statute.",
                               [Say("Generally unenforceable (Cal. Bus. & Prof. Code 16600); Washington voids them under an earnings threshold (RCW 49.62).")]),
                question="string")],
    turns=[Call(("ask_associate", {"question": "non-compete enforceability California"})),
           Call(("ask_associate", {"question": "non-compete enforceability Washington"})),
           Say("California: void under B&P 16600. Washington: enforceable only above the RCW 49.62 earnings threshold and with notice.")],
    budget={"max_subagents": 3},
    category=None, root=None,
    why="did not fail: the orchestrator ran two sub-agents under its declared limit of three and answered")




# ---- hr-leave-approved-with-apology
add(key="hr-leave-approved-with-apology", domain="hr", agent="leave-desk",
    instructions="Record leave requests that managers have approved.",
    prompt="My manager okayed 22-23 December off. Can you put it in? EMP-3308.",
    tools=[tool("record_leave", "Record approved leave for an employee.", ok({"request": "LV-20931", "status": "recorded", "days": 2}), employee_id="string", start="string", end="string")],
    turns=[Call(("record_leave", {"employee_id": "EMP-3308", "start": "2026-12-22", "end": "2026-12-23"})),
           Say("Sorry this took a moment! Your two days off on 22-23 December are recorded (request LV-20931). Nothing else is needed from you.")],
    category=None, root=None,
    why="did not fail: the tool worked and the answer reports its result; the apology is politeness, not a failure")
