"""OpenAI Agents SDK export -> canonical trace: the captured requests and each mapping rule."""

import json
import os
from pathlib import Path

import pytest

from ingest.formats.errors import FormatError
from ingest.formats.openai_agents import parse_openai_agents
from traceview.core.trace import InvocationData, StepData

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES", REPO.parent / "shared" / "fixtures"))
TRACE_1 = "trace_936e22aeac2f4b04bab9002415643d34"
TRACE_2 = "trace_82b311c2723043efadf92029e7306c80"


def fixture_bodies(folder: str) -> list:
    path = FIXTURES / folder
    if not path.is_dir():
        pytest.skip(f"fixtures not found at {path} (set TRACEVIEW_FIXTURES)")
    files = sorted(p for p in path.glob("*.json") if not p.name.endswith(".headers.json"))
    return [json.loads(p.read_text()) for p in files]


def merge(requests: list[list[InvocationData]]) -> dict[str, InvocationData]:
    """What the store does with split arrival: per trace and span, a later non-None field wins."""
    merged: dict[str, InvocationData] = {}
    for invocations in requests:
        for inv in invocations:
            into = merged.setdefault(inv.trace_id, InvocationData(trace_id=inv.trace_id))
            for name in ("agent", "name", "status", "input", "output"):
                if getattr(inv, name) is not None:
                    setattr(into, name, getattr(inv, name))
            into.attributes = {**(into.attributes or {}), **(inv.attributes or {})}
            steps = {s.span_id: s for s in into.steps}
            for step in inv.steps:
                if step.span_id not in steps:
                    steps[step.span_id] = StepData(span_id=step.span_id)
                    into.steps.append(steps[step.span_id])
                for name in StepData.__slots__:
                    if getattr(step, name) is not None:
                        setattr(steps[step.span_id], name, getattr(step, name))
    return merged


def merged_fixture() -> dict[str, InvocationData]:
    return merge([parse_openai_agents(b) for b in fixture_bodies("generated-openai-agents-native")])


def span(span_id, span_data, parent=None, error=None, trace_id="trace_1", **extra):
    return {"object": "trace.span", "id": span_id, "trace_id": trace_id, "parent_id": parent,
            "started_at": "2026-01-01T00:00:00+00:00", "ended_at": "2026-01-01T00:00:01+00:00",
            "span_data": span_data, "error": error, **extra}


def one_step(span_data, **kw) -> StepData:
    [inv] = parse_openai_agents({"data": [span("span_1", span_data, **kw)]})
    return inv.steps[0]


def test_it_merges_the_four_captured_requests_into_two_traces():
    merged = merged_fixture()
    assert set(merged) == {TRACE_1, TRACE_2}
    weather = merged[TRACE_1]
    kinds = sorted(s.kind for s in weather.steps)
    assert kinds == ["agent", "agent", "guardrail", "handoff", "llm", "llm", "llm",
                     "other", "other", "other", "other", "tool", "tool"]
    spans = {s.span_id: s for s in weather.steps}
    roots = [s for s in weather.steps if s.parent_span_id is None]
    assert [r.span_id for r in roots] == ["span_ea251c7456d34affbd692c45"]
    assert all(s.parent_span_id in spans for s in weather.steps if s.parent_span_id)
    assert weather.name == "weather-workflow"
    assert weather.attributes["conversation_id"] == "conv_fixture_001"
    assert weather.attributes["metadata"] == {"fixture": "multi-step"}
    assert weather.status is None  # a recovered tool error does not fail the run


def test_it_sums_tokens_over_llm_steps_only():
    merged = merged_fixture()
    weather = merged[TRACE_1]
    llm = [s for s in weather.steps if s.kind == "llm"]
    assert sum(s.input_tokens for s in llm) == 520
    assert sum(s.output_tokens for s in llm) == 83
    assert all(s.input_tokens is None for s in weather.steps if s.kind != "llm")
    task = next(s for s in weather.steps if s.parent_span_id is None)
    # The task span repeats the run's usage; it is kept for reading, not for summing.
    assert task.attributes["usage"]["input_tokens"] == 520


def test_it_keeps_the_tool_error_on_its_span():
    merged = merged_fixture()
    failed = [s for s in merged[TRACE_1].steps if s.status == "error"]
    assert [s.span_id for s in failed] == ["span_61b5fb84b49e48c5bd6adb1e"]
    tool = failed[0]
    assert (tool.kind, tool.tool_name, tool.tool_arguments) == (
        "tool", "get_weather", '{"city": "Atlantis"}')
    assert tool.error_type == "Error running tool (non-fatal)"
    assert tool.error_message == "Tool execution failed. Error details are redacted."
    assert tool.agent_name == "Weather agent"


def test_it_fails_the_run_whose_agent_span_failed():
    merged = merged_fixture()
    summary = merged[TRACE_2]
    assert summary.status == "error"
    assert summary.agent == "Summarizer"
    generation = next(s for s in summary.steps if s.kind == "llm")
    assert generation.status == "error"
    assert "maximum context length" in generation.error_message
    assert generation.model == "gpt-4o-mini"
    assert len(summary.steps) == 4


def test_it_names_the_agent_after_the_rootmost_agent_span_of_a_request():
    first = parse_openai_agents(fixture_bodies("generated-openai-agents-native")[0])
    assert first[0].agent == "Triage agent"


