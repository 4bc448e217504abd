"""OTLP decoding and mapping: every OTLP fixture in ../shared/fixtures, plus each tolerance rule.

Pure tests: no database. The fixtures' path comes from TRACEVIEW_FIXTURES (default
../shared/fixtures next to the repository); they are skipped with a message when absent.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.formats.otlp import (
    OtlpDecodeError,
    UnsupportedContentType,
    decode_otlp_traces,
    normalize_id,
    otlp_to_invocations,
    readable_spans_to_invocations,
)
from traceview.core.trace import MAX_VALUE_CHARS

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES", REPO.parent / "shared" / "fixtures"))
PB = "application/x-protobuf"
JSON = "application/json"

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def fixture_dir(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"fixtures not found at {path} (set TRACEVIEW_FIXTURES)")
    return path


def captured_bodies(name: str) -> list[tuple[bytes, bytes]]:
    """(protobuf body, its decoded OTLP/JSON) for each captured request, in send order."""
    out = []
    for pb in sorted(fixture_dir(name).glob("*.pb*")):
        raw = pb.read_bytes()
        if pb.suffix == ".gz":
            raw = gzip.decompress(raw)
        decoded = pb.with_name(pb.name.split(".pb")[0] + ".decoded.otlp.json").read_bytes()
        out.append((raw, decoded))
    assert out, f"no .pb bodies in {name}"
    return out


def ingest_all(name: str):
    """Every request of a fixture folder, merged per trace as the store would (by span id)."""
    traces: dict[str, dict] = {}
    rejected = 0
    for body, _ in captured_bodies(name):
        invocations, n, _ = otlp_to_invocations(body, PB)
        rejected += n
        for inv in invocations:
            t = traces.setdefault(inv.trace_id, {"steps": {}, "inv": []})
            t["inv"].append(inv)
            for step in inv.steps:
                t["steps"][step.span_id] = step
    return traces, rejected


def summary(steps):
    steps = list(steps)
    llm = [s for s in steps if s.kind == "llm"]
    return {
        "steps": len(steps),
        "kinds": dict(Counter(s.kind for s in steps)),
        "errors": sorted((s.kind, s.name) for s in steps if s.status == "error"),
        "input_tokens": sum(s.input_tokens or 0 for s in llm),
        "output_tokens": sum(s.output_tokens or 0 for s in llm),
    }


def assert_parents_resolve(steps: dict) -> None:
    roots = [s for s in steps.values() if s.parent_span_id is None]
    assert len(roots) == 1
    for s in steps.values():
        assert s.parent_span_id is None or s.parent_span_id in steps, s.name


# The two instrumentations of the same openai-agents run must tell the same story.
WEATHER_RUN = {
    "steps": 14,
    "kinds": {"guardrail": 1, "llm": 3, "handoff": 1, "tool": 2, "agent": 3, "other": 4},
    "input_tokens": 141 + 167 + 212,
    "output_tokens": 12 + 44 + 27,
}
SUMMARIZE_RUN = {
    "steps": 5,
    "kinds": {"llm": 1, "agent": 2, "other": 2},
    "input_tokens": 0,
    "output_tokens": 0,
}


def test_it_decodes_the_otlp_spec_example():
    path = fixture_dir("otlp-proto-examples") / "trace.json"
    invocations, rejected, messages = otlp_to_invocations(path.read_bytes(), JSON)
    assert (rejected, messages) == (0, [])
    [inv] = invocations
    [step] = inv.steps
    assert inv.trace_id == TRACE
    assert (step.span_id, step.parent_span_id) == (SPAN, "eee19b7ec3c1b173")
    assert step.kind == "other" and step.status == "ok"
    assert step.duration_s == 1.0
    assert step.attributes["my.span.attr"] == "some value"
    assert step.attributes["otel.resource"] == {"service.name": "my.service"}
    assert step.attributes["otel.scope"]["name"] == "my.library"
    assert step.attributes["otel.scope"]["attributes"] == {
        "my.scope.attribute": "some scope attribute"}
    assert step.attributes["otel.span_kind"] == "server"
    # The root never arrived: the service names the agent, nothing claims a status.
    assert inv.agent == "my.service" and inv.status is None


def test_it_maps_generated_otlp_genai_semconv():
    traces, rejected = ingest_all("generated-otlp-genai-semconv")
    assert rejected == 0
    weather = next(v for k, v in traces.items() if k.startswith("47062a2a"))
    summarize = next(v for k, v in traces.items() if k.startswith("0de76a60"))
    for trace, expected, errors in (
        (weather, WEATHER_RUN, [("tool", "execute_tool get_weather")]),
        (summarize, SUMMARIZE_RUN, [("agent", "invoke_agent Summarizer"),
                                    ("llm", "chat gpt-4o-mini")]),
    ):
        got = summary(trace["steps"].values())
        assert {k: got[k] for k in expected} == expected
        assert got["errors"] == errors
        assert_parents_resolve(trace["steps"])
    steps = weather["steps"].values()
    tool_error = next(s for s in steps if s.status == "error")
    assert tool_error.tool_name == "get_weather"
    assert tool_error.tool_arguments == {"city": "Atlantis"}
    assert tool_error.error_message.startswith("Error running tool")
    handoff = next(s for s in steps if s.kind == "handoff")
    assert (handoff.input, handoff.output) == ("Triage agent", "Weather agent")
    agents = sorted(s.agent_name for s in steps if s.kind == "agent")
    assert agents == ["Triage agent", "Weather agent", "weather-workflow"]
    chat = next(s for s in steps if s.kind == "llm")
    assert chat.input[0] == {"role": "system",
                             "content": "Route weather questions to the Weather agent."}
    llm_error = next(s for s in summarize["steps"].values() if s.kind == "llm")
    assert "context length" in llm_error.error_message
    # Only the batch holding the root says how the run ended.
    assert [i.status for i in weather["inv"]] == [None, None, "ok"]
    assert weather["inv"][-1].name == "weather-workflow"
    assert {i.agent for i in weather["inv"]} == {"fixture-otel_genai"}


def test_it_gives_the_same_result_for_protobuf_and_its_json_form():
    for folder in ("generated-otlp-genai-semconv", "generated-otlp-openinference",
                   "generated-otlp-openinference-long", "generated-langfuse-v5-otlp"):
        for pb, js in captured_bodies(folder):
            assert otlp_to_invocations(pb, PB) == otlp_to_invocations(js, JSON), folder


def test_it_maps_generated_otlp_openinference():
    traces, rejected = ingest_all("generated-otlp-openinference")
    assert rejected == 0
    weather = next(v for k, v in traces.items() if k.startswith("67d57f85"))
    summarize = next(v for k, v in traces.items() if k.startswith("ee8fd71a"))
    for trace, expected, errors in (
        (weather, WEATHER_RUN, [("tool", "get_weather")]),
        (summarize, SUMMARIZE_RUN, [("agent", "Summarizer"), ("llm", "generation")]),
    ):
        got = summary(trace["steps"].values())
        assert {k: got[k] for k in expected} == expected
        assert got["errors"] == errors
        assert_parents_resolve(trace["steps"])
    steps = list(weather["steps"].values())
    handoff = next(s for s in steps if s.kind == "handoff")
    assert handoff.name == "handoff to Weather agent"
    second = next(s for s in steps if s.kind == "llm" and s.input_tokens == 167)
    assert second.output == [{
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "call_paris_001", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_atlantis_002", "name": "get_weather",
             "arguments": {"city": "Atlantis"}},
        ]}]
    assert second.input[3] == {"role": "tool", "content": '{"assistant": "Weather agent"}',
                               "tool_call_id": "call_handoff_001"}
    tool = next(s for s in steps if s.kind == "tool" and s.status == "ok")
    assert (tool.tool_arguments, tool.tool_result) == ({"city": "Paris"}, "Paris: sunny, 21C")


def test_it_keeps_long_non_ascii_values_of_generated_otlp_openinference_long():
    traces, rejected = ingest_all("generated-otlp-openinference-long")
    assert rejected == 0
    [trace] = traces.values()
    got = summary(trace["steps"].values())
    assert (got["steps"], got["kinds"]) == (5, {"llm": 1, "other": 2, "agent": 2})
    assert (got["input_tokens"], got["output_tokens"]) == (10, 2)
    llm = next(s for s in trace["steps"].values() if s.kind == "llm")
    assert llm.attributes["otel.dropped_attributes_count"] == 29
    # The SDK evicted llm.model_name and the first messages; the later ones are intact.
    assert llm.model is None
    longest = max(llm.input, key=lambda m: len(m["content"] or ""))
    assert len(longest["content"]) > 290_000
    assert "é✓ é✓" in longest["content"] and "truncated by TraceView" not in longest["content"]
    assert llm.input[-1] == {"role": "user", "content": "final question"}


def test_it_maps_generated_langfuse_v5_otlp():
    traces, rejected = ingest_all("generated-langfuse-v5-otlp")
    assert rejected == 0
    [trace] = traces.values()
    got = summary(trace["steps"].values())
    assert got["kinds"] == {"llm": 1, "tool": 2, "agent": 1}
    assert got["errors"] == [("tool", "get_weather")]
    assert (got["input_tokens"], got["output_tokens"]) == (167, 44)
    assert_parents_resolve(trace["steps"])
    llm = next(s for s in trace["steps"].values() if s.kind == "llm")
    assert llm.model == "gpt-4o-mini" and llm.cost_usd == Decimal("0.000051")
    failed = next(s for s in trace["steps"].values() if s.status == "error")
    assert failed.error_message == "ConnectionError: weather service unreachable for Atlantis"
    [inv] = trace["inv"]
    assert (inv.name, inv.status) == ("Weather agent", "ok")
    assert inv.input == "What's the weather in Paris and in Atlantis?"


@pytest.mark.parametrize("name", ["GOOGLE", "LANGCHAIN", "LLAMA_INDEX", "OPENAI", "SMOLAGENTS"])
def test_it_converts_any_agent_readable_spans(name):
    path = fixture_dir("any-agent") / f"{name}_trace.json"
    raw = json.loads(path.read_text())
    [inv] = readable_spans_to_invocations(raw)
    spans = raw["spans"]
    root = spans[-1]  # any-agent saves spans in end order
    assert inv.trace_id == format(root["context"]["trace_id"], "032x")
    assert len(inv.steps) == len(spans)
    assert inv.agent == "any_agent" and inv.status == "ok"
    root_step = next(s for s in inv.steps if s.parent_span_id is None)
    assert root_step.span_id == format(root["context"]["span_id"], "016x")
    assert root_step.kind == "agent"
    calls = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "call_llm"]
    got = summary(inv.steps)
    assert got["kinds"]["llm"] == len(calls)
    assert got["input_tokens"] == sum(s["attributes"]["gen_ai.usage.input_tokens"] for s in calls)
    assert got["output_tokens"] == sum(
        s["attributes"]["gen_ai.usage.output_tokens"] for s in calls)
    tools = [s for s in inv.steps if s.kind == "tool"]
    assert tools and all(s.tool_name and s.tool_arguments is not None for s in tools)
    llm = next(s for s in inv.steps if s.kind == "llm")
    assert llm.cost_usd > 0 and llm.model == "mistral/mistral-small-latest"


def test_it_converts_the_openai_any_agent_trace_exactly():
    raw = json.loads((fixture_dir("any-agent") / "OPENAI_trace.json").read_text())
    [inv] = readable_spans_to_invocations(raw)
    assert inv.trace_id == "4bedea77bb33b9c5f280371eae21ea97"
    got = summary(inv.steps)
    assert got == {"steps": 6, "kinds": {"llm": 3, "tool": 2, "agent": 1}, "errors": [],
                   "input_tokens": 1020, "output_tokens": 76}


def test_it_converts_vercel_ai_sdk_js_span_dumps():
    path = fixture_dir("openinference-js-fixtures") / "vercel-ai-sdk-v6-all-spans.json"
    invocations = readable_spans_to_invocations(json.loads(path.read_text()))
    steps = [s for inv in invocations for s in inv.steps]
    by_name = Counter((s.name, s.kind) for s in steps)
    assert by_name == Counter({
        ("ai.generateText.doGenerate", "llm"): 2, ("ai.generateText", "agent"): 2,
        ("ai.generateObject.doGenerate", "llm"): 1, ("ai.generateObject", "other"): 1,
        ("ai.streamText.doStream", "llm"): 1, ("ai.streamText", "agent"): 1,
        ("ai.embed.doEmbed", "other"): 1, ("ai.embed", "other"): 1,
    })
    got = summary(steps)
    # The outer ai.generateText spans repeat their doGenerate's usage: counted once.
    assert (got["input_tokens"], got["output_tokens"]) == (14 + 50 + 63 + 15, 20 + 9 + 156 + 112)
    stream = next(s for s in steps if s.name == "ai.streamText.doStream")
    assert stream.started_at.isoformat() == "2026-02-03T15:20:00.598000+00:00"
    assert [e["name"] for e in stream.events] == ["ai.stream.firstChunk", "ai.stream.finish"]
    embed = next(s for s in steps if s.name == "ai.embed.doEmbed")
    assert embed.model == "text-embedding-3-small" and embed.input_tokens is None


# --- tolerance rules -------------------------------------------------------------------------


def otlp_json(*spans, resource=None, **scope_extra) -> bytes:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": resource or []},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans), **scope_extra}],
    }]}).encode()


def span(**fields):
    base = {"traceId": TRACE, "spanId": SPAN, "name": "s",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000001000000000}
    base.update(fields)
    return base


def one_step(body: bytes, content_type: str = JSON):
    invocations, rejected, messages = otlp_to_invocations(body, content_type)
    assert rejected == 0, messages
    [inv] = invocations
    [step] = inv.steps
    return inv, step


def test_it_accepts_enum_names_for_kind_and_status():
    _, step = one_step(otlp_json(span(kind="SPAN_KIND_CLIENT",
                                      status={"code": "STATUS_CODE_ERROR", "message": "boom"})))
    assert step.attributes["otel.span_kind"] == "client"
    assert (step.status, step.error_message) == ("error", "boom")
    _, step = one_step(otlp_json(span(status={"code": "ERROR"})))
    assert step.status == "error"
    _, step = one_step(otlp_json(span(status={"code": 1})))
    assert step.status == "ok"


def test_it_accepts_snake_case_keys():
    body = json.dumps({"resource_spans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
        "scope_spans": [{"scope": {"name": "t"}, "spans": [{
            "trace_id": TRACE, "span_id": SPAN, "parent_span_id": "", "name": "root",
            "start_time_unix_nano": 1700000000000000000,
            "end_time_unix_nano": "1700000002000000000",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"string_value": "chat"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"int_value": "7"}}],
        }]}],
    }]}).encode()
    inv, step = one_step(body)
    assert (step.kind, step.input_tokens, step.duration_s) == ("llm", 7, 2.0)
    assert (inv.agent, inv.status, inv.name) == ("svc", "ok", "root")


@pytest.mark.parametrize("trace_id,span_id", [
    (TRACE.upper(), SPAN.upper()),
    (base64.b64encode(bytes.fromhex(TRACE)).decode(),
     base64.b64encode(bytes.fromhex(SPAN)).decode()),
    (int(TRACE, 16), int(SPAN, 16)),
    (str(int(TRACE, 16)), str(int(SPAN, 16))),
    ("0x" + TRACE, "0X" + SPAN),
    (f"{TRACE[:8]}-{TRACE[8:12]}-{TRACE[12:16]}-{TRACE[16:20]}-{TRACE[20:]}", SPAN),
])
def test_it_normalizes_ids_in_every_form(trace_id, span_id):
    _, step = one_step(otlp_json(span(traceId=trace_id, spanId=span_id)))
    inv, _ = one_step(otlp_json(span(traceId=trace_id, spanId=span_id)))
    assert (inv.trace_id, step.span_id) == (TRACE, SPAN)


def test_it_pads_short_decimal_ids():
    assert normalize_id(42, 8) == "000000000000002a"
    assert normalize_id("42", 16) == "0" * 30 + "2a"
    with pytest.raises(ValueError):
        normalize_id(1 << 64, 8)
    with pytest.raises(ValueError):
        normalize_id("not an id!", 8)


def test_it_accepts_attributes_as_a_plain_object():
    _, step = one_step(otlp_json(span(attributes={
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
        "gen_ai.tool.call.arguments": '{"q": 1}', "retries": 2,
        "wrapped": {"intValue": "5"},
    })))
    assert (step.kind, step.tool_name, step.tool_arguments) == ("tool", "lookup", {"q": 1})
    assert step.attributes["retries"] == 2 and step.attributes["wrapped"] == 5


def test_it_decodes_array_kvlist_bytes_and_double_values():
    _, step = one_step(otlp_json(span(attributes=[
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"},
                                                           {"intValue": "2"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [
            {"key": "x", "value": {"boolValue": True}}]}}},
        {"key": "raw", "value": {"bytesValue": "AAEC"}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "half", "value": {"doubleValue": 0.5}},
        {"key": "empty", "value": {}},
    ])))
    a = step.attributes
    assert (a["arr"], a["kv"], a["raw"], a["half"], a["empty"]) == (
        ["a", 2], {"x": True}, "AAEC", 0.5, None)
    assert a["nan"] == "nan"  # JSON has no NaN; kept visible as text


def test_it_rejects_a_span_without_a_span_id_and_keeps_the_others():
    body = otlp_json(span(spanId=""), span(spanId="1111111111111111"),
                     span(traceId="zz", spanId="2222222222222222"))
    invocations, rejected, messages = otlp_to_invocations(body, JSON)
    assert rejected == 2
    assert [s.span_id for i in invocations for s in i.steps] == ["1111111111111111"]
    assert "spans[0]: spanId is missing" in messages[0]
    assert "spans[2]: traceId" in messages[1]


def test_it_rejects_a_protobuf_span_with_a_short_id():
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good, bad = spans.add(), spans.add()
    good.trace_id, good.span_id, good.name = bytes.fromhex(TRACE), bytes.fromhex(SPAN), "ok"
    bad.trace_id, bad.span_id = bytes.fromhex(TRACE), b"\x01\x02"
    invocations, rejected, messages = otlp_to_invocations(request.SerializeToString(), PB)
    assert rejected == 1 and "spanId must be 8 bytes" in messages[0]
    assert [s.name for s in invocations[0].steps] == ["ok"]


@pytest.mark.parametrize("body,content_type,reason", [
    (b"{not json", JSON, "not valid JSON"),
    (b"[1, 2]", JSON, "must be a JSON object"),
    (b'{"resourceSpans": {}}', JSON, "must be an array"),
    (b'{"resourceLogs": []}', JSON, "OTLP logs export"),
    (b'{"something": 1}', JSON, "no resourceSpans"),
    (b"\xff\xff\xff\xff", PB, "not a valid protobuf"),
])
def test_it_raises_a_clear_error_for_a_bad_body(body, content_type, reason):
    with pytest.raises(OtlpDecodeError) as exc:
        decode_otlp_traces(body, content_type)
    assert reason in exc.value.reason


def test_it_names_the_signal_when_logs_are_posted_as_protobuf():
    logs = ExportLogsServiceRequest()
    record = logs.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano, record.severity_text = 123, "INFO"
    record.body.string_value = "hello"
    with pytest.raises(OtlpDecodeError) as exc:
        decode_otlp_traces(logs.SerializeToString(), PB)
    assert "logs export" in exc.value.reason


def test_it_accepts_an_empty_request():
    assert decode_otlp_traces(b"{}", JSON) == ([], 0, [])
    assert decode_otlp_traces(b"", PB) == ([], 0, [])


def test_it_refuses_an_unknown_content_type_and_sniffs_a_missing_one():
    with pytest.raises(UnsupportedContentType):
        decode_otlp_traces(b"{}", "text/plain")
    assert len(decode_otlp_traces(otlp_json(span()), None).spans) == 1
    assert len(decode_otlp_traces(otlp_json(span()), "application/json; charset=utf-8").spans) == 1


def test_it_replaces_invalid_utf8_in_protobuf_strings():
    request = ExportTraceServiceRequest()
    s = request.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id, s.name = bytes.fromhex(TRACE), bytes.fromhex(SPAN), "tool-XX"
    attr = s.attributes.add()
    attr.key, attr.value.string_value = "gen_ai.tool.name", "look-YY"
    body = request.SerializeToString().replace(b"XX", b"\xff\xfe").replace(b"YY", b"\xc3(")
    _, step = one_step(body, PB)
    assert step.name == "tool-\ufffd\ufffd"
    assert step.attributes["gen_ai.tool.name"] == "look-\ufffd("


@pytest.mark.parametrize("content_type", [JSON, PB])
def test_it_truncates_huge_attribute_values_visibly(content_type):
    huge = "x" * (MAX_VALUE_CHARS + 10)
    if content_type == JSON:
        body = otlp_json(span(attributes=[{"key": "big", "value": {"stringValue": huge}}]))
    else:
        request = ExportTraceServiceRequest()
        s = request.resource_spans.add().scope_spans.add().spans.add()
        s.trace_id, s.span_id = bytes.fromhex(TRACE), bytes.fromhex(SPAN)
        attr = s.attributes.add()
        attr.key, attr.value.string_value = "big", huge
        body = request.SerializeToString()
    _, step = one_step(body, content_type)
    value = step.attributes["big"]
    assert value.startswith("x" * MAX_VALUE_CHARS)
    assert value.endswith(f"…[truncated by TraceView: {MAX_VALUE_CHARS + 10} characters]")


def test_it_reads_errors_from_exception_events():
    _, step = one_step(otlp_json(span(
        status={"code": 2, "message": "status text"},
        events=[{"name": "exception", "timeUnixNano": "1700000000500000000", "attributes": [
            {"key": "exception.type", "value": {"stringValue": "TimeoutError"}},
            {"key": "exception.message", "value": {"stringValue": "took too long"}},
            {"key": "exception.stacktrace", "value": {"stringValue": "Traceback ..."}},
        ]}],
    )))
    assert (step.status, step.error_type, step.error_message, step.error_traceback) == (
        "error", "TimeoutError", "took too long", "Traceback ...")
    assert step.events[0]["time"] == "2023-11-14T22:13:20.500000+00:00"


def test_it_keeps_exceptions_of_a_successful_span_as_events_only():
    _, step = one_step(otlp_json(span(events=[{"name": "exception", "attributes": {
        "exception.type": "Retryable"}}])))
    assert step.status == "ok" and step.error_type is None
    assert step.events[0]["attributes"] == {"exception.type": "Retryable"}


def test_it_leaves_a_span_without_an_end_time_unfinished():
    _, step = one_step(otlp_json(span(endTimeUnixNano="0")))
    assert step.ended_at is None and step.status is None


def test_it_does_not_count_usage_repeated_on_agent_spans():
    body = otlp_json(
        span(spanId="1000000000000001", name="invoke_agent a", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}),
        span(spanId="1000000000000002", parentSpanId="1000000000000001", name="chat", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}),
    )
    [inv], _, _ = otlp_to_invocations(body, JSON)
    agent, chat = inv.steps
    assert (agent.kind, agent.input_tokens, agent.attributes["gen_ai.usage.input_tokens"]) == (
        "agent", None, 100)
    assert (chat.kind, chat.input_tokens, chat.output_tokens) == ("llm", 100, 10)
    assert inv.agent == "a"


def test_it_puts_session_and_conversation_ids_on_the_invocation():
    inv, _ = one_step(otlp_json(span(attributes={
        "session.id": "s-1", "gen_ai.conversation.id": "c-1", "user.id": "u-1"})))
    assert inv.attributes == {"session_id": "s-1", "conversation_id": "c-1", "user_id": "u-1"}


def test_it_groups_spans_by_trace():
    other = "0" * 31 + "1"
    body = otlp_json(span(), span(traceId=other, spanId="1" * 16), span(spanId="2" * 16))
    invocations, _, _ = otlp_to_invocations(body, JSON)
    assert [(i.trace_id, len(i.steps)) for i in invocations] == [(TRACE, 2), (other, 1)]
