"""Langfuse ingestion batches and trace exports -> canonical trace."""

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.formats.errors import FormatError
from ingest.formats.langfuse import (
    langfuse_batch_to_invocations,
    langfuse_export_to_invocations,
    otel_attributes,
)
from tests.ingest.test_openai_agents import merge

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES", REPO.parent / "shared" / "fixtures"))
WEATHER = "6e21e1e1-2d2f-4030-8337-d9f15d87923d"
SUMMARY = "f1be578e-f096-462e-9a17-9d8d4cbe4758"


def fixture_files(folder: str, pattern: str = "*.json") -> list[Path]:
    path = FIXTURES / folder
    if not path.is_dir():
        pytest.skip(f"fixtures not found at {path} (set TRACEVIEW_FIXTURES)")
    return sorted(p for p in path.glob(pattern) if not p.name.endswith(".headers.json"))


def ingest(*events):
    batch = [{"id": f"e{i}", "type": t, "timestamp": "2026-01-01T00:00:00Z", "body": b}
             for i, (t, b) in enumerate(events)]
    return langfuse_batch_to_invocations({"batch": batch})


def only_step(*events):
    invocations, _, errors = ingest(*events)
    assert errors == []
    [inv] = invocations
    [step] = inv.steps
    return step


def v2_batches():
    return [langfuse_batch_to_invocations(json.loads(p.read_text()))
            for p in fixture_files("generated-langfuse-v2-ingestion")]


def test_it_accepts_every_event_of_the_three_v2_batches():
    results = v2_batches()
    assert [len(ok) for _, ok, _ in results] == [8, 8, 2]
    assert all(errors == [] for _, _, errors in results)
    assert all(s["status"] == 201 for _, ok, _ in results for s in ok)


def test_it_merges_the_weather_trace_spread_over_batches():
    merged = merge([invocations for invocations, _, _ in v2_batches()])
    weather = merged[WEATHER]
    assert (weather.name, weather.agent) == ("weather-workflow", "weather-workflow")
    assert weather.output == "Paris is sunny, 21C. I could not get the weather for Atlantis."
    assert weather.attributes["conversation_id"] == "conv_fixture_001"
    assert weather.attributes["user_id"] == "user-42"
    assert weather.attributes["scores"][0]["name"] == "user-feedback"
    steps = {s.name: s for s in weather.steps if s.kind != "tool"}
    root = steps["Weather agent"]
    assert root.parent_span_id is None and root.status == "ok" and root.ended_at is not None
    assert all(s.parent_span_id == root.span_id for s in weather.steps if s is not root)
    llm = [s for s in weather.steps if s.kind == "llm"]
    assert sorted((s.input_tokens, s.output_tokens) for s in llm) == [(167, 44), (212, 27)]
    assert sum(s.input_tokens or 0 for s in weather.steps if s.kind != "llm") == 0
    tools = sorted((s.tool_call_id, s.status) for s in weather.steps if s.kind == "tool")
    assert tools == [("call_atlantis_002", "error"), ("call_paris_001", "ok")]
    failed = next(s for s in weather.steps if s.status == "error")
    assert failed.error_message == "ConnectionError: weather service unreachable for Atlantis"
    event = steps["retry-decision"]
    assert (event.kind, event.started_at, event.status) == ("other", event.ended_at, "ok")


def test_it_fails_the_generation_that_hit_the_context_limit():
    merged = merge([invocations for invocations, _, _ in v2_batches()])
    summary = merged[SUMMARY]
    assert summary.name == "summarize-workflow"  # the bare re-send kept the name
    [generation] = summary.steps
    assert (generation.kind, generation.status) == ("llm", "error")
    assert "context_length_exceeded" in generation.error_message


def test_it_upserts_create_then_update_field_by_field():
    step = only_step(
        ("generation-create", {"id": "g", "traceId": "t", "name": "chat", "model": "m",
                               "startTime": "2026-01-01T00:00:00Z", "input": "hi"}),
        ("generation-update", {"id": "g", "traceId": "t", "output": "yo",
                               "endTime": "2026-01-01T00:00:02Z", "usageDetails": {"input": 3}}),
    )
    assert (step.name, step.model, step.input, step.output) == ("chat", "m", "hi", "yo")
    assert (step.status, step.input_tokens, step.duration_s) == ("ok", 3, 2.0)


def test_it_leaves_unsent_fields_of_an_update_empty():
    step = only_step(("span-update", {"id": "s", "traceId": "t", "output": "done"}))
    assert (step.kind, step.name, step.input, step.started_at, step.status) == (
        None, None, None, None, None)


def test_it_keeps_an_error_when_a_later_update_only_ends_the_span():
    step = only_step(
        ("span-create", {"id": "s", "traceId": "t", "level": "ERROR", "statusMessage": "bad"}),
        ("span-update", {"id": "s", "traceId": "t", "endTime": "2026-01-01T00:00:01Z"}),
    )
    assert (step.status, step.error_message) == ("error", "bad")


def test_it_maps_observation_types_to_kinds():
    kinds = {}
    for t in ("agent", "tool", "chain", "retriever", "evaluator", "embedding", "guardrail",
              "event", "span", "generation"):
        kinds[t] = only_step((f"{t}-create", {"id": "o", "traceId": "t", "name": t})).kind
    assert kinds == {"agent": "agent", "tool": "tool", "chain": "other", "retriever": "retrieval",
                     "evaluator": "other", "embedding": "llm", "guardrail": "guardrail",
                     "event": "other", "span": "other", "generation": "llm"}


