"""An answer's facts against what the agent read (planning.ungrounded_answer), a tool that has
nothing to do with the request (planning.irrelevant_tool), and an output cut after a large
tool output: each fires on general behaviour, names the step CLASSIFICATION.md names, and
leaves the look-alikes of a run that did not fail alone."""

import pytest

from traceview.classify.engine import classify, run_findings

from .builders import Run


def fired(inv, rule):
    _, findings = run_findings(inv)
    return [f for f in findings if f.rule == rule]


def _ask(text, system="You answer customers from the company's systems."):
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def _call(name, **args):
    return [{"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "name": name, "arguments": args}]}]


def _run(request, tool, args, result, answer, tools=None, system=None, status="ok"):
    """A run that asks, calls one tool, reads its result and answers."""
    run = Run(status=status, attributes={"tools": tools or [tool]})
    asked = _ask(request) if system is None else _ask(request, system)
    run.llm(_call(tool, **args), input=asked)
    run.tool(tool, args, result)
    answer_at = run.llm(answer, input=asked + [{"role": "tool", "content": str(result)}])
    return run, answer_at


# --- a figure no tool returned ------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, ungrounded",
    [
        ("Your complaint was approved: you get EUR 118,35 back within 5 working days.",
         "EUR 118,35"),
        ("Good news: the claim is approved and $2,340 will be paid by Friday.", "$2,340"),
        ("The refund is on its way, confirmation RF-88213.", "RF-88213"),
        ("Engineering has 142 people.", "142"),
    ],
)
def test_it_fails_an_answer_stating_facts_no_tool_returned_at_the_answer(answer, ungrounded):
    run, answer_at = _run(
        "What happened with complaint KL-55821, and how much do I get back?",
        "get_complaint", {"complaint_id": "KL-55821"},
        {"complaint": "KL-55821", "status": "in progress", "inspection": "2026-12-18",
         "refund": None},
        answer,
    )
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer_at, "planning.ungrounded_answer")
    assert ungrounded in d.evidence[0].detail


@pytest.mark.parametrize(
    "answer",
    [
        # read as returned, or written another way
        "Your order 88213 totals $1,284.50 and ships 18 December 2026.",
        "Order 88213: 1.284,50 USD, shipping on 2026-12-18.",
        # one step of arithmetic: a total, a difference, a share, a change, a conversion
        "The three items come to $1,284.50 plus $15.00 shipping: $1,299.50.",
        "The new price is 15 % above the old one, $112.70 more than before.",
        "Shipping is 1.2 % of the order; the parcel weighs 2,350 g, about 2.35 kg.",
        "Expected in about 1.5 hours (90 minutes).",
        # the total and the mean of one field over the returned records
        "Across the three lines: 1,003 units, 334.33 on average.",
        # small numbers, dates and links are not judged
        "It arrives in 3 to 5 days, around 21.12., or on Dec 22 at the latest.",
        "Track it at https://parcels.example/t/552910344 from tomorrow.",
        # code the answer writes
        "Run `retry --max 500 88213` or set:\n```\ntimeout: 300\nport: 8443\n```",
    ],
)
def test_it_lets_an_answer_whose_facts_come_from_its_tools_stand(answer):
    result = {"order": 88213, "subtotal": 1284.50, "shipping": 15.00, "total": 1299.50,
              "old_price": 751.30, "new_price": 864.00, "weight_g": 2350, "eta_minutes": 90,
              "ship_date": "2026-12-18",
              "lines": [{"sku": "A-1", "units": 400}, {"sku": "B-2", "units": 303},
                        {"sku": "C-3", "units": 300}]}
    run, _ = _run("Where is my order 88213 and what does it cost?", "get_order",
                  {"order_id": 88213}, result, answer)
    assert classify(run.inv).category is None


def test_it_reads_a_bill_added_up_and_a_weight_in_other_units_as_known():
    run, _ = _run("What do I owe for order 88213, and how heavy is it?", "get_bill",
                  {"order_id": 88213}, {"bill": {"items": 1200.0, "tax": 252.0, "shipping": 15.5},
                                        "weight_kg": 2.35},
                  "You owe $1,467.50 in all; the parcel weighs about 5.18 lb.")
    assert classify(run.inv).category is None


def test_it_reads_a_temperature_in_the_other_scale_as_known():
    run, _ = _run("How warm will it be in Lisbon tomorrow?", "weather_forecast",
                  {"city": "Lisbon"}, {"max_c": 22.5, "min_c": 14.0},
                  "Up to 22.5 °C (72.5 °F), down to 57.2 °F at night.")
    assert classify(run.inv).category is None


