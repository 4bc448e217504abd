"""The engine's decisions: success, one category per failure, root cause over last symptom."""

from traceview.classify.base import RULES
from traceview.classify.engine import RULESET_VERSION, classify

from .builders import Run


def test_it_gives_a_successful_run_no_category():
    run = Run(status="ok")
    run.llm("I will look it up")
    run.tool("lookup_order", {"id": 4411}, {"status": "shipped"})
    run.llm("Your order has shipped.")
    d = classify(run.inv)
    assert (d.category, d.root_step, d.evidence) == (None, None, [])
    assert d.confidence >= 0.9
    assert d.ruleset == RULESET_VERSION


def test_it_names_the_failing_tool_step():
    run = Run()
    run.llm("calling")
    bad = run.tool(
        "lookup_order",
        {"id": 1},
        None,
        status="error",
        error_type="HTTPError",
        error_message="503 Service Unavailable",
    )
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", bad)
    assert d.evidence[0].rule.startswith("tool.") and d.evidence[0].step == bad
    assert "503" in d.evidence[0].detail


def test_it_skips_a_tool_error_the_agent_recovered_from():
    run = Run()
    run.tool("fetch", {"u": 1}, None, status="error", error_message="connection reset")
    run.tool("fetch", {"u": 1}, "page")
    last = run.tool("write", {"x": 1}, None, status="error", error_message="disk full")
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("tool", last)


def test_it_calls_a_turn_limit_budget():
    run = Run()
    run.step(run.root).error_type = "MaxTurnsExceeded"
    run.step(run.root).error_message = "Max turns (10) exceeded"
    for k in range(3):
        run.llm(f"step {k}")
        run.tool("search", {"q": f"topic {k}"}, f"result {k}")
    d = classify(run.inv)
    assert d.category == "budget"


def test_it_calls_a_recursion_limit_budget():
    run = Run()
    run.llm(
        "x",
        status="error",
        error_type="GraphRecursionError",
        error_message="Recursion limit of 25 reached without hitting a stop condition.",
    )
    assert classify(run.inv).category == "budget"


def test_it_calls_a_provider_context_error_context():
    run = Run()
    run.llm("a")
    bad = run.llm(
        None,
        status="error",
        error_type="BadRequestError",
        error_message="Error code: 400 - context_length_exceeded",
    )
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("context", bad)


def test_it_blames_a_loop_not_the_turn_limit_it_caused():
    run = Run()
    run.step(run.root).error_message = "Reached maximum iterations (8)"
    first = None
    for _ in range(4):
        run.llm("let me search again")
        span = run.tool("search_web", {"query": "weather paris"}, "Sunny, 21C")
        first = first or span
    d = classify(run.inv)
    assert (d.category, d.root_step) == ("planning", first)
    assert any(e.rule == "budget.limit_error" for e in d.evidence)


def test_it_gives_a_failed_run_without_signals_a_low_confidence_category():
    run = Run()
    run.llm("here is my answer: 42")
    d = classify(run.inv)
    assert d.category in ("planning", "tool", "context", "budget")
    assert d.confidence < 0.5
    assert d.evidence and d.evidence[0].rule == "engine.fallback"


def test_it_keeps_rule_names_unique():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
