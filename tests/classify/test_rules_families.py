"""The failure families of CLASSIFICATION.md that issue 14 found missed, each as general
behaviour on small hand-built runs: the family fires, names the step the table names, and a
look-alike that did not fail stays a success."""

import json

import pytest

from traceview.classify.engine import classify

from .builders import Run

TOOLS = {"tools": ["lookup_order", "issue_refund"]}


def _call(name, **args):
    return [{"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "name": name, "arguments": args}]}]


def _say(text):
    return [{"role": "assistant", "content": text}]


def _conversation(*texts, system="You are the refund desk. Always confirm amounts."):
    return [{"role": "system", "content": system}] + [
        {"role": "user" if n % 2 == 0 else "assistant", "content": t} for n, t in enumerate(texts)
    ]


# --- root reports OK but the run failed ---------------------------------------------------------
@pytest.mark.parametrize(
    "claim",
    [
        "All done! I've refunded $84.00 to your card.",
        "The refund has been processed successfully.",
        "Your refund went through; expect it in 3-5 days.",
    ],
)
def test_it_roots_a_success_claimed_over_a_failed_call_at_the_claim(claim):
    run = Run(status="ok", attributes=TOOLS)
    run.llm(_call("issue_refund", order="A1"))
    run.tool("issue_refund", {"order": "A1"}, None, status="error",
             error_type="GatewayDeclined", error_message="card processor declined (05)")
    answer = run.llm(_say(claim))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)
    assert d.evidence[0].rule == "planning.false_success"
    assert "claim:" in d.evidence[0].detail


def test_it_keeps_an_honest_report_of_a_failed_call_a_tool_failure():
    run = Run(status="ok", attributes=TOOLS)
    run.llm(_call("issue_refund", order="A1"))
    bad = run.tool("issue_refund", {"order": "A1"}, None, status="error",
                   error_message="card processor declined (05)")
    run.llm(_say("The card processor declined the refund, so nothing was refunded yet."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


def test_it_fails_an_answer_that_gives_up_although_its_tools_worked():
    run = Run(status="ok", attributes={"tools": ["search_hotels"]})
    run.llm(_call("search_hotels", city="Porto"))
    run.tool("search_hotels", {"city": "Porto"}, {"results": [{"name": "Casa", "eur": 120}]})
    answer = run.llm(_say("Unfortunately I wasn't able to find anything that fits."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)


def test_it_fails_an_answer_given_without_the_tools_it_was_told_to_use():
    run = Run(status="ok")
    answer = run.llm(
        _say("The lockfile pins pyyaml 5.4.1."),
        input=_conversation("Which pyyaml is pinned?",
                            system="Read files with read_file before answering."),
    )
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)
    assert "read_file" in d.evidence[0].detail


def test_it_lets_a_plain_answer_without_tools_stand():
    run = Run(status="ok", attributes={"tools": ["read_file"]})
    run.llm(_say("Hello! How can I help with the repository?"),
            input=_conversation("hi", system="You answer questions about the repository."))
    assert classify(run.inv).category is None


def test_it_roots_a_tool_that_cannot_do_the_job_at_its_call():
    run = Run(status="ok", attributes={"tools": ["get_stock_quote", "convert_currency"]})
    run.llm(_call("get_stock_quote", symbol="EURJPY"))
    bad = run.tool("get_stock_quote", {"symbol": "EURJPY"},
                   {"message": "unsupported symbol: only NYSE equities are quoted"})
    run.llm(_say("The rate is 161.3, so you get 193,560 yen."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", bad)


# --- context ------------------------------------------------------------------------------------
def test_it_roots_an_irrelevant_retrieval_answered_anyway_at_the_retrieval():
    run = Run(status="ok")
    run.llm(_call("retrieve_passages", question="apixaban dose on dialysis"))
    bad = run.tool("retrieve_passages", {"question": "apixaban maximum dose on dialysis"},
                   {"passages": [{"text": "Yellow fever vaccine is given before travel."},
                                 {"text": "Shake the inhaler and exhale fully first."}]})
    run.llm(_say("The maximum is 5 mg twice daily."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


def test_it_lets_a_relevant_retrieval_stand():
    run = Run(status="ok")
    run.tool("search_manual", {"query": "error E24 drain"},
             {"documents": [{"text": "E24: drain error - the drain hose is kinked."}]})
    run.llm(_say("E24 is a drain error: check the hose."))
    assert classify(run.inv).category is None


def test_it_roots_an_instruction_lost_to_trimming_at_the_first_call_without_it():
    run = Run(status="ok")
    run.llm(_say("ok"), input=_conversation("refund A1", "Looking it up."))
    lost = run.llm(_say("Refunded."), input=_conversation(
        "refund A1", "Looking it up.", "it was 84 dollars", system="")[2:])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", lost)


def test_it_roots_a_task_trimmed_away_under_a_kept_system_message_at_the_first_call_without_it():
    # Apps that keep the last N messages keep the system message and drop the task, with the
    # instruction it carried ("reply in French").
    run = Run(status="ok")
    sys = "You write release notes."
    task = "Summarise the changes. Reply in French."
    run.llm(_call("list_commits"), input=[{"role": "system", "content": sys},
                                          {"role": "user", "content": task}])
    run.tool("list_commits", {}, "a1 fix rounding")
    run.llm(_call("read_file", path="CHANGES"), input=[
        {"role": "system", "content": sys}, {"role": "user", "content": task},
        {"role": "tool", "content": "a1 fix rounding"}])
    run.tool("read_file", {"path": "CHANGES"}, "rounding fixed")
    lost = run.llm(_say("Rounding was fixed."), input=[
        {"role": "system", "content": sys}, {"role": "tool", "content": "a1 fix rounding"},
        {"role": "tool", "content": "rounding fixed"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", lost)
    assert "first user" in d.evidence[0].detail


def test_it_does_not_take_a_second_run_of_a_sub_agent_for_trimmed_history():
    run = Run(status="ok")
    for question in ("market size", "growth by country"):
        run.llm(_say("Finding: 12%"), input=_conversation(question, system="Answer briefly."))
    assert classify(run.inv).category is None


def test_it_does_not_take_a_sub_agent_with_its_own_prompt_for_trimmed_history():
    run = Run(status="ok")
    run.llm(_say("ok"), input=_conversation("scan the market", "Delegating."))
    run.llm(_say("Finding: 12%"), input=_conversation("market size", system="Answer briefly."))
    run.llm(_say("done"), input=_conversation("market growth", system="Answer briefly."))
    run.llm(_say("Summary: 12% growth."), input=_conversation("scan the market", "Delegating."))
    assert classify(run.inv).category is None


def test_it_roots_a_context_length_error_with_declared_tools_at_the_failing_call():
    # Reported from a real client: the agent span and its model call both carry the error.
    message = "This model's maximum context length is 8192 tokens. However, you requested 9001."
    run = Run(status="error", attributes={"tools": ["lookup_order"]})
    run.step(run.root).error_message = message
    bad = run.llm(None, status="error", error_type="BadRequestError", error_message=message)
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


# --- budgets ------------------------------------------------------------------------------------
def _token_run(**attrs):
    run = Run(status="error", attributes=attrs or None)
    run.llm(_call("open_document", doc="1"), input_tokens=100, output_tokens=30)
    run.tool("open_document", {"doc": "1"}, "text " * 50)
    crossing = run.llm(_call("open_document", doc="2"), input_tokens=1700, output_tokens=30)
    run.tool("open_document", {"doc": "2"}, "text " * 50)
    run.llm(_say("Risks: ..."), input_tokens=1900, output_tokens=20)
    return run, crossing


@pytest.mark.parametrize(
    "where",
    [
        {"metadata": {"max_total_tokens": "1500"}},
        {"metadata": json.dumps({"budget": {"max_total_tokens": 1500}})},
        {"otel.resource": {"budget.max_tokens": 1500}},
    ],
)
def test_it_reads_a_token_budget_wherever_it_was_sent(where):
    run, crossing = _token_run(**where)
    run.step(run.root).error_message = "the run stopped"
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", crossing)


@pytest.mark.parametrize(
    "error",
    [
        "Exceeded the total_tokens_limit of 1500 (total_tokens=3780)",
        "token budget exhausted: this run has used 3780 tokens, over its limit of 1500",
    ],
)
def test_it_roots_a_token_budget_named_only_in_an_error_where_it_was_crossed(error):
    run, crossing = _token_run()
    run.step(run.root).error_type = "UsageLimitExceeded"
    run.step(run.root).error_message = error
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", crossing)


def test_it_roots_a_litellm_budget_error_on_a_model_call_at_that_call():
    run = Run(status="error")
    run.llm(_call("export", page=1), cost_usd=0.004)
    run.tool("export", {"page": 1}, "rows")
    bad = run.llm(None, status="error", error_type="BudgetExceededError",
                  error_message="Budget has been exceeded! Current cost: 0.0242, Max budget: 0.015")
    run.step(run.root).error_message = "Budget has been exceeded! Current cost: 0.0242"
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", bad)


def test_it_takes_a_run_deadline_on_a_tool_call_for_budget_not_a_tool_timeout():
    run = Run(status="error")
    run.tool("run_check", {"check": "latency"}, "passed")
    bad = run.tool("run_check", {"check": "index"}, None, status="error",
                   error_message="the run's 1 s deadline passed (1.4 s elapsed) before run_check "
                                 "could start")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", bad)


def test_it_keeps_one_calls_own_timeout_a_tool_failure():
    run = Run(status="error")
    bad = run.tool("get_rate", {"base": "SEK"}, None, status="error",
                   error_type="TimeoutError", error_message="read timed out after 10 s")
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("tool", bad)


def test_it_roots_too_many_sub_agents_at_the_refused_start():
    run = Run(status="error", attributes={"metadata": {"max_subagents": 2}})
    for q in ("size", "growth"):
        call = run.tool("delegate_research", {"question": q}, "Finding")
        run.add("agent", parent=call, name="researcher", agent_name="researcher")
    bad = run.tool("delegate_research", {"question": "vendors"}, None, status="error",
                   error_message="refusing to start sub-agent 'researcher': this orchestrator "
                                 "may run at most 2 sub-agents per request")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", bad)


def test_it_lets_an_orchestrator_under_its_sub_agent_limit_stand():
    # The run's own agent wrapped twice (as OpenInference records the Agents SDK) is no
    # sub-agent.
    run = Run(status="ok", agent="lead", attributes={"metadata": {"max_subagents": 2}})
    inner = run.add("agent", name="lead", agent_name="lead")
    for q in ("size", "growth"):
        call = run.tool("delegate_research", {"question": q}, "Finding", parent=inner)
        run.add("agent", parent=call, name="researcher", agent_name="researcher")
    run.llm(_say("Summary of size and growth."), parent=inner)
    assert classify(run.inv).category is None


# --- tools that do not exist, tools kept as plain spans, errors without a tool ------------------
def test_it_roots_a_call_of_a_tool_that_does_not_exist_without_a_tool_span_at_the_model_call():
    run = Run(status="error", attributes={"tools": ["rollback_release"]})
    bad = run.llm(_call("rollback_deploy", service="api"))
    run.step(run.root).error_type = "ModelBehaviorError"
    run.step(run.root).error_message = "Tool rollback_deploy not found in agent ops"
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)
    assert d.evidence[0].rule == "tool.unknown_tool"


def test_it_reads_an_unknown_tool_from_the_runtime_when_no_tools_were_declared():
    run = Run(status="ok")
    bad = run.llm(_call("rollback_deploy", service="api"))
    run.llm(_say("I could not roll it back."), input=[
        {"role": "user", "content": "roll back api"},
        {"role": "tool", "content": "Unknown tool name: 'rollback_deploy'. Available tools: x"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


def test_it_does_not_take_a_handoff_for_an_unknown_tool():
    run = Run(status="ok", attributes={"tools": ["send_invoice_copy"]})
    run.llm(_call("transfer_to_billing_desk"))
    run.add("handoff", name="billing-desk", agent_name="front-desk")
    run.llm(_call("send_invoice_copy", month="02"))
    run.tool("send_invoice_copy", {"month": "02"}, {"sent": True})
    run.llm(_say("I've emailed you the invoice."))
    assert classify(run.inv).category is None


def test_it_counts_a_plain_span_named_after_a_tool_as_that_tools_call():
    # Langfuse v2 keeps a tool observation as a span (kind other): it is still the tool's call.
    run = Run(status="ok", attributes={"tools": ["issue_refund"]})
    run.llm(_call("issue_refund", order="A1"))
    bad = run.add("other", name="issue_refund", status="error", input={"order": "A1"},
                  error_message="gateway declined")
    run.llm(_say("The gateway declined, so the refund could not be made."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


def test_it_lets_a_later_success_recover_an_error_that_names_no_tool():
    # An OpenHands `error` observation of a malformed call has no action that caused it.
    run = Run(status="ok")
    run.tool("str_replace_editor", {"command": "view"}, "file text")
    run.add("tool", name="error", status="error", error_type="ErrorObservation",
            error_message="Parameter 'command' is expected to be one of ['view', 'create']")
    run.tool("str_replace_editor", {"command": "str_replace"}, "The file has been edited.")
    run.llm(_say("Fixed the bug in match.c."))
    assert classify(run.inv).category is None


def test_it_roots_arguments_refused_before_any_tool_span_at_the_model_call():
    run = Run(status="error", attributes={"tools": ["book_room"]})
    bad = run.llm(_call("book_room", nights="three"))
    run.llm(None, status="error", error_message="upstream model error", input=[
        {"role": "user", "content": "book it"},
        {"role": "user", "content": "1 validation error for book_room\nnights\n  Input should be "
                                    "a valid integer [type=int_parsing]"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)
    assert d.evidence[0].rule == "tool.schema_rejected"


@pytest.mark.parametrize(
    ("error_type", "message"),
    [
        ("MaxTurnsExceeded", "Max turns (6) exceeded"),
        ("UsageLimitExceeded", "The next request would exceed the request_limit of 5"),
        ("GraphRecursionError", "Recursion limit of 25 reached without hitting a stop condition"),
    ],
)
def test_it_roots_a_turn_limit_at_the_innermost_step_carrying_it(error_type, message):
    run = Run(status="error")
    for n in range(3):
        run.llm(_call("read_page", page=n))
        run.tool("read_page", {"page": n}, f"page {n} text")
    run.step(run.root).error_type = error_type
    run.step(run.root).error_message = message
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", run.root)


def test_it_knows_a_conversation_cut_to_its_last_tool_call_by_the_call_ids():
    # Trimmed to the last two messages: the model's own tool call (no text) and a new result.
    run = Run(status="ok")
    sys = "You write release notes."
    call = [{"role": "assistant", "content": None,
             "tool_calls": [{"id": "call_7", "name": "read_file", "arguments": {"p": "C"}}]}]
    run.llm(call, input=[{"role": "system", "content": sys},
                         {"role": "user", "content": "Summarise. Reply in French."}])
    run.tool("read_file", {"p": "C"}, "rounding fixed")
    lost = run.llm(_say("Rounding was fixed."), input=[
        {"role": "system", "content": sys}, *call, {"role": "tool", "content": "rounding fixed"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", lost)


# --- other authors' wordings and shapes (issue 14, second pass) ----------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        "I'm afraid there is nothing in Porto that fits your budget.",
        "Sorry, but none of those hotels would work for you.",
        "We weren't able to find a room for those dates.",
        "I apologize, but it is not possible to book this stay right now.",
        "Your booking could not be completed; please try another site.",
    ],
)
def test_it_reads_other_wordings_of_giving_up_over_working_tools(answer):
    run = Run(status="ok", attributes={"tools": ["search_hotels"]})
    run.llm(_call("search_hotels", city="Porto"))
    run.tool("search_hotels", {"city": "Porto"}, {"results": [{"name": "Casa", "eur": 120}]})
    at = run.llm(_say(answer))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == ("planning", at, "planning.gave_up")


@pytest.mark.parametrize(
    "answer",
    [
        "Sorry for the wait! Casa do Cais is 120 EUR a night, right by the river.",
        "Casa do Cais fits: 120 EUR a night. I couldn't find any issues with the dates.",
    ],
)
def test_it_lets_an_apologetic_but_complete_answer_stand(answer):
    run = Run(status="ok", attributes={"tools": ["search_hotels"]})
    run.llm(_call("search_hotels", city="Porto"))
    run.tool("search_hotels", {"city": "Porto"}, {"results": [{"name": "Casa", "eur": 120}]})
    run.llm(_say(answer))
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "claim",
    ["Your refund of $84.00 is on its way.", "The reversal is confirmed for order A1."],
)
def test_it_reads_a_success_stated_as_a_state_over_a_failed_call(claim):
    run = Run(status="ok", attributes=TOOLS)
    run.llm(_call("issue_refund", order="A1"))
    run.tool("issue_refund", {"order": "A1"}, None, status="error",
             error_type="GatewayDeclined", error_message="card processor declined (05)")
    answer = run.llm(_say(claim))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")


def _request(text, tools):
    return {"messages": _conversation(text), "tools": [
        {"type": "function", "function": {"name": n, "parameters": {}}} for n in tools]}


def test_it_fails_a_claimed_act_whose_tool_was_offered_in_the_request_and_never_called():
    # The tools are only in the model request (no attribute declares them).
    run = Run(status="ok")
    req = _request("refund A1", ["lookup_order", "issue_refund"])
    run.llm(_call("lookup_order", order="A1"), input=req)
    run.tool("lookup_order", {"order": "A1"}, {"order": "A1", "total": 84})
    answer = run.llm(_say("I've refunded $84.00 to your card."), input=req)
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")
    assert "issue_refund" in d.evidence[0].detail


def test_it_lets_a_claimed_act_stand_when_its_tool_did_it():
    run = Run(status="ok")
    req = _request("refund A1", ["lookup_order", "issue_refund"])
    run.llm(_call("issue_refund", order="A1"), input=req)
    run.tool("issue_refund", {"order": "A1"}, {"refund_id": "R-9", "status": "ok", "amount": 84})
    run.llm(_say("I've refunded $84.00 to your card."), input=req)
    assert classify(run.inv).category is None


def test_it_reads_tools_offered_in_the_request_for_an_answer_without_calls():
    run = Run(status="ok")
    answer = run.llm(_say("The lockfile pins pyyaml 5.4.1."),
                     input=_request("Which pyyaml is pinned?", ["read_file"]))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)


@pytest.mark.parametrize(
    "result",
    [
        {"passages": []},
        {"chunks": [], "query_id": "q1"},
        "No matching passages for this query.",
        "The search returned no documents.",
    ],
)
def test_it_fails_an_empty_search_answered_with_content(result):
    run = Run(status="ok")
    run.llm(_call("retrieve_passages", question="apixaban dose on dialysis"))
    bad = run.tool("retrieve_passages", {"question": "apixaban maximum dose on dialysis"}, result)
    run.llm(_say("The maximum is 5 mg twice daily."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


@pytest.mark.parametrize(
    "answer",
    [
        "The knowledge base has no information on that; please ask a pharmacist.",
        "Nothing relevant came back, so I would rather not guess a dose.",
    ],
)
def test_it_lets_an_empty_search_reported_honestly_stand(answer):
    run = Run(status="ok")
    run.llm(_call("retrieve_passages", question="apixaban dose on dialysis"))
    run.tool("retrieve_passages", {"question": "apixaban maximum dose on dialysis"},
             {"passages": []})
    run.llm(_say(answer))
    assert classify(run.inv).category is None


def test_it_fails_a_search_whose_hits_all_scored_low_answered_anyway():
    run = Run(status="ok")
    run.llm(_call("search_kb", query="apixaban dose on dialysis"))
    bad = run.tool("search_kb", {"query": "apixaban maximum dose on dialysis"}, {"results": [
        {"text": "Apixaban dosing in renal impairment: see label.", "score": 0.08},
        {"text": "Dialysis schedules for outpatients.", "score": 0.11}]})
    run.llm(_say("The maximum is 5 mg twice daily."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


def test_it_lets_a_search_with_a_well_scored_hit_stand():
    run = Run(status="ok")
    run.llm(_call("search_kb", query="apixaban dose on dialysis"))
    run.tool("search_kb", {"query": "apixaban maximum dose on dialysis"}, {"results": [
        {"text": "Apixaban on dialysis: 5 mg twice daily.", "score": 0.82},
        {"text": "Dialysis schedules for outpatients.", "score": 0.11}]})
    run.llm(_say("The maximum is 5 mg twice daily."))
    assert classify(run.inv).category is None


def _parts(role, text):
    # The GenAI semantic conventions' message shape: no "content", a list of typed parts.
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def test_it_reads_a_task_trimmed_away_in_genai_message_parts():
    run = Run(status="ok")
    sys, task = _parts("system", "You write release notes."), _parts("user", "Reply in French.")
    first = _parts("tool", "a1 fix rounding")
    run.llm(_call("list_commits"), input=[sys, task])
    run.tool("list_commits", {}, "a1 fix rounding")
    run.llm(_call("read_file", path="CHANGES"), input=[sys, task, first])
    run.tool("read_file", {"path": "CHANGES"}, "rounding fixed")
    lost = run.llm(_say("Rounding was fixed."),
                   input=[sys, first, _parts("tool", "rounding fixed")])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", lost)


def test_it_lets_a_genai_conversation_that_kept_its_task_stand():
    run = Run(status="ok")
    sys, task = _parts("system", "You write release notes."), _parts("user", "Reply in French.")
    first = _parts("tool", "a1 fix rounding")
    run.llm(_call("list_commits"), input=[sys, task])
    run.tool("list_commits", {}, "a1 fix rounding")
    run.llm(_say("L'arrondi est corrigé."), input=[sys, task, first])
    assert classify(run.inv).category is None


@pytest.mark.parametrize("key", ["instructions", "gen_ai.system_instructions"])
def test_it_reads_instructions_carried_as_an_attribute_for_an_answer_without_calls(key):
    run = Run(status="ok", attributes={"tools": ["read_file"]})
    run.step(run.root).attributes = {key: "Read files with read_file before answering."}
    answer = run.llm(_say("The lockfile pins pyyaml."),
                     input=[{"role": "user", "content": "Which pyyaml is pinned?"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)
    assert "read_file" in d.evidence[0].detail


@pytest.mark.parametrize(
    "result",
    [
        {"message": "quotes are only available for NYSE equities"},
        {"error": None, "note": "this feed is not designed for currency pairs"},
        "Symbol EURJPY is outside the supported coverage; use the fx_rates tool instead.",
    ],
)
def test_it_reads_other_wordings_of_a_tool_that_cannot_do_the_job(result):
    run = Run(status="ok", attributes={"tools": ["get_stock_quote", "convert_currency"]})
    run.llm(_call("get_stock_quote", symbol="EURJPY"))
    bad = run.tool("get_stock_quote", {"symbol": "EURJPY"}, result)
    run.llm(_say("The rate is 161.3, so you get 193,560 yen."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", bad)


def test_it_lets_a_tool_that_could_not_do_it_stand_when_the_agent_switched_tools():
    run = Run(status="ok", attributes={"tools": ["get_stock_quote", "convert_currency"]})
    run.llm(_call("get_stock_quote", symbol="EURJPY"))
    run.tool("get_stock_quote", {"symbol": "EURJPY"},
             {"message": "quotes are only available for NYSE equities"})
    run.tool("convert_currency", {"pair": "EURJPY", "amount": 1200}, {"rate": 161.3})
    run.llm(_say("The rate is 161.3, so you get 193,560 yen."))
    assert classify(run.inv).category is None


_STOCK = "Stock levels live in inventory_db; answer stock questions from it."


def test_it_fails_a_substantive_answer_without_the_tool_its_instructions_name():
    run = Run(status="ok", attributes={"tools": ["inventory_db", "send_email"]})
    answer = run.llm(_say("We still have plenty of blue lamps left in the Leeds warehouse."),
                     input=_conversation("Any blue lamps in Leeds?", system=_STOCK))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)
    assert "inventory_db" in d.evidence[0].detail


def test_it_lets_a_greeting_under_instructions_naming_a_tool_stand():
    run = Run(status="ok", attributes={"tools": ["inventory_db", "send_email"]})
    run.llm(_say("Hello! Which item would you like me to check?"),
            input=_conversation("hi", system=_STOCK))
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "result",
    [{"refunded": False, "reason": "insufficient funds"}, {"status": "declined", "code": "05"},
     {"succeeded": False, "message": "issuer said no"}],
)
def test_it_reads_a_result_that_says_the_act_did_not_happen_under_a_success_claim(result):
    run = Run(status="ok", attributes=TOOLS)
    run.llm(_call("issue_refund", order="A1"))
    run.tool("issue_refund", {"order": "A1"}, result)
    answer = run.llm(_say("All done! I've refunded $84.00 to your card."))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")


@pytest.mark.parametrize(
    ("name", "result"),
    [("issue_refund", {"refunded": True, "refund_id": "R-9", "amount": 84}),
     ("check_refund", {"refunded": False, "refund_id": "R-9", "amount": 84, "eta_days": 3})],
)
def test_it_lets_an_act_that_happened_or_a_state_looked_up_stand(name, result):
    run = Run(status="ok", attributes={"tools": [name]})
    run.llm(_call(name, order="A1"))
    run.tool(name, {"order": "A1"}, result)
    run.llm(_say("Your refund R-9 for $84.00 is in progress; expect it within 3 days."))
    assert classify(run.inv).category is None


def test_it_does_not_take_a_fact_named_like_the_tool_for_an_act_that_did_not_happen():
    run = Run(status="ok", attributes={"tools": ["visa_rules"]})
    run.llm(_call("visa_rules", passport="CA"))
    run.tool("visa_rules", {"passport": "CA"}, {"visa_required": False, "visa_free_days": 45})
    run.llm(_say("No visa needed: you can stay 45 days, and your stay is confirmed as fine."))
    assert classify(run.inv).category is None


# --- other people's agents: vocabularies of giving up and of claims (issue 14, third pass) ------
def _hotel_run(answer):
    run = Run(status="ok", attributes={"tools": ["search_hotels"]})
    run.llm(_call("search_hotels", city="Porto"))
    run.tool("search_hotels", {"city": "Porto"}, {"results": [{"name": "Casa", "eur": 120}]})
    return run, run.llm(_say(answer))


@pytest.mark.parametrize(
    "answer",
    [
        "I\u2019m unable to proceed with the booking right now.",
        "I don't currently have access to the reservations system.",
        "Something went wrong on my side. Please try again later.",
        "It seems there was an issue retrieving the hotel list.",
        "I ran into an unexpected error while searching, sorry.",
        "Unable to complete the search at this time.",
        "I still couldn\u2019t find a hotel that matches.",
        "I won't be able to book this stay for you.",
        "That's not something I can help with, I'm afraid.",
        "I'm having trouble accessing the booking system right now.",
        "There's no way for me to reserve Porto hotels from here.",
        "Lo siento, no he podido encontrar un hotel para esas fechas.",
        "Leider konnte ich kein passendes Hotel finden.",
        "Je n\u2019ai pas pu trouver d\u2019h\u00f4tel pour ces dates.",
        "Mi dispiace, non sono in grado di prenotare questo hotel.",
        "Lo siento, no soy capaz de reservar ese hotel.",
        "Infelizmente não estou em condições de reservar este hotel.",
        "Leider bin ich nicht in der Lage, dieses Hotel zu buchen.",
        "Helaas ben ik niet in staat dit hotel te boeken.",
    ],
)
def test_it_reads_what_real_agents_say_when_they_give_up(answer):
    run, at = _hotel_run(answer)
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == ("planning", at, "planning.gave_up")
    assert "gives up (" in d.evidence[0].detail


@pytest.mark.parametrize(
    "answer",
    [
        "I couldn\u2019t find any issues with your dates: Casa do Cais is 120 EUR a night.",
        "I could not see anything wrong with the booking; Casa do Cais has a room at 120 EUR.",
        "The hotel log shows the channel manager was unable to complete a sync at 02:14, "
        "then synced at 02:20; Casa has rooms at 120 EUR.",
        "Unfortunately, the Casa do Cais is 120 EUR a night, a little above what you hoped.",
        "I can't wait for your trip! Casa do Cais has a room for 120 EUR a night.",
    ],
)
def test_it_lets_findings_data_and_idioms_that_sound_like_giving_up_stand(answer):
    run, _ = _hotel_run(answer)
    assert classify(run.inv).category is None


def test_it_takes_an_inability_in_the_middle_of_a_long_answer_for_a_caveat():
    answer = (
        "Here are the two best options for Porto from 12 to 15 May. Casa do Cais is right on the "
        "river in Ribeira at 128 EUR a night, with breakfast and a late check-out included. "
        "Douro Loft is two streets up at 141 EUR a night and has a kitchen. I wasn't able to "
        "confirm whether Douro Loft has parking, so ask them when you book. Both are within your "
        "budget of 150 EUR and close to the Ribeira waterfront and the Luis I bridge. Casa do "
        "Cais has the better reviews for noise at night. Douro Loft suits longer stays better. "
        "Tell me which one you prefer and I will hold it for you."
    )
    run, _ = _hotel_run(answer)
    assert classify(run.inv).category is None


def _failed_refund(*later):
    run = Run(status="ok", attributes={"tools": ["lookup_order", "issue_refund", "send_email"]})
    run.llm(_call("issue_refund", order="A1"))
    run.tool("issue_refund", {"order": "A1"}, None, status="error",
             error_type="GatewayDeclined", error_message="card processor declined (05)")
    for name, result in later:
        run.llm(_call(name, order="A1"))
        run.tool(name, {"order": "A1"}, result)
    return run


@pytest.mark.parametrize(
    "claim",
    [
        "Done! Your refund for order A1 is on its way.",
        "You\u2019re all set: the $84.00 refund has been issued.",
        "No problem \u2014 your refund has been processed!",
        "Refunded. Your confirmation number is RF-7731.",
        "You'll receive a refund confirmation email shortly.",
        "\u00a1Listo! El reembolso se ha procesado.",
    ],
)
def test_it_reads_what_real_agents_say_when_they_claim_success_over_a_failed_call(claim):
    run = _failed_refund()
    answer = run.llm(_say(claim))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")
    assert "claim: " in d.evidence[0].detail


def test_it_does_not_let_a_later_lookup_back_a_claimed_act():
    run = _failed_refund(("lookup_order", {"order": "A1", "total": 84}))
    answer = run.llm(_say("I've refunded the $84.00 to your card."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)


def test_it_does_not_let_another_act_back_the_act_of_the_failed_tool():
    run = _failed_refund(("send_email", {"sent": True}))
    answer = run.llm(_say("I've refunded the $84.00 and emailed you the receipt."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)


def test_it_lets_another_tool_that_did_the_job_back_the_claim():
    run = Run(status="ok", attributes={"tools": ["issue_refund", "issue_store_credit"]})
    run.llm(_call("issue_refund", order="A1"))
    run.tool("issue_refund", {"order": "A1"}, None, status="error",
             error_message="card processor declined (05)")
    run.llm(_call("issue_store_credit", order="A1"))
    run.tool("issue_store_credit", {"order": "A1"}, {"credit_id": "SC-1", "amount": 84})
    run.llm(_say("The card refund was declined, so I've issued $84.00 in store credit instead."))
    assert classify(run.inv).category is None


def test_it_reads_a_claimed_act_in_an_irregular_past_without_its_call():
    run = Run(status="ok", attributes={"tools": ["lookup_order", "send_email"]})
    run.llm(_call("lookup_order", order="A1"))
    run.tool("lookup_order", {"order": "A1"}, {"order": "A1", "total": 84})
    answer = run.llm(_say("I've sent the invoice for order A1 to your email address."))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")
    assert "send_email" in d.evidence[0].detail


def test_it_reads_the_tools_for_a_claimed_act_from_the_instructions_when_none_are_declared():
    run = Run(status="ok")
    run.llm(_call("lookup_order", order="A1"), input=_conversation(
        "refund A1", system="Look orders up with lookup_order; refund them with issue_refund."))
    run.tool("lookup_order", {"order": "A1"}, {"order": "A1", "total": 84})
    answer = run.llm(_say("All done: I've refunded $84.00 to your card."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", answer)
    assert "issue_refund" in d.evidence[0].detail


def _tool_defs(*tools):
    return {"gen_ai.tool.definitions": json.dumps(
        [{"type": "function", "name": n, "description": d} for n, d in tools])}


WEATHER = ("get_forecast", "Weather forecast for a city and a day.")


@pytest.mark.parametrize(
    ("attributes", "question", "answer"),
    [
        (_tool_defs(WEATHER), "What will the weather be like in Paris tomorrow?",
         "It will be sunny and mild in Paris tomorrow, perfect for a long walk."),
        ({"tools": ["track_parcel", "open_ticket"]}, "Where is my parcel right now?",
         "Your parcel left the Leeds depot this morning and arrives on Thursday afternoon."),
    ],
)
def test_it_fails_an_answer_about_what_a_tool_is_for_given_without_calling_it(
        attributes, question, answer):
    run = Run(status="ok", attributes=attributes)
    at = run.llm(_say(answer), input=_conversation(question, system="You are a helpful agent."))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", at, "planning.premature_answer")
    assert "which" in d.evidence[0].detail


@pytest.mark.parametrize(
    ("system", "question", "answer"),
    [
        ("Refunds are accepted within 30 days of delivery for unused items in their box.",
         "What is your refund policy?",
         "Refunds are accepted within 30 days of delivery, for unused items in their box."),
        ("You help with forecasts.", "What's the weather in Paris tomorrow?",
         "Sure, which part of Paris, and do you need the morning or the evening?"),
        ("You help with forecasts.", "Thanks, that's all for the weather!",
         "You're welcome! Have a great day."),
    ],
)
def test_it_lets_an_answer_from_instructions_a_question_back_or_a_courtesy_stand(
        system, question, answer):
    run = Run(status="ok", attributes=_tool_defs(WEATHER, ("issue_refund", "Refund an order.")))
    run.llm(_say(answer), input=_conversation(question, system=system))
    assert classify(run.inv).category is None


def test_it_takes_a_tool_that_raised_it_cannot_do_the_job_for_the_wrong_tool_when_others_existed():
    run = Run(status="ok", attributes={"tools": ["get_stock_quote", "convert_currency"]})
    run.llm(_call("get_stock_quote", symbol="EURJPY"))
    bad = run.tool("get_stock_quote", {"symbol": "EURJPY"}, None, status="error",
                   error_type="ValueError",
                   error_message="EURJPY is not supported: this API only quotes NYSE equities")
    run.llm(_say("I couldn't get a EUR/JPY rate, so I can't convert the amount."))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == ("planning", bad, "planning.wrong_tool")


def test_it_keeps_the_only_tool_refusing_the_job_a_tool_failure():
    run = Run(status="ok", attributes={"tools": ["get_stock_quote"]})
    run.llm(_call("get_stock_quote", symbol="EURJPY"))
    bad = run.tool("get_stock_quote", {"symbol": "EURJPY"}, None, status="error",
                   error_message="EURJPY is not supported: this API only quotes NYSE equities")
    run.llm(_say("The quote service does not support currency pairs, so I have no rate."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


@pytest.mark.parametrize(
    "result",
    [
        {"model": "X200", "wireless_charging": "not supported", "battery": "4000 mAh"},
        "X200 spec sheet: " + "battery 4000 mAh, 6.1 inch screen, " * 20
        + "wireless charging is not supported.",
    ],
)
def test_it_does_not_take_data_that_reads_like_a_refusal_for_the_wrong_tool(result):
    run = Run(status="ok", attributes={"tools": ["get_specs", "open_ticket"]})
    run.llm(_call("get_specs", model="X200"))
    run.tool("get_specs", {"model": "X200"}, result)
    run.llm(_say("The X200 does not support wireless charging; its battery is 4000 mAh."))
    assert classify(run.inv).category is None


def test_it_fails_a_retrieval_that_shares_only_common_words_with_the_question_answered_anyway():
    run = Run(status="ok")
    run.llm(_call("search_guidelines", question="apixaban maximum daily dose on dialysis"))
    bad = run.tool("search_guidelines", {"question": "apixaban maximum daily dose on dialysis"},
                   {"results": [{"text": "Warfarin dose adjustment in elderly patients: start "
                                         "low and check the INR weekly."},
                                {"text": "Vitamin D supplements: one daily tablet in winter."}]})
    run.llm(_say("The maximum is 5 mg twice daily."))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "context", bad, "context.retrieval_empty")


def test_it_lets_a_retrieval_that_names_what_was_asked_stand():
    run = Run(status="ok")
    run.llm(_call("search_guidelines", question="apixaban maximum daily dose on dialysis"))
    run.tool("search_guidelines", {"question": "apixaban maximum daily dose on dialysis"},
             {"results": [{"text": "Apixaban in end-stage renal disease: 5 mg twice a day; "
                                   "reduce with age or weight."},
                          {"text": "Vitamin D supplements: one tablet in winter."}]})
    run.llm(_say("The maximum is 5 mg twice daily."))
    assert classify(run.inv).category is None


def test_it_roots_a_history_cut_to_its_last_turn_without_the_system_message_at_that_call():
    run = Run(status="ok")
    sys = "You are the refund desk. Never refund more than the order total."
    run.llm(_call("lookup_order", order="A1"), input=[
        {"role": "system", "content": sys}, {"role": "user", "content": "refund A1"}])
    run.tool("lookup_order", {"order": "A1"}, {"total": 84})
    lost = run.llm(_say("I've noted a refund of 120 dollars."), input=[
        {"role": "user", "content": "actually make it 120 dollars"}])
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", lost)


@pytest.mark.parametrize(
    "result",
    ["Card declined by issuer (05).", {"message": "refund rejected: order already refunded"},
     '{"status": "declined", "code": "05"}', "Refund could not be processed."],
)
def test_it_reads_an_acts_own_report_that_it_did_not_happen_as_a_failure(result):
    run = _failed_refund()
    run.inv.steps.pop()
    bad = run.tool("issue_refund", {"order": "A1"}, result)
    run.llm(_say("The card issuer declined the refund, so nothing was refunded."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)


@pytest.mark.parametrize(
    ("name", "result"),
    [("block_card", "Card blocked."), ("run_tests", "12 passed, 0 failed in 1.2s"),
     ("get_payment", "Payment declined on 3 March, then paid on 4 March.")],
)
def test_it_lets_an_acts_own_word_a_count_or_looked_up_data_stand(name, result):
    run = Run(status="ok", attributes={"tools": [name]})
    run.llm(_call(name, x=1))
    run.tool(name, {"x": 1}, result)
    run.llm(_say("Here is the outcome: " + result))
    assert classify(run.inv).category is None


def test_it_keeps_the_right_tool_failing_a_request_a_tool_failure_when_others_existed():
    run = Run(status="ok", attributes={"tools": ["get_booking", "change_flight"]})
    run.llm(_call("change_flight", pnr="6KQ2ZT"))
    bad = run.tool("change_flight", {"pnr": "6KQ2ZT"}, None, status="error",
                   error_message="SEGMENT NOT MODIFIABLE - UNABLE TO PROCESS (code 9371)")
    run.llm(_say("The airline system refuses to change this segment; you are still booked on "
                 "the morning flight."))
    assert (classify(run.inv).category, classify(run.inv).root_step) == ("tool", bad)


@pytest.mark.parametrize(
    "claim",
    ["Sorted. The $280.80 correction is queued for the next payslip.",
     "I've escalated it and the adjustment has been lodged with payroll."],
)
def test_it_reads_claims_of_queued_or_lodged_work_over_a_failed_call(claim):
    run = Run(status="ok", attributes={"tools": ["submit_adjustment"]})
    run.llm(_call("submit_adjustment", amount=280.8))
    run.tool("submit_adjustment", {"amount": 280.8}, None, status="error",
             error_type="AdjustmentRejected", error_message="pay period 2026-10 is locked")
    answer = run.llm(_say(claim))
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", answer, "planning.false_success")


def test_it_does_not_take_sub_agents_that_answer_alike_for_a_loop():
    # Three sub-agent runs on different units answer alike; the fourth start is refused.
    run = Run(status="error", attributes={"tools": ["assign_writer"]})
    for unit in ("charts", "statistics", "spreadsheets"):
        run.llm(_call("assign_writer", unit=unit))
        call = run.tool("assign_writer", {"unit": unit}, f"Outline for {unit}")
        sub = run.add("agent", parent=call, name="writer", agent_name="writer")
        run.llm("Outline: 3 lessons, 1 exercise, 1 quiz.", parent=sub, agent_name="writer")
    run.llm(_call("assign_writer", unit="evidence"))
    bad = run.tool("assign_writer", {"unit": "evidence"}, None, status="error",
                   error_message="refusing to start sub-agent 'writer': at most 3 sub-agents")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", bad)


def test_it_does_not_read_an_exception_named_in_log_data_as_an_error_key():
    run = Run(status="ok", attributes={"tools": ["search_logs"]})
    run.llm(_call("search_logs", service="auth"))
    run.tool("search_logs", {"service": "auth"}, json.dumps({"hits": [
        "03:02:11 ERROR TokenValidationException: signature expired for kid=7f2a",
        "03:09:40 FATAL connection pool exhausted (max=50)"], "count": 2}))
    run.llm(_say("Two errors: an expired token signature at 03:02 and pool exhaustion at 03:09."))
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "answer",
    [
        "Unfortunately there are no Saturday slots next week.",
        "I'm afraid Saturday is fully booked at Eastside next week.",
        "I couldn't find a Saturday slot; the latest are Friday 16:30 with J. Okafor or 17:15 "
        "with M. Lind.",
    ],
)
def test_it_lets_an_honest_negative_answer_over_working_tools_stand(answer):
    run = Run(status="ok", attributes={"tools": ["list_availability"]})
    run.llm(_call("list_availability", clinic="Eastside"))
    run.tool("list_availability", {"clinic": "Eastside"},
             {"saturday": [], "friday": ["16:30 J. Okafor", "17:15 M. Lind"]})
    run.llm(_say(answer))
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "answer",
    [
        "Apologies for the wait! Your two days off on 22-23 December are recorded (LV-20931).",
        "I'm sorry this took a moment. Your leave is recorded as request LV-20931.",
    ],
)
def test_it_lets_a_polite_apology_over_work_done_stand(answer):
    run = Run(status="ok", attributes={"tools": ["record_leave"]})
    run.llm(_call("record_leave", employee="EMP-3308"))
    run.tool("record_leave", {"employee": "EMP-3308"},
             {"request": "LV-20931", "status": "recorded", "days": 2})
    run.llm(_say(answer))
    assert classify(run.inv).category is None


@pytest.mark.parametrize(
    "result",
    [[], {"flights": [], "count": 0}, "No flights found for this route and date."],
)
def test_it_lets_a_could_not_find_after_an_empty_search_stand(result):
    run = Run(status="ok", attributes={"tools": ["search_flights"]})
    run.llm(_call("search_flights", origin="ZRH", destination="OSL"))
    run.tool("search_flights", {"origin": "ZRH", "destination": "OSL"}, result)
    run.llm(_say("I couldn't find any direct flights from Zurich to Oslo on that date."))
    assert classify(run.inv).category is None


def test_it_still_fails_a_could_not_find_after_a_search_that_found_something():
    run = Run(status="ok", attributes={"tools": ["search_flights"]})
    run.llm(_call("search_flights", origin="ZRH", destination="OSL"))
    run.tool("search_flights", {"origin": "ZRH", "destination": "OSL"},
             {"flights": [{"id": "SK 1612", "dep": "07:10"}], "count": 1})
    at = run.llm(_say("I couldn't find any direct flights from Zurich to Oslo on that date."))
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", at)


@pytest.mark.parametrize(
    "answer",
    [
        "申し訳ありませんが、ご依頼の条件でサプライヤーをご提案することができませんでした。",
        "抱歉，我无法为您完成这个请求。",
        "죄송하지만 조건에 맞는 공급업체를 제안할 수 없습니다.",
    ],
)
def test_it_reads_giving_up_in_japanese_chinese_and_korean(answer):
    run, at = _hotel_run(answer)
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == ("planning", at, "planning.gave_up")


@pytest.mark.parametrize("as_text", [False, True])
def test_it_reads_error_fields_of_records_a_tool_returned_as_data(as_text):
    result = {"pipeline": "nightly", "jobs": [
        {"name": "e2e-chrome", "status": "failed", "error": "Timeout: page.goto exceeded"},
        {"name": "lint", "status": "passed"}]}
    run = Run(status="ok", attributes={"tools": ["list_jobs"]})
    run.llm(_call("list_jobs", pipeline="nightly"))
    run.tool("list_jobs", {"pipeline": "nightly"}, json.dumps(result) if as_text else result)
    run.llm(_say("One nightly job failed: e2e-chrome timed out in page.goto."))
    assert classify(run.inv).category is None


def test_it_takes_distinct_calls_that_return_equal_data_for_progress_not_a_loop():
    run = Run(status="error", attributes={"tools": ["campaign_stats"]})
    for region in ("north", "south", "east", "west"):
        run.llm(_call("campaign_stats", region=region))
        run.tool("campaign_stats", {"region": region}, {"impressions": 1204000, "ctr": 0.021})
    run.step(run.root).error_type = "MaxTurnsExceeded"
    run.step(run.root).error_message = "Max turns (8) exceeded"
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("budget", run.root)


def test_it_takes_distinct_calls_that_all_come_back_empty_for_no_progress():
    run = Run(status="error", attributes={"tools": ["search_flights"]})
    first = None
    for day in ("mon", "tue", "wed", "thu"):
        run.llm(_call("search_flights", day=day))
        at = run.tool("search_flights", {"day": day}, {"flights": []})
        first = first or at
    run.step(run.root).error_type = "MaxTurnsExceeded"
    run.step(run.root).error_message = "Max turns (8) exceeded"
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", first)


def _claim_status_run(status, answer, as_text=False):
    result = {"claim": "CLM-1", "status": status, "adjuster": "R. Boateng"}
    run = Run(status="ok", attributes={"tools": ["get_claim"]})
    run.llm(_call("get_claim", claim="CLM-1"))
    run.tool("get_claim", {"claim": "CLM-1"}, json.dumps(result) if as_text else result)
    return run, run.llm(_say(answer))


@pytest.mark.parametrize(("status", "as_text"), [("under_review", False), ("pending", True),
                                                  ("awaiting_documents", False)])
def test_it_fails_an_answer_claiming_an_outcome_the_tool_reported_not_there(status, as_text):
    run, at = _claim_status_run(status, "Good news: your claim has been approved and will be "
                                        "paid by Friday.", as_text)
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence[0].rule) == (
        "planning", at, "planning.false_success")
    assert status in d.evidence[0].detail


@pytest.mark.parametrize(
    ("status", "answer"),
    [("approved", "Good news: your claim has been approved."),
     ("under_review", "Your claim is under review with R. Boateng; no decision yet."),
     ("processing", "I've updated your phone number; the claim itself is being processed.")],
)
def test_it_lets_an_answer_that_matches_the_reported_state_stand(status, answer):
    run, _ = _claim_status_run(status, answer)
    assert classify(run.inv).category is None