def test_it_reads_what_a_failed_call_said_as_known():
    run = Run(status="ok", attributes={"tools": ["visa_rules"]})
    run.tool("visa_rules", {"passport": "CA"}, None, status="error",
             error_message="503 Service Unavailable (request id 7c1f-22ab)")
    run.tool("visa_rules", {"passport": "CA"}, {"visa_required": False, "visa_free_days": 45})
    run.llm("The rules service first answered 503, the retry worked: no visa for 45 days.")
    assert classify(run.inv).category is None


def test_it_reads_figures_the_user_gave_as_known():
    run, _ = _run("Convert 1,200 euros for my trip on flight LH-4410.", "fx_rate",
                  {"pair": "EUR/JPY"}, {"rate": 160.5},
                  "At 160.5 yen a euro, your 1,200 euros on LH-4410 are ¥192,600.")
    assert classify(run.inv).category is None


def test_it_only_doubts_an_answer_over_a_table_too_large_to_check():
    table = "\n".join(["field hectares tonnes moisture protein variety"] * 200)
    run, answer_at = _run("Compare this season's wheat yields north and south.", "yield_records",
                          {"group": "all"}, table,
                          "The north averaged 7.9 t/ha against 7.1 t/ha in the south.")
    d = classify(run.inv)
    assert d.category is None
    assert [e.rule for e in d.doubts] == ["planning.ungrounded_answer"]


def test_it_leaves_an_answer_that_gives_up_to_the_give_up_rules():
    run, _ = _run("How much do I get back for complaint KL-55821?", "get_complaint",
                  {"complaint_id": "KL-55821"}, {"status": "in progress"},
                  "I'm sorry, I couldn't work out the EUR 118,35 refund you mentioned.")
    assert not fired(run.inv, "planning.ungrounded_answer")


def test_it_gives_way_to_a_crossed_budget_at_the_same_answer():
    run, answer_at = _run("How much do I get back for complaint KL-55821?", "get_complaint",
                          {"complaint_id": "KL-55821"}, {"status": "in progress"},
                          "You get EUR 118,35 back.")
    run.inv.budgets = {"max_tokens": 1_000}
    run.step(answer_at).input_tokens = 1_500
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", answer_at)
    assert "planning.ungrounded_answer" in [e.rule for e in d.evidence]


# --- a tool that has nothing to do with the request ---------------------------------------------
WEATHER = {"days": [{"date": "2026-12-08", "rain_mm": 0, "wind_kmh": 9}]}


def test_it_roots_an_answer_from_an_unrelated_tool_at_that_tool():
    run, _ = _run(
        "Is the fungicide Vintrex 250 SC registered for grapevines in our region?",
        "weather_forecast", {"lat": 44.8, "lon": -0.57}, WEATHER,
        "Yes, Vintrex 250 SC is fine on grapevines, and Tuesday looks ideal for spraying.",
        tools=["weather_forecast", "pesticide_registry"],
        system="You advise growers. Registration questions are answered from the registry.",
    )
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", "s2", "planning.irrelevant_tool")


def test_it_roots_an_unrelated_tool_whose_answer_states_figures_no_tool_returned_at_the_tool():
    run, _ = _run("How many people are in Engineering and in Sales right now?",
                  "get_org_chart_image", {"root_unit": "company"},
                  {"url": "https://hr.example/orgchart.png", "format": "png"},
                  "Engineering has 142 people and Sales has 57.",
                  tools=["get_org_chart_image", "count_employees"])
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", "s2", "planning.irrelevant_tool")


@pytest.mark.parametrize(
    "request_text, tools",
    [
        # asked in another language than the tool speaks: no sign of a better tool
        ("Wird es morgen in Bordeaux regnen, und wie stark wird der Wind?",
         ["weather_forecast", "pesticide_registry"]),
        # the only tool it had
        ("Is the fungicide Vintrex 250 SC registered for grapevines in our region?",
         ["weather_forecast"]),
    ],
)
def test_it_lets_an_answer_from_a_tool_it_could_not_do_better_than_stand(request_text, tools):
    run, _ = _run(request_text, "weather_forecast", {"lat": 44.8, "lon": -0.57}, WEATHER,
                  "Dry on Tuesday: no rain and 9 km/h of wind, fine for spraying.",
                  tools=tools, system="Du hilfst Winzern.")
    assert not fired(run.inv, "planning.irrelevant_tool")
    assert classify(run.inv).category is None


