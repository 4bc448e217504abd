"""Odd and bad input through the real endpoints: what real senders emit, and what they get back.

Ids in every form, missing end times, parents that never arrive, invalid UTF-8, huge attribute
values, retries, the wrong OTLP signal, compression, size limits, unknown content types, partial
Langfuse batches, wrong keys, and a property test that nothing answers 500.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
import zstandard
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.ingest.test_conformance import rows
from traceview.models import Agent, ApiKey, Invocation, Step

TRACE = "5b8efff798038103d269b633813fc60c"
ROOT, CHILD = "eee19b7ec3c1b174", "eee19b7ec3c1b173"
T0 = 1_700_000_000_000_000_000


def span(span_id=CHILD, parent=ROOT, trace=TRACE, **extra):
    out = {"traceId": trace, "spanId": span_id, "name": "execute_tool search",
           "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10**9),
           "attributes": [{"key": "gen_ai.operation.name",
                           "value": {"stringValue": "execute_tool"}}]}
    if parent:
        out["parentSpanId"] = parent
    out.update(extra)
    return out


def otlp(*spans):
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "odd-agent"}}]},
        "scopeSpans": [{"scope": {"name": "tests"}, "spans": list(spans)}]}]}


def post_otlp(api, body, content_type="application/json", path="/v1/traces", **extra):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return api.generic("POST", path, data, content_type=content_type, **extra)


def pb_request(name="chat", attrs=(), end=True) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    s = request.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id = bytes.fromhex(TRACE), bytes.fromhex(ROOT)
    s.name, s.start_time_unix_nano = name, T0
    if end:
        s.end_time_unix_nano = T0 + 10**9
    for key, value in attrs:
        s.attributes.add(key=key).value.string_value = value
    return request


# ---------------------------------------------------------------------------------------------
# Ids and shapes real senders emit

TRACE_B64 = base64.b64encode(bytes.fromhex(TRACE)).decode()
CHILD_B64 = base64.b64encode(bytes.fromhex(CHILD)).decode()
ROOT_B64 = base64.b64encode(bytes.fromhex(ROOT)).decode()
ID_FORMS = {
    "upper-case-hex": span(trace=TRACE.upper(), span_id=CHILD.upper(), parent=ROOT.upper()),
    "decimal-strings": span(trace=str(int(TRACE, 16)), span_id=str(int(CHILD, 16)),
                            parent=str(int(ROOT, 16))),
    "decimal-numbers": span(trace=int(TRACE, 16), span_id=int(CHILD, 16), parent=int(ROOT, 16)),
    "base64": span(trace=TRACE_B64, span_id=CHILD_B64, parent=ROOT_B64),
}


@pytest.mark.parametrize("form", list(ID_FORMS))
def test_it_reads_ids_in_every_form(api, project, form):
    r = post_otlp(api, otlp(ID_FORMS[form]))
    assert r.status_code == 200, r.content
    assert r.json() == {}
    step = Step.objects.get(invocation__trace_id=TRACE)
    assert (step.span_id, step.parent_span_id, step.kind) == (CHILD, ROOT, "tool")


def test_it_reads_snake_case_keys_enum_names_and_attributes_as_an_object(api, project):
    body = {"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": TRACE, "span_id": ROOT, "name": "chat gpt-4o",
        "kind": "SPAN_KIND_CLIENT", "start_time_unix_nano": T0, "end_time_unix_nano": T0 + 10**9,
        "status": {"code": "STATUS_CODE_ERROR", "message": "rate limited"},
        "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 2},
    }]}]}]}
    assert post_otlp(api, body).status_code == 200
    step = Step.objects.get(invocation__trace_id=TRACE)
    assert (step.kind, step.model, step.status, step.error_message) == (
        "llm", "gpt-4o", "error", "rate limited")
    assert step.payload.attributes["otel.span_kind"] == "client"
    inv = Invocation.objects.get(trace_id=TRACE)
    assert (inv.input_tokens, inv.output_tokens, inv.status) == (7, 2, "error")


def test_it_rejects_only_the_spans_without_usable_ids(api, project):
    r = post_otlp(api, otlp(span(span_id=ROOT, parent=None), span(span_id="", parent=ROOT)))
    assert r.status_code == 200
    answer = r.json()["partialSuccess"]
    assert answer["rejectedSpans"] == "1" and "spanId" in answer["errorMessage"]
    assert Step.objects.filter(invocation__trace_id=TRACE).count() == 1


def test_it_keeps_a_span_without_an_end_time_running(api, project):
    root = span(span_id=ROOT, parent=None)
    del root["endTimeUnixNano"]
    assert post_otlp(api, otlp(root)).status_code == 200
    step = Step.objects.get(invocation__trace_id=TRACE)
    assert (step.status, step.ended_at) == ("running", None)
    assert Invocation.objects.get(trace_id=TRACE).status == "running"


def test_it_keeps_steps_whose_parent_never_arrives(api, project):
    assert post_otlp(api, otlp(span())).status_code == 200
    inv = Invocation.objects.get(trace_id=TRACE)
    step = Step.objects.get(invocation=inv)
    assert step.parent_span_id == ROOT and not Step.objects.filter(span_id=ROOT).exists()
    # Without its root the run is not known to be over.
    assert (inv.status, inv.completed_at) == ("running", None)


def test_it_replaces_invalid_utf8_in_protobuf_strings(api, project):
    body = pb_request(name="tool-XXXX").SerializeToString().replace(b"XXXX", b"\xff\xfeok")
    r = post_otlp(api, body, content_type="application/x-protobuf")
    assert r.status_code == 200, r.content
    ExportTraceServiceResponse.FromString(r.content)
    assert Step.objects.get(invocation__trace_id=TRACE).name == "tool-\ufffd\ufffdok"


@pytest.mark.parametrize("content_type", ["application/octet-stream", ""])
def test_it_answers_protobuf_sent_as_octet_stream_or_untyped_in_protobuf(
    api, project, content_type
):
    r = post_otlp(api, pb_request().SerializeToString(), content_type=content_type)
    assert r.status_code == 200, r.content
    assert r["Content-Type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(r.content)
    bad = post_otlp(api, b"\x0a\xff\xff\xff", content_type=content_type)
    assert bad.status_code == 400 and bad["Content-Type"] == "application/x-protobuf"


def test_it_keeps_a_huge_attribute_value_truncated_with_a_marker(api, project):
    huge = "é" * (1024 * 1024 + 5000)
    body = pb_request(attrs=[("app.note", huge)]).SerializeToString()
    r = post_otlp(api, gzip.compress(body), content_type="application/x-protobuf",
                  HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 200
    kept = Step.objects.get(invocation__trace_id=TRACE).payload.attributes["app.note"]
    assert kept.startswith("é" * 1_000_000)
    assert kept.endswith(" characters]") and "…[truncated by TraceView: " in kept
    assert len(kept) < len(huge)


def test_it_names_the_original_length_in_the_truncation_marker(api, project):
    huge = "x" * (1024 * 1024 + 5000)
    body = pb_request(attrs=[("input.value", huge)]).SerializeToString()
    assert post_otlp(api, body, content_type="application/x-protobuf").status_code == 200
    payload = Step.objects.get(invocation__trace_id=TRACE).payload
    # The value is the step's input, where it is cut; the raw attribute says where it went.
    assert payload.input.endswith(f"…[truncated by TraceView: {len(huge)} characters]")
    assert payload.attributes["input.value"] == "[kept as the step's input]"


def test_it_stores_the_same_rows_when_a_request_is_retried(api, project):
    body = otlp(span(span_id=ROOT, parent=None), span())
    assert post_otlp(api, body).status_code == 200
    first = rows(project)
    assert post_otlp(api, body).status_code == 200
    assert rows(project) == first
    assert Step.objects.count() == 2


# ---------------------------------------------------------------------------------------------
# Transport: signals, encodings, limits, content types


def _logs_request() -> bytes:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano, record.severity_text = T0, "ERROR"
    record.body.string_value = "tool failed"
    record.trace_id, record.span_id = bytes.fromhex(TRACE), bytes.fromhex(ROOT)
    return request.SerializeToString()


def _metrics_request() -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "gen_ai.client.token.usage"
    point = metric.sum.data_points.add()
    point.as_int, point.time_unix_nano = 12, T0
    return request.SerializeToString()


@pytest.mark.parametrize("signal, body, path", [
    ("logs", _logs_request(), "/v1/logs"),
    ("metrics", _metrics_request(), "/v1/metrics"),
])
def test_it_names_the_right_path_for_logs_or_metrics_posted_to_traces(api, project, signal,
                                                                      body, path):
    r = post_otlp(api, body, content_type="application/x-protobuf")
    assert r.status_code == 400
    from google.rpc.status_pb2 import Status

    message = Status.FromString(r.content).message
    assert signal in message and path in message, message
    assert not Invocation.objects.exists()


def test_it_names_the_logs_path_for_otlp_json_logs(api, project):
    r = post_otlp(api, {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {
        "stringValue": "hi"}}]}]}]})
    assert r.status_code == 400
    assert "/v1/logs" in r.json()["message"]


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some senders send it
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_it_reads_compressed_bodies(api, project, encoding, compress):
    body = compress(json.dumps(otlp(span(span_id=ROOT, parent=None))).encode())
    r = post_otlp(api, body, HTTP_CONTENT_ENCODING=encoding)
    assert r.status_code == 200, r.content
    assert Step.objects.get().span_id == ROOT


@override_settings(TRACEVIEW_MAX_BODY_BYTES=4096)
@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress), ("zstd", lambda b: zstandard.ZstdCompressor().compress(b))])
def test_it_answers_413_when_the_body_is_too_large_after_decompression(api, project, encoding,
                                                                      compress):
    padding = {"key": "pad", "value": {"stringValue": "x" * 10_000}}
    body = compress(json.dumps(otlp(span(attributes=[padding]))).encode())
    assert len(body) < 4096
    r = post_otlp(api, body, HTTP_CONTENT_ENCODING=encoding)
    assert r.status_code == 413
    assert "4096" in r.json()["errors"][0]["reason"]
    assert not Invocation.objects.exists()


@override_settings(TRACEVIEW_MAX_BODY_BYTES=4096)
def test_it_answers_413_for_a_plain_body_above_the_limit(api, project):
    r = post_otlp(api, b"{" + b" " * 5000 + b"}")
    assert r.status_code == 413


@override_settings(TRACEVIEW_MAX_STEPS_PER_REQUEST=2)
def test_it_answers_413_for_more_spans_than_a_request_may_hold(api, project):
    spans = [span(span_id=f"eee19b7ec3c1b17{i}") for i in range(3)]
    r = post_otlp(api, otlp(*spans))
    assert r.status_code == 413
    assert r.json()["code"] == 8  # RESOURCE_EXHAUSTED, as the gRPC server answers
    assert "at most 2" in r.json()["message"]
    assert not Invocation.objects.exists()
    assert post_otlp(api, otlp(*spans[:2])).status_code == 200


def test_it_answers_415_for_an_unknown_content_type(api, project):
    r = post_otlp(api, b"resourceSpans", content_type="text/plain")
    assert r.status_code == 415
    assert "application/x-protobuf" in r.json()["message"]


def test_it_answers_400_for_a_body_that_is_not_protobuf(api, project):
    r = post_otlp(api, b"\xff\xff\xff\xff not protobuf", content_type="application/x-protobuf")
    assert r.status_code == 400


# ---------------------------------------------------------------------------------------------
# Langfuse


def basic(public: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()


@pytest.fixture
def langfuse(client, project):
    key, raw = ApiKey.issue(project, name="langfuse")
    client.defaults["HTTP_AUTHORIZATION"] = basic(key.public_key, raw)
    client.key, client.raw = key, raw
    return client


def post_batch(client, batch, **extra):
    return client.post("/api/public/ingestion", {"batch": batch},
                       content_type="application/json", **extra)


BATCH = [
    {"id": "e1", "type": "trace-create", "timestamp": "2026-01-01T00:00:00Z",
     "body": {"id": "lf-1", "name": "support"}},
    {"id": "e2", "type": "generation-create", "timestamp": "2026-01-01T00:00:01Z",
     "body": {"id": "g1", "traceId": "lf-1", "name": "chat", "model": "gpt-4o",
              "startTime": "2026-01-01T00:00:01Z", "endTime": "2026-01-01T00:00:02Z",
              "usage": {"input": 30, "output": 5}}},
    {"id": "e3", "type": "span-create", "timestamp": "2026-01-01T00:00:01Z",
     "body": {"id": "s1", "traceId": "lf-1", "startTime": "not a time"}},
]


def test_it_answers_207_with_the_bad_event_and_stores_the_others(langfuse, project):
    r = post_batch(langfuse, BATCH)
    assert r.status_code == 207
    answer = r.json()
    assert [s["id"] for s in answer["successes"]] == ["e1", "e2"]
    assert [(e["id"], e["status"]) for e in answer["errors"]] == [("e3", 400)]
    assert "startTime" in answer["errors"][0]["message"]
    inv = Invocation.objects.get(project=project, trace_id="lf-1")
    assert (inv.name, inv.input_tokens, inv.output_tokens) == ("support", 30, 5)
    assert list(Step.objects.filter(invocation=inv).values_list("span_id", flat=True)) == ["g1"]


def test_it_answers_401_for_a_public_key_of_another_key(langfuse, project):
    r = post_batch(langfuse, BATCH[:1], HTTP_AUTHORIZATION=basic("pk-tv_wrong", langfuse.raw))
    assert r.status_code == 401
    assert not Invocation.objects.exists()


def test_it_answers_401_for_a_wrong_secret(langfuse, project):
    r = post_batch(langfuse, BATCH[:1],
                   HTTP_AUTHORIZATION=basic(langfuse.key.public_key, "tv_wrong"))
    assert r.status_code == 401


# ---------------------------------------------------------------------------------------------
# Nothing answers 500

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=20), children, max_size=3),
    max_leaves=10,
)
ids = st.one_of(st.sampled_from([TRACE, TRACE.upper(), ROOT, CHILD, "", "0" * 32, TRACE_B64]),
                st.integers(), st.text(max_size=40), json_values)
otlp_values = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "stringValue": st.text(max_size=30), "intValue": st.one_of(st.integers(), st.text()),
        "doubleValue": json_values, "boolValue": json_values, "bytesValue": json_values,
        "arrayValue": st.fixed_dictionaries({"values": st.lists(json_values, max_size=3)}),
        "kvlistValue": json_values,
    }),
)
attributes = st.one_of(
    st.lists(st.fixed_dictionaries({"key": st.one_of(st.sampled_from([
        "gen_ai.operation.name", "gen_ai.usage.input_tokens", "gen_ai.tool.name",
        "openinference.span.kind", "llm.token_count.prompt", "gen_ai.input.messages",
        "langfuse.observation.type", "ai.operationId"]), st.text(max_size=20), json_values),
        "value": otlp_values}), max_size=4),
    st.dictionaries(st.text(max_size=20), json_values, max_size=3),
    json_values,
)
spans = st.fixed_dictionaries({}, optional={
    "traceId": ids, "spanId": ids, "parentSpanId": ids, "name": json_values,
    "kind": st.one_of(st.integers(), st.sampled_from(["SPAN_KIND_CLIENT", "BOGUS"]), json_values),
    "startTimeUnixNano": st.one_of(st.integers(), st.text(max_size=25), json_values),
    "endTimeUnixNano": st.one_of(st.integers(), st.text(max_size=25), json_values),
    "status": st.one_of(st.fixed_dictionaries({}, optional={
        "code": st.one_of(st.integers(), st.text(max_size=20)), "message": json_values}),
        json_values),
    "attributes": attributes, "events": json_values, "links": json_values,
})
otlp_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"resourceSpans": st.lists(st.fixed_dictionaries({}, optional={
        "resource": json_values,
        "scopeSpans": st.lists(st.fixed_dictionaries({}, optional={
            "scope": json_values, "spans": st.lists(spans, max_size=3)}), max_size=2),
    }), max_size=2)}),
)
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(body=otlp_bodies)
def test_it_never_answers_500_to_otlp_json(api, project, body):
    r = post_otlp(api, json.dumps(body).encode())
    assert r.status_code in (200, 400), (r.status_code, r.content[:500])


event_types = st.sampled_from([
    "trace-create", "span-create", "span-update", "generation-create", "generation-update",
    "event-create", "score-create", "agent-create", "tool-create", "sdk-log", "observation-create",
    "bogus",
])
observation_bodies = st.fixed_dictionaries({}, optional={
    "id": ids, "traceId": st.one_of(st.sampled_from(["lf-1", "lf-2"]), json_values),
    "parentObservationId": json_values, "name": json_values,
    "startTime": st.one_of(st.sampled_from(["2026-01-01T00:00:00Z"]), json_values),
    "endTime": json_values, "level": st.one_of(st.sampled_from(["ERROR", "DEFAULT"]), json_values),
    "statusMessage": json_values, "usage": json_values, "usageDetails": json_values,
    "costDetails": json_values, "model": json_values, "input": json_values, "output": json_values,
    "metadata": json_values, "value": json_values,
})
batches = st.one_of(
    json_values,
    st.fixed_dictionaries({"batch": st.lists(st.one_of(
        st.fixed_dictionaries({"id": ids, "type": event_types, "body": observation_bodies},
                              optional={"timestamp": json_values}),
        json_values,
    ), max_size=5)}, optional={"metadata": json_values}),
)


@SETTINGS
@given(body=batches)
def test_it_never_answers_500_to_langfuse_batches(langfuse, project, body):
    r = langfuse.post("/api/public/ingestion", json.dumps(body),
                      content_type="application/json")
    assert r.status_code in (207, 400), (r.status_code, r.content[:500])


def test_it_stores_an_overlong_agent_name_cut_to_fit_as_one_agent(langfuse, project):
    # Langfuse names the agent after the trace; PostgreSQL enforces the column's 200 characters.
    name = "support\x00" + "x" * 300
    for trace_id in ("lf-long-1", "lf-long-2"):
        batch = [{"id": trace_id, "type": "trace-create", "timestamp": "2026-01-01T00:00:00Z",
                  "body": {"id": trace_id, "name": name}}]
        assert post_batch(langfuse, batch).status_code == 207
    [agent] = Agent.objects.filter(project=project)
    assert len(agent.name) == 200 and "\x00" not in agent.name
    assert set(Invocation.objects.values_list("agent", flat=True)) == {agent.id}