def test_it_falls_back_to_the_workflow_name_for_the_agent():
    [inv] = parse_openai_agents({"data": [
        {"object": "trace", "id": "trace_1", "workflow_name": "wf", "group_id": None},
        span("span_1", {"type": "custom", "name": "task", "data": {}}),
    ]})
    assert (inv.agent, inv.name) == ("wf", "wf")
    assert inv.attributes is None


def test_it_keeps_ids_exactly_as_sent():
    [inv] = parse_openai_agents({"data": [span("Span_ABC", {"type": "agent", "name": "A"},
                                               parent="Span_P", trace_id="Trace_X")]})
    assert (inv.trace_id, inv.steps[0].span_id, inv.steps[0].parent_span_id) == (
        "Trace_X", "Span_ABC", "Span_P")


def test_it_maps_a_response_span_with_usage_to_an_llm_step():
    step = one_step({"type": "response", "response_id": "resp_1",
                     "usage": {"input_tokens": 10, "output_tokens": 3}})
    assert (step.kind, step.input_tokens, step.output_tokens) == ("llm", 10, 3)
    assert step.attributes["response_id"] == "resp_1"


def test_it_keeps_custom_span_usage_out_of_step_tokens():
    step = one_step({"type": "custom", "name": "turn",
                     "data": {"turn": 2, "agent_name": "A", "usage": {"input_tokens": 9}}})
    assert (step.kind, step.input_tokens, step.agent_name) == ("other", None, "A")
    assert step.attributes["usage"] == {"input_tokens": 9}
    assert step.attributes["data"] == {"turn": 2, "agent_name": "A"}


def test_it_maps_function_handoff_guardrail_and_agent_spans():
    tool = one_step({"type": "function", "name": "f", "input": "{}", "output": "r",
                     "mcp_data": {"server": "s"}})
    assert (tool.kind, tool.tool_name, tool.tool_result) == ("tool", "f", "r")
    assert tool.attributes["mcp_data"] == {"server": "s"}
    assert tool.attributes["traceview.mcp_server"] == "s"
    handoff = one_step({"type": "handoff", "from_agent": "A", "to_agent": "B"})
    assert (handoff.kind, handoff.agent_name) == ("handoff", "A")
    assert handoff.attributes["to_agent"] == "B"
    guard = one_step({"type": "guardrail", "name": "g", "triggered": True})
    assert (guard.kind, guard.status, guard.attributes["triggered"]) == ("guardrail", "ok", True)
    agent = one_step({"type": "agent", "name": "A", "handoffs": ["B"], "tools": ["f"],
                      "output_type": "str"})
    assert (agent.kind, agent.agent_name, agent.attributes["tools"]) == ("agent", "A", ["f"])


def test_it_maps_generation_fields():
    step = one_step({"type": "generation", "model": "m", "input": [{"role": "user"}],
                     "output": [{"role": "assistant"}], "model_config": {"temperature": 0.1,
                     "top_p": None}, "usage": {"input_tokens": 5, "output_tokens": 2}})
    assert (step.kind, step.model, step.input_tokens, step.output_tokens) == ("llm", "m", 5, 2)
    assert step.attributes["model_config"] == {"temperature": 0.1}
    assert step.input == [{"role": "user"}]


def test_it_maps_unknown_and_speech_span_types():
    assert one_step({"type": "mcp_tools", "server": "s", "result": ["a"]}).kind == "other"
    assert one_step({"type": "transcription", "model": "whisper"}).kind == "llm"
    future = one_step({"type": "something_new", "x": 1})
    assert (future.kind, future.attributes["span_data"]) == ("other", {"x": 1})


def test_it_leaves_status_open_for_a_span_without_an_end():
    raw = span("span_1", {"type": "agent", "name": "A"})
    raw["ended_at"] = None
    [inv] = parse_openai_agents({"data": [raw]})
    assert inv.steps[0].status is None


def test_it_names_the_path_and_reason_of_bad_input():
    with pytest.raises(FormatError) as exc:
        parse_openai_agents({"data": [
            span("span_1", {"type": "agent"}),
            span("span_2", {"name": "no type"}),
            span("span_3", {"type": "agent"}, error="boom"),
            {"object": "nonsense"},
            span("", {"type": "agent"}),
        ]})
    paths = [e["path"] for e in exc.value.errors]
    assert paths == ["data[1].span_data.type", "data[2].error", "data[3].object", "data[4].id"]
    assert all(e["reason"] for e in exc.value.errors)


def test_it_rejects_a_bad_timestamp_and_a_body_without_data():
    raw = span("span_1", {"type": "agent"})
    raw["started_at"] = "yesterday"
    with pytest.raises(FormatError) as exc:
        parse_openai_agents({"data": [raw]})
    assert exc.value.errors[0]["path"] == "data[0].started_at"
    with pytest.raises(FormatError) as exc:
        parse_openai_agents({"spans": []})
    assert exc.value.errors == [{"path": "data", "reason": "is required and must be an array"}]
    with pytest.raises(FormatError):
        parse_openai_agents([])


def test_it_measures_depth_within_the_request_and_cuts_cycles():
    from ingest.formats.openai_agents import _depths

    chain = [StepData(f"s{i}", f"s{i - 1}" if i else "outside") for i in range(2000)]
    depths = _depths(list(reversed(chain)))
    assert [depths[f"s{i}"] for i in (0, 1, 1999)] == [0, 1, 1999]
    looped = _depths([StepData("a", "b"), StepData("b", "a"), StepData("c", "a")])
    assert looped["c"] == looped["a"] + 1 and set(looped.values()) == {0, 1, 2}