def test_it_lets_a_tool_that_shares_the_request_s_words_stand():
    run, _ = _run("Will it rain in Bordeaux this week? I want to spray the vines.",
                  "weather_forecast", {"city": "Bordeaux"}, WEATHER,
                  "Dry on Tuesday with light wind: a good day to spray.",
                  tools=["weather_forecast", "pesticide_registry"])
    assert classify(run.inv).category is None


def test_it_leaves_an_unrelated_search_to_the_retrieval_rule():
    run, _ = _run("What does our protocol say about FeLV boosters for indoor adult cats?",
                  "search_guidelines", {"q": "equine dental"},
                  {"hits": [{"title": "Equine dental floating", "score": 0.21}]},
                  "Indoor adult cats get a FeLV booster every 3 years after the first series.",
                  tools=["search_guidelines", "get_vaccine_schedule"])
    assert not fired(run.inv, "planning.irrelevant_tool")


# --- an output cut at the window after a large tool output ---------------------------------------
def test_it_roots_an_output_cut_after_a_large_tool_output_at_the_cut_call():
    run = Run(status="ok")
    run.llm(_call("amm_chapter", chapter="32-42"), model="gpt-4-0613", input_tokens=300)
    flood = run.tool("amm_chapter", {"chapter": "32-42"}, "torque wear pin " * 2_500)
    cut = run.llm("Step 1: inspect the brake wear pin ... Step 59: record the val",
                  model="gpt-4-0613", input_tokens=7_700, output_tokens=480,
                  finish_reason="length")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", cut)
    assert flood in [e.step for e in d.evidence if e.rule == "context.tool_flood"]


def test_it_still_roots_an_overflow_after_a_large_tool_output_at_the_tool():
    run = Run(status="error")
    run.llm(_call("amm_chapter", chapter="32-42"), model="gpt-4-0613", input_tokens=300)
    flood = run.tool("amm_chapter", {"chapter": "32-42"}, "torque wear pin " * 2_500)
    run.llm(None, model="gpt-4-0613", status="error", error_type="BadRequestError",
            error_message="This model's maximum context length is 8192 tokens")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", flood)


# --- an earlier reply that misreads the tools: weak evidence -------------------------------------
def _tshirt_run(status: str, variants: int):
    """A lookup that returned `variants` T-shirts, a reply saying there are 11, a closing
    question; the run and the reply's step."""
    run = Run(status=status)
    run.llm(_call("get_product", product_id="9523456873"), input=_ask("How many T-shirts?"))
    run.tool("get_product", {"product_id": "9523456873"},
             {"variants": [{"id": n, "price": 40 + n} for n in range(1, variants + 1)]})
    reply = run.llm("There are 11 T-shirt options available.")
    run.llm("Anything else I can help with?")
    return run, reply


def test_it_roots_a_failed_run_with_no_other_signal_at_an_earlier_reply_that_misread_the_tools():
    run, misread = _tshirt_run("error", 7)
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", misread, "planning.ungrounded_answer")


def test_it_does_not_fail_a_run_over_an_earlier_reply_alone():
    run, _ = _tshirt_run("ok", 7)
    assert classify(run.inv).category is None


def test_it_reads_a_count_the_tool_returned_in_an_earlier_reply():
    run, _ = _tshirt_run("error", 11)
    assert not fired(run.inv, "planning.ungrounded_answer")


# --- the same lookup asked by another key -------------------------------------------------------
def test_it_takes_a_lookup_by_another_key_that_worked_for_a_recovery():
    run = Run(status="ok", attributes={"tools": ["find_user_id_by_email",
                                                 "find_user_id_by_name_zip"]})
    run.tool("find_user_id_by_email", {"email": "a@example.com"}, "Error: user not found")
    run.tool("find_user_id_by_name_zip", {"first": "Ada", "zip": "32169"}, "ada_3452")
    run.llm("Thanks, Ada: I found your account ada_3452.")
    d = classify(run.inv)
    assert d.category is None
    assert [f.recovered for f in fired(run.inv, "tool.error_result")] == [True]


def test_it_does_not_take_another_act_for_a_recovery_of_a_failed_one():
    run = Run(status="ok", attributes={"tools": ["refund_by_card", "send_email_by_smtp"]})
    bad = run.tool("refund_by_card", {"order": "A1"}, "Error: gateway timeout")
    run.tool("send_email_by_smtp", {"to": "a@example.com"}, {"sent": True})
    run.llm("I could not refund the order; I emailed you the details.")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)
