"""OTLP logs and metrics over HTTP: GenAI message events join their steps, whatever the order in
which they and their span arrive; other records and metrics are accepted and dropped.

The bodies are built with the protobuf classes (and their proto3 JSON mapping) in the shape the
openai-v2 instrumentation emits; tests/ingest/test_otel_exporters.py drives the real exporters.
"""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Histogram, HistogramDataPoint, Metric

from ingest.formats.otlp_logs import decode_otlp_metrics, logs_to_invocations
from traceview.models import Invocation, Step

PB = "application/x-protobuf"
TRACE, ROOT, CHAT = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b175"
T0 = 1_700_000_000_000_000_000


def value(v) -> AnyValue:
    if isinstance(v, dict):
        return AnyValue(kvlist_value=KeyValueList(
            values=[KeyValue(key=k, value=value(x)) for k, x in v.items()]))
    if isinstance(v, list):
        return AnyValue(array_value={"values": [value(x) for x in v]})
    if isinstance(v, int):
        return AnyValue(int_value=v)
    return AnyValue(string_value=v)


def event(name: str, body, at: int, span: str = CHAT, trace: str = TRACE,
          as_attribute: bool = False) -> LogRecord:
    record = LogRecord(observed_time_unix_nano=T0 + at, body=value(body),
                       trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span),
                       attributes=[KeyValue(key="gen_ai.system", value=value("openai"))])
    if as_attribute:  # older SDKs name the event in an attribute
        record.attributes.add(key="event.name", value=value(name))
    else:
        record.event_name = name
    return record


def logs(*records: LogRecord) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.extend(records)
    return request


