"""Focused tests of each rule: it fires on its signal, names the right step, and stays quiet
on look-alikes."""

from decimal import Decimal

import pytest

from traceview.classify.engine import classify, run_findings
from traceview.classify.helpers import args_key, excerpt, text_of
from traceview.classify.models_context import context_window

from .builders import Run


def fired(inv, rule):
    _, findings = run_findings(inv)
    return [f for f in findings if f.rule == rule]


# --- tool -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "result",
    [
        "HTTP/1.1 500 Internal Server Error\n<html>oops</html>",
        "404 Not Found: /api/users/7",
        "Error: the record is locked",
        'Traceback (most recent call last):\n  File "x.py", line 1\n'
        "ZeroDivisionError: division by zero",
        "make: *** [all] Error 2\nprocess exited with code 2",
        {"error": {"message": "denied"}, "data": None},
        {"success": False, "reason": "no stock"},
        {"status_code": 503, "body": "down"},
    ],
)
def test_it_reads_an_error_returned_with_an_ok_status(result):
    run = Run(status="ok")
    bad = run.tool("act", {"x": 1}, result)
    run.llm("Here you go.")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


@pytest.mark.parametrize(
    "result",
    [
        {"status": "ok", "error": None, "items": [1, 2]},
        "41 passed, 0 errors in 2.0s\nexit code 0",
        "To handle 429 Too Many Requests, back off and retry.",
    ],
)
def test_it_does_not_read_errors_into_a_good_result(result):
    run = Run(status="ok")
    run.tool("act", {"x": 1}, result)
    run.llm("Done.")
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "message, rule",
    [
        ("1 validation error for Args\nqty\n  Field required", "tool.schema_rejected"),
        ("search() got an unexpected keyword argument 'limit'", "tool.schema_rejected"),
        ("Read timed out. (read timeout=10)", "tool.timeout"),
        ("429 Too Many Requests", "tool.rate_limited"),
        ("Tool frobnicate not found", "tool.unknown_tool"),
        ("KeyError: 'id'", "tool.error_status"),
    ],
)
def test_it_names_the_kind_of_tool_failure(message, rule):
    run = Run()
    bad = run.tool("search", {"q": "x"}, None, status="error", error_message=message)
    assert [f.step for f in fired(run.inv, rule)] == [bad]


def test_it_flags_a_call_to_a_tool_the_agent_does_not_have():
    run = Run(attributes={"gen_ai.agent.tools": [{"name": "search"}, {"name": "read"}]})
    run.tool("search", {"q": "a"}, "found")
    bad = run.tool("delete_all", {}, "ok")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)
    assert d.evidence[0].rule == "tool.unknown_tool"


def test_it_fails_an_ok_run_whose_answer_claims_success_over_a_failed_call():
    run = Run(status="ok")
    run.tool("lookup", {"id": 1}, {"name": "Ann"})
    run.tool(
        "send_email",
        {"to": "ann"},
        None,
        status="error",
        error_message="SMTP 550 mailbox unavailable",
    )
    bad = run.llm("The email has been sent successfully.")
    d = classify(run.inv)
    # CLASSIFICATION.md: a false success claim is planning, rooted at the claiming LLM call
    # (the failed call before it was seen; the claim is the mistake).
    assert (d.category, d.root_step) == ("planning", bad)
    assert d.evidence[0].rule == "planning.false_success"


def test_it_treats_a_provider_outage_as_a_tool_failure():
    run = Run()
    bad = run.llm(
        None, status="error", error_type="APIConnectionError", error_message="Connection error."
    )
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("tool", bad)


# --- budget -----------------------------------------------------------------------------------
def _turns(run, n, tokens=1000, cost="0.01"):
    spans = []
    for k in range(n):
        spans.append(
            run.llm(f"turn {k}", input_tokens=tokens, output_tokens=0, cost_usd=Decimal(cost))
        )
        spans.append(run.tool("t", {"k": k}, f"r{k}"))
    return spans


@pytest.mark.parametrize(
    "budget, value, index",
    [
        ("max_steps", 4, 4),  # the fifth non-agent step
        ("max_tokens", 2500, 4),  # the third model call takes the sum to 3000
        ("max_cost_usd", "0.015", 2),  # the second model call
    ],
)
def test_it_names_the_step_where_a_budget_was_crossed(budget, value, index):
    run = Run(status="ok")
    spans = _turns(run, 4)
    run.inv.budgets = {budget: value}
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", spans[index])