def test_it_reads_both_usage_shapes_and_costs():
    old = only_step(("generation-create", {"id": "g", "traceId": "t", "usage": {
        "promptTokens": 7, "completionTokens": 2, "inputCost": 0.1, "outputCost": 0.2}}))
    assert (old.input_tokens, old.output_tokens, old.cost_usd) == (7, 2, Decimal("0.3"))
    new = only_step(("generation-create", {"id": "g", "traceId": "t", "usage": {"input": 1},
                                           "usageDetails": {"input": 5, "output": 6},
                                           "costDetails": {"total": 0.5}}))
    assert (new.input_tokens, new.output_tokens, new.cost_usd) == (5, 6, Decimal("0.5"))


def test_it_keeps_usage_of_non_llm_observations_in_attributes():
    step = only_step(("span-create", {"id": "s", "traceId": "t", "usage": {"input": 9}}))
    assert step.input_tokens is None
    assert step.attributes["usage"] == {"input": 9}


def test_it_maps_a_tool_observation_to_arguments_and_result():
    step = only_step(("tool-create", {"id": "o", "traceId": "t", "name": "search",
                                      "input": {"q": 1}, "output": "r"}))
    assert (step.tool_name, step.tool_arguments, step.tool_result, step.input) == (
        "search", {"q": 1}, "r", None)


def test_it_treats_a_warning_as_ok_and_keeps_the_message():
    step = only_step(("span-create", {"id": "s", "traceId": "t", "level": "WARNING",
                                      "statusMessage": "slow", "endTime": "2026-01-01T00:00:00Z"}))
    assert (step.status, step.attributes["status_message"]) == ("ok", "slow")


def test_it_reports_bad_events_one_by_one_and_keeps_the_good_ones():
    invocations, successes, errors = ingest(
        ("trace-create", {"id": "t", "name": "n"}),
        ("span-create", {"id": "s"}),
        ("span-create", {"id": "s2", "traceId": "t", "level": "LOUD"}),
        ("span-create", {"id": "s3", "traceId": "t", "startTime": "soon"}),
        ("what-create", {"id": "x"}),
        ("span-create", {"id": "s4", "traceId": "t"}),
        ("score-create", {"traceId": "t"}),
    )
    assert [s["id"] for s in successes] == ["e0", "e5"]
    assert [(e["id"], e["status"]) for e in errors] == [
        ("e1", 400), ("e2", 400), ("e3", 400), ("e4", 400), ("e6", 400)]
    assert "traceId" in errors[0]["message"] and "level" in errors[1]["message"]
    assert "startTime" in errors[2]["message"] and "what-create" in errors[3]["message"]
    [inv] = invocations
    assert [s.span_id for s in inv.steps] == ["s4"]


def test_it_accepts_sdk_logs_and_scores_without_a_trace():
    invocations, successes, errors = ingest(
        ("sdk-log", {"log": "hello"}),
        ("score-create", {"id": "sc", "sessionId": "x", "name": "q", "value": 1}),
    )
    assert (invocations, len(successes), errors) == ([], 2, [])


def test_it_rejects_a_body_that_is_not_a_batch():
    with pytest.raises(FormatError) as exc:
        langfuse_batch_to_invocations({"events": []})
    assert exc.value.errors == [{"path": "batch", "reason": "is required and must be an array"}]
    with pytest.raises(FormatError):
        langfuse_batch_to_invocations([1])


def test_it_maps_every_framework_trace_export():
    for path in fixture_files("langfuse-framework-traces", "*.trace.json"):
        data = json.loads(path.read_text())
        [inv] = langfuse_export_to_invocations(data)
        assert inv.trace_id == data["trace"]["id"], path.name
        assert len(inv.steps) == len(data["observations"]), path.name
        ids = {s.span_id for s in inv.steps}
        # One export (the C# agent) points its top span at a parent that was never exported.
        orphans = [s for s in inv.steps if s.parent_span_id and s.parent_span_id not in ids]
        assert len(orphans) <= 1, path.name
        for step, obs in zip(inv.steps, data["observations"], strict=True):
            assert step.attributes["langfuse.observation_type"] == obs["type"].lower()
            for key, value in otel_attributes(obs).items():
                assert step.attributes[key] == value
        if any(o["type"] == "GENERATION" and o["usageDetails"].get("input")
               for o in data["observations"]):
            assert any(s.kind == "llm" and s.input_tokens for s in inv.steps), path.name


def test_it_exposes_raw_otel_attributes_of_an_export():
    [path] = fixture_files("langfuse-framework-traces", "openai-agents-*.trace.json")
    [inv] = langfuse_export_to_invocations(json.loads(path.read_text()))
    tool = next(s for s in inv.steps if s.kind == "tool")
    assert tool.attributes["openinference.span.kind"] == "TOOL"
    assert tool.attributes["tool.name"] == tool.tool_name == "get_weather"
    llm = [s for s in inv.steps if s.kind == "llm"]
    assert sum(s.input_tokens for s in llm) == 140
    assert inv.attributes["scores"][0]["name"] == "toxicity"


def test_it_names_the_path_of_a_bad_export():
    with pytest.raises(FormatError) as exc:
        langfuse_export_to_invocations({"trace": {"id": "t"}, "observations": [{"name": "x"}]})
    assert exc.value.errors[0]["path"] == "observations[0].id"
    with pytest.raises(FormatError):
        langfuse_export_to_invocations({"observations": []})