SYSTEM = ("gen_ai.system.message", {"content": "You answer order questions."})
USER = ("gen_ai.user.message", {"content": "Where is order 4411?"})
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "lookup_order", "arguments": '{"order_id": 4411}'}}
ASSISTANT = ("gen_ai.assistant.message", {"tool_calls": [CALL]})
TOOL = ("gen_ai.tool.message", {"content": '{"status": "shipped"}', "id": "call_1"})
CHOICE = ("gen_ai.choice", {"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "It shipped Monday."}})

EXPECTED_INPUT = [
    {"role": "system", "content": "You answer order questions."},
    {"role": "user", "content": "Where is order 4411?"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": {"order_id": 4411}}]},
    {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_1"},
]
EXPECTED_OUTPUT = [{"role": "assistant", "content": "It shipped Monday."}]


def conversation() -> list[LogRecord]:
    return [event(name, body, at) for at, (name, body) in
            enumerate((SYSTEM, USER, ASSISTANT, TOOL, CHOICE))]


def chat_span_request(parent: str | None = ROOT) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    s = request.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id, s.name = bytes.fromhex(TRACE), bytes.fromhex(CHAT), "chat gpt-4o"
    if parent:
        s.parent_span_id = bytes.fromhex(parent)
    s.start_time_unix_nano, s.end_time_unix_nano = T0, T0 + 10**9
    for k, v in (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o")):
        s.attributes.add(key=k, value=value(v))
    s.attributes.add(key="gen_ai.usage.input_tokens", value=value(120))
    return request


def post(api, path: str, message, content_type=PB):
    data = message.SerializeToString() if content_type == PB else json_format.MessageToJson(
        message)
    return api.generic("POST", path, data, content_type=content_type)


def stored_chat() -> Step:
    return Step.objects.select_related("payload").get(span_id=CHAT)


# ---------------------------------------------------------------------------------------------
# Decoding (pure)


def test_it_turns_genai_log_events_into_messages():
    decoded = logs_to_invocations(logs(*conversation()).SerializeToString(), PB)
    (inv,) = decoded.invocations
    (step,) = inv.steps
    assert (inv.trace_id, step.span_id, decoded.kept, decoded.dropped) == (TRACE, CHAT, 5, 0)
    assert step.input == EXPECTED_INPUT
    assert step.output == EXPECTED_OUTPUT
    assert step.kind is None and step.parent_span_id is None  # the span says those


def test_it_reads_the_json_encoding_and_the_event_name_attribute():
    records = [event(name, body, at, as_attribute=True)
               for at, (name, body) in enumerate((SYSTEM, USER, CHOICE))]
    body = json_format.MessageToJson(logs(*records)).encode()
    (inv,) = logs_to_invocations(body, "application/json").invocations
    assert inv.steps[0].input == EXPECTED_INPUT[:2]
    assert inv.steps[0].output == EXPECTED_OUTPUT


def test_it_reads_the_newer_operation_details_event():
    record = event("gen_ai.client.inference.operation.details", None, 0)
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Where is 4411?"}]}]
    record.attributes.add(key="gen_ai.input.messages", value=value(json.dumps(messages)))
    (inv,) = logs_to_invocations(logs(record).SerializeToString(), PB).invocations
    assert inv.steps[0].input == [{"role": "user", "content": "Where is 4411?"}]


def test_it_drops_other_records_and_rejects_events_without_a_span():
    plain = LogRecord(body=value("GET /health 200"), severity_text="INFO")
    orphan = event(*USER, at=0)
    orphan.ClearField("span_id")
    decoded = logs_to_invocations(logs(plain, orphan).SerializeToString(), PB)
    assert (decoded.invocations, decoded.dropped, decoded.rejected) == ([], 1, 1)
    assert "logRecords[1]" in decoded.messages[0]


def test_it_counts_the_data_points_of_a_metrics_export():
    request = metrics_request()
    assert decode_otlp_metrics(request.SerializeToString(), PB) == 2
    assert decode_otlp_metrics(json_format.MessageToJson(request).encode(),
                               "application/json") == 2


def metrics_request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    scope.metrics.append(Metric(name="gen_ai.client.token.usage", unit="{token}",
                                histogram=Histogram(data_points=[
                                    HistogramDataPoint(count=1, sum=120),
                                    HistogramDataPoint(count=1, sum=15)])))
    return request


# ---------------------------------------------------------------------------------------------
# Through the endpoints and the store

pytestmark_db = pytest.mark.django_db


@pytestmark_db
@pytest.mark.parametrize("content_type", [PB, "application/json"])
def test_it_attaches_messages_that_arrive_after_the_span(api, project, content_type):
    assert post(api, "/v1/traces", chat_span_request(parent=None)).status_code == 200
    r = post(api, "/v1/logs", logs(*conversation()), content_type)
    assert r.status_code == 200, r.content
    if content_type == PB:
        assert ExportLogsServiceResponse.FromString(r.content) == ExportLogsServiceResponse()
    step = stored_chat()
    assert (step.kind, step.model, step.input_tokens) == ("llm", "gpt-4o", 120)
    assert (step.payload.input, step.payload.output) == (EXPECTED_INPUT, EXPECTED_OUTPUT)
    assert Step.objects.count() == 1


@pytestmark_db
def test_it_attaches_messages_that_arrive_before_the_span(api, project):
    assert post(api, "/v1/logs", logs(*conversation())).status_code == 200
    assert post(api, "/v1/traces", chat_span_request()).status_code == 200
    step = stored_chat()
    assert (step.kind, step.parent_span_id, step.status) == ("llm", ROOT, "ok")
    assert (step.payload.input, step.payload.output) == (EXPECTED_INPUT, EXPECTED_OUTPUT)
    assert Invocation.objects.get().step_count == 1


@pytestmark_db
def test_it_joins_messages_split_over_exports_in_time_order_once(api, project):
    records = conversation()
    # The answer first, then the prompt in two parts, then a retry of the first part.
    for part in (records[4:], records[2:4], records[:2], records[:2]):
        assert post(api, "/v1/logs", logs(*part)).status_code == 200
    assert post(api, "/v1/traces", chat_span_request()).status_code == 200
    step = stored_chat()
    assert (step.payload.input, step.payload.output) == (EXPECTED_INPUT, EXPECTED_OUTPUT)
    assert len(step.payload.events) == 5


@pytestmark_db
def test_it_answers_partial_success_for_events_it_cannot_attach(api, project):
    orphan = event(*USER, at=0)
    orphan.ClearField("trace_id")
    plain = LogRecord(body=value("an application log line"))
    r = post(api, "/v1/logs", logs(orphan, plain, *conversation()))
    assert r.status_code == 200
    reply = ExportLogsServiceResponse.FromString(r.content)
    assert reply.partial_success.rejected_log_records == 1
    assert "names no trace and span" in reply.partial_success.error_message
    assert stored_chat().payload.output == EXPECTED_OUTPUT


@pytestmark_db
def test_it_refuses_an_undecodable_logs_body(api, project):
    r = api.generic("POST", "/v1/logs", b'{"resourceSpans": []}', content_type="application/json")
    assert r.status_code == 400
    assert "/v1/traces" in r.json()["message"]
    assert not Invocation.objects.exists()


@pytestmark_db
@pytest.mark.parametrize("content_type", [PB, "application/json"])
def test_it_answers_metrics_exports_and_keeps_nothing(api, project, content_type):
    r = post(api, "/v1/metrics", metrics_request(), content_type)
    assert r.status_code == 200, r.content
    if content_type == PB:
        assert ExportMetricsServiceResponse.FromString(r.content) == (
            ExportMetricsServiceResponse())
    else:
        assert r.json() == {}
    assert not Invocation.objects.exists()
    bad = api.generic("POST", "/v1/metrics", b"\x0a\xff\xff\xff", content_type=PB)
    assert bad.status_code == 400


@pytestmark_db
def test_it_needs_a_key_for_logs_and_metrics(client, project):
    for path in ("/v1/logs", "/v1/metrics"):
        r = client.generic("POST", path, logs().SerializeToString(), content_type=PB)
        assert r.status_code == 401


@pytestmark_db
def test_the_replay_shows_the_messages_that_came_as_log_events(api, project, browser_client):
    post(api, "/v1/logs", logs(*conversation()))
    post(api, "/v1/traces", chat_span_request(parent=None))
    inv = Invocation.objects.get()
    html = browser_client.get(f"/invocations/{inv.id}/?step={CHAT}").content.decode()
    for text in ("You answer order questions.", "Where is order 4411?", "lookup_order",
                 "It shipped Monday."):
        assert text in html