def test_it_reads_budgets_from_the_trace_attributes():
    run = Run(status="ok", attributes={"traceview.budget.max_steps": 2, "max_tokens": 1})
    spans = _turns(run, 2)
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", spans[2])
    assert "max_steps" in d.evidence[0].detail


def test_it_counts_depth_and_subagents_from_agent_spans():
    run = Run(status="ok")
    a = run.add("agent", name="a")
    b = run.add("agent", parent=a, name="b")
    run.inv.budgets = {"max_depth": 2}
    assert classify(run.inv).root_step == b
    run.inv.budgets = {"max_subagents": 1}
    assert classify(run.inv).root_step == b


def test_it_charges_run_level_usage_to_the_last_step():
    run = Run(status="ok", input_tokens=90_000, output_tokens=20_000)
    run.llm("a")
    last = run.llm("b")
    run.inv.budgets = {"max_tokens": 100_000}
    assert classify(run.inv).root_step == last


def test_it_stays_quiet_under_budget():
    run = Run(status="ok")
    _turns(run, 2)
    run.inv.budgets = {
        "max_steps": 10,
        "max_tokens": 10_000,
        "max_cost_usd": "1",
        "max_duration_s": 3600,
    }
    assert classify(run.inv).category is None


def test_it_reads_a_limit_message_in_the_final_output():
    run = Run(status="ok")
    run.tool("t", {}, "x")
    run.inv.output = "Agent stopped due to iteration limit or time limit."
    assert classify(run.inv).category == "budget"


# --- context ----------------------------------------------------------------------------------
def test_it_flags_output_cut_near_the_window():
    run = Run()
    bad = run.llm(
        "The summary is",
        model="gpt-4-0613",
        input_tokens=7_900,
        output_tokens=292,
        finish_reason="length",
    )
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("context", bad)


def test_it_leaves_an_output_cap_with_a_small_prompt_alone():
    run = Run()
    run.llm(
        "The summary is",
        model="gpt-4o",
        input_tokens=900,
        output_tokens=256,
        finish_reason="length",
    )
    assert not fired(run.inv, "context.output_cut")


def test_it_roots_an_overflow_at_the_tool_output_that_flooded_the_window():
    run = Run()
    flood = run.tool("read_logs", {"all": True}, "log line " * 80_000)
    run.llm(
        None,
        model="gpt-4o",
        status="error",
        error_message="This model's maximum context length is 128000 tokens.",
    )
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", flood)


def test_it_does_not_fail_a_run_for_a_big_output_alone():
    run = Run(status="ok")
    run.tool("read_logs", {"all": True}, "log line " * 80_000)
    run.llm("Summary: all good.", model="gpt-4o")
    assert classify(run.inv).category is None


def test_it_sees_a_dropped_system_instruction():
    run = Run()
    system = {"role": "system", "content": "Always answer in French."}
    history = [
        system,
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "bonjour"},
    ]
    run.llm("bonjour", input=history)
    bad = run.llm("Hello!", input=history[1:] + [{"role": "user", "content": "and now?"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


def test_it_sees_a_dropped_instruction_among_messages_that_are_plain_strings():
    # Some senders mix bare strings into a message list; the rule once crashed on them.
    run = Run()
    system = {"role": "system", "content": "Always answer in French."}
    history = [system, {"role": "user", "content": "hi"}, {"role": "user", "content": "ok"},
               {"role": "assistant", "content": "bonjour"}, "a bare string"]
    run.llm("bonjour", input=history)
    bad = run.llm("Hello!", input=history[1:] + ["and now?"])
    assert fired(run.inv, "context.instruction_dropped")
    assert classify(run.inv).root_step == bad


def test_it_ignores_a_new_conversation_with_another_system_prompt():
    run = Run()
    run.llm(
        "a", input=[{"role": "system", "content": "Planner."}, {"role": "user", "content": "plan"}]
    )
    run.llm(
        "b", input=[{"role": "system", "content": "Critic."}, {"role": "user", "content": "review"}]
    )
    assert not fired(run.inv, "context.instruction_dropped")


def test_it_flags_an_empty_retrieval_before_the_answer():
    run = Run()
    bad = run.add("retrieval", name="kb", tool_arguments={"query": "refund policy"}, tool_result=[])
    run.llm("Refunds take 90 days.")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


def test_it_forgives_an_empty_retrieval_followed_by_a_good_one():
    run = Run()
    run.add("retrieval", name="kb", tool_arguments={"query": "refund"}, tool_result=[])
    run.add(
        "retrieval",
        name="kb",
        tool_arguments={"query": "refund policy"},
        tool_result=[{"text": "refund policy: 30 days"}],
    )
    run.llm("Refunds within 30 days.")
    assert not fired(run.inv, "context.retrieval_empty")


# --- planning ---------------------------------------------------------------------------------
def test_it_does_not_call_polling_a_loop():
    run = Run(status="ok")
    for state in ("queued", "running", "done"):
        run.tool("job_status", {"id": 7}, {"state": state})
    run.llm("The job finished.")
    assert classify(run.inv).category is None


def test_it_fails_an_ok_run_that_looped_without_progress():
    run = Run(status="ok")
    first = [run.tool("get", {"k": "same"}, "same") for _ in range(4)][0]
    run.llm("Here is the value.")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("planning", first)


def test_it_sees_ping_pong_between_two_calls():
    run = Run()
    spans = []
    for k in range(3):
        spans.append(run.tool("open", {"f": "a"}, f"v{k}"))
        run.tool("close", {"f": "a"}, f"w{k}")
    assert [f.step for f in fired(run.inv, "planning.ping_pong")] == [spans[0]]


def test_it_sees_agents_handing_off_back_and_forth():
    run = Run()
    first = None
    for _ in range(3):
        span = run.add("handoff", name="to_billing", agent_name="triage")
        first = first or span
        run.add("handoff", name="to_triage", agent_name="billing")
    assert [f.step for f in fired(run.inv, "planning.ping_pong")] == [first]


def test_it_fails_an_ok_run_whose_request_bounced_between_agents_that_did_nothing():
    run = Run(status="ok")
    first = run.add("handoff", name="to_locations", agent_name="production")
    run.llm("")
    run.add("handoff", name="to_production", agent_name="locations")
    run.llm("")
    run.add("handoff", name="to_locations", agent_name="production")
    run.llm("")
    run.add("handoff", name="to_production", agent_name="locations")
    run.llm("Someone from the team will get back to you to confirm.")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("planning", first)


def test_it_accepts_a_supervisor_sending_work_to_the_same_worker_twice():
    run = Run(status="ok")
    run.add("handoff", name="to_researcher", agent_name="supervisor")
    run.tool("search", {"q": "flights to Lisbon"}, "TP 1351 09:40, 212 EUR")
    run.add("handoff", name="to_supervisor", agent_name="researcher")
    run.add("handoff", name="to_researcher", agent_name="supervisor")
    run.tool("search", {"q": "hotels in Lisbon"}, "Hotel Lis, 95 EUR a night")
    run.add("handoff", name="to_supervisor", agent_name="researcher")
    run.llm("Flight TP 1351 at 09:40 for 212 EUR, and Hotel Lis at 95 EUR a night.")
    assert classify(run.inv).category is None


def test_it_blames_the_choice_of_a_tool_that_cannot_do_the_job():
    run = Run()
    bad = run.tool(
        "convert_currency", {"q": "book a flight"}, "This tool only supports currency codes."
    )
    run.llm("Sorry.")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("planning", bad)


def test_it_fails_an_ok_run_that_gave_up():
    run = Run(status="ok")
    run.tool("search", {"q": "x"}, "some text about x here")
    bad = run.llm("I'm unable to complete this request.")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("planning", bad)


def test_it_accepts_an_answer_that_found_no_problems():
    run = Run(status="ok")
    run.tool("lint", {"path": "."}, "0 warnings")
    run.llm("I couldn't find any issues in the code.")
    assert classify(run.inv).category is None


def test_it_flags_an_answer_given_without_using_any_tool():
    run = Run(attributes={"tools": ["search", "calculator"]})
    bad = run.llm("The answer is 12.")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("planning", bad)


def test_it_flags_a_deviation_from_the_agents_own_plan():
    run = Run(attributes={"tools": ["fetch_orders", "refund_order", "send_email"]})
    run.llm(
        "Plan:\n1. fetch_orders for the customer\n"
        "2. refund_order for the damaged item\n3. tell them"
    )
    run.tool("fetch_orders", {"c": 1}, [{"id": 9}])
    off = run.tool("send_email", {"c": 1}, "queued")
    run.llm("All done.")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", off)


# --- message-only -----------------------------------------------------------------------------
def _chat(run, who, text, kind="llm"):
    return run.add(kind, agent_name=who, output=text)


def test_it_roots_a_failed_execution_at_the_message_that_asked_for_it():
    run = Run()
    _chat(run, "Planner", "Let's count the rows.")
    author = _chat(run, "Coder", "```python\nprint(len(open('x.csv').readlines()))\n```")
    _chat(
        run,
        "Computer_terminal",
        "exitcode: 1 (execution failed)\nCode output: FileNotFoundError: x.csv",
        kind="other",
    )
    _chat(run, "Checker", "The result has been verified: there are 12 rows. TERMINATE")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", author)


def test_it_sees_a_chat_going_round_in_circles():
    run = Run()
    first = None
    for _ in range(3):
        span = _chat(run, "Coder", "Please provide the file so I can continue.")
        first = first or span
        _chat(run, "Critic", "There is nothing to review yet.")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", first)


# --- helpers ----------------------------------------------------------------------------------
def test_it_bounds_flattened_payloads():
    text = text_of({"a": ["x" * 50_000, {"b": "tail"}]}, limit=1_000)
    assert len(text) <= 1_010


def test_it_compares_arguments_in_any_key_order():
    assert args_key({"a": 1, "b": [1, 2]}) == args_key('{"b": [1, 2], "a": 1}')


def test_it_keeps_excerpts_short_and_on_one_line():
    assert len(excerpt("line\n" * 500)) <= 202


@pytest.mark.parametrize(
    "model, window",
    [
        ("gpt-4o-2024-08-06", 128_000),
        ("openai/gpt-4-0613", 8_192),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", 200_000),
        ("my-own-model", None),
    ],
)
def test_it_knows_the_context_window_of_common_models(model, window):
    assert context_window(model) == window


# --- rules added with ruleset 0.2 ---------------------------------------------------------------
def test_it_flags_a_reply_stating_a_figure_no_tool_returned():
    run = Run(status="error")
    run.llm({"role": "assistant", "content": None, "tool_calls": [{"name": "list_items"}]})
    items = [{"id": 4411, "price": 50.88}, {"id": 4412, "price": 12.5}]
    run.tool("list_items", {}, {"items": items})
    bad = run.llm({"role": "assistant", "content": "There are 117 items; the first costs $50.88."})
    d = classify(run.inv)
    # The tools worked: the reply claims a result the trace does not support (planning).
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", bad, "planning.ungrounded_answer")


def test_it_does_not_flag_figures_read_or_computed_from_tool_results():
    run = Run(status="error")
    run.tool("get_prices", {"sku": "A"}, {"old": 514.72, "new": 532.58})
    run.llm("The new price is $532.58, a difference of $17.86.")
    assert not fired(run.inv, "planning.ungrounded_answer")


def test_it_takes_a_call_that_filled_the_window_as_cut_when_no_finish_reason_was_sent():
    run = Run(status="error")
    bad = run.llm("The report covers 1. Background 2.", model="gpt-4-0613", input_tokens=8_000,
                  output_tokens=192)
    assert fired(run.inv, "context.output_cut")[0].step == bad
    run.step(bad).input_tokens = 3_000
    assert not fired(run.inv, "context.output_cut")


def test_it_reads_budgets_sent_on_the_root_span():
    run = Run(status="ok")
    run.step("s0").attributes = {"budget.max_steps": 2}
    for _ in range(2):
        run.llm()
        run.tool("lookup", {"q": "x"})
    d = classify(run.inv)
    assert d.category == "budget" and d.evidence[0].rule == "budget.crossed"


def test_it_reads_tools_declared_on_llm_spans():
    run = Run(status="error")
    run.llm(attributes={"llm.tools.0.tool.json_schema": '{"function": {"name": "lookup"}}'})
    bad = run.tool("fetch_url", {"u": "x"}, "ok")
    assert fired(run.inv, "tool.unknown_tool")[0].step == bad


def test_it_reads_execution_results_posted_as_tool_steps_in_a_chat():
    run = Run(status="error")
    run.add("other", agent_name="user", output="Count the rows of data.csv")
    author = run.llm("```python\nprint(len(open('data.csv').readlines()))\n```",
                     agent_name="Coder")
    run.add("tool", tool_name="code_execution", agent_name="Computer_terminal",
            tool_result="exitcode: 1 (execution failed)\nFileNotFoundError: data.csv")
    run.llm("The answer is 42.", agent_name="Verifier")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", author)
    assert not fired(run.inv, "planning.repeated_call")


def test_it_does_not_call_an_instruction_dropped_when_inputs_are_deltas():
    run = Run(status="error")
    run.llm(input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            attributes={"context_messages": 0})
    run.llm(input=[{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}],
            attributes={"context_messages": 2})
    assert not fired(run.inv, "context.instruction_dropped")
