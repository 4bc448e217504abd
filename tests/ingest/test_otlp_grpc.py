"""OTLP over gRPC: `manage.py serve_otlp_grpc` started as its own process, driven by the real
`opentelemetry-exporter-otlp-proto-grpc` exporter and by a plain gRPC channel for the refusals.

What was stored is read back through the read API; every refusal is checked for its gRPC status
and for having stored nothing.
"""

from __future__ import annotations

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.ingest.clients import (
    GrpcServer,
    assert_genai_run,
    emit_genai_run,
    invocation,
    provider_for,
)
from traceview.models import Invocation, Step

pytestmark = pytest.mark.django_db(transaction=True)

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    # One server for the module: it holds no state between requests but its connections, and
    # the tests' own data is flushed between tests as usual.
    started = GrpcServer(tmp_path_factory.mktemp("grpc"))
    yield started
    started.stop()


def export(server, request: ExportTraceServiceRequest, key: str | None = None):
    """One Export call on a fresh channel: (response, None) or (None, the RpcError)."""
    metadata = [("authorization", f"Bearer {key}")] if key else []
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        try:
            return TraceServiceStub(channel).Export(request, metadata=metadata, timeout=20), None
        except grpc.RpcError as exc:
            return None, exc


def spans_request(*spans: Span) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])])


def span(span_id: int, trace_id: bytes = TRACE, **fields) -> Span:
    return Span(trace_id=trace_id, span_id=span_id.to_bytes(8, "big"), name=f"step {span_id}",
                start_time_unix_nano=1_700_000_000_000_000_000,
                end_time_unix_nano=1_700_000_001_000_000_000, **fields)


def test_it_accepts_the_otlp_grpc_exporter(server, key):
    exporter = OTLPSpanExporter(endpoint=server.endpoint, insecure=True,
                                headers={"authorization": f"Bearer {key.raw}"})
    provider = provider_for(exporter)
    trace_id = emit_genai_run(provider)
    provider.shutdown()
    assert_genai_run(key, trace_id)


def test_it_accepts_gzip_compressed_exports(server, key):
    from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression

    exporter = OTLPSpanExporter(endpoint=server.endpoint, insecure=True,
                                compression=Compression.Gzip,
                                headers={"authorization": f"Bearer {key.raw}"})
    provider = provider_for(exporter)
    trace_id = emit_genai_run(provider)
    provider.shutdown()
    assert_genai_run(key, trace_id)


def test_it_stores_a_retried_export_once(server, key):
    request = spans_request(span(1), span(2, parent_span_id=(1).to_bytes(8, "big")))
    for _ in range(2):
        response, error = export(server, request, key.raw)
        assert error is None and response == ExportTraceServiceResponse()
    detail = invocation(key, TRACE.hex())
    assert detail["step_count"] == 2
    assert Step.objects.filter(invocation__trace_id=TRACE.hex()).count() == 2


def test_it_answers_partial_success_for_rejected_spans(server, key):
    bad = Span(trace_id=b"\x01\x02\x03", span_id=(9).to_bytes(8, "big"), name="bad")
    response, error = export(server, spans_request(span(1), bad), key.raw)
    assert error is None
    assert response.partial_success.rejected_spans == 1
    assert "traceId must be 16 bytes" in response.partial_success.error_message
    assert invocation(key, TRACE.hex())["step_count"] == 1


@pytest.mark.parametrize("sent", [None, "tv_not-a-key"])
def test_it_refuses_a_missing_or_wrong_key(server, key, sent):
    response, error = export(server, spans_request(span(1)), sent)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "key" in error.details()
    assert not Invocation.objects.exists()


def test_the_exporter_reports_failure_for_a_wrong_key(server, key):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    emit_genai_run(provider)
    exporter = OTLPSpanExporter(endpoint=server.endpoint, insecure=True,
                                headers={"authorization": "Bearer tv_wrong"})
    # UNAUTHENTICATED is not retried: the exporter gives up at once and says so.
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    exporter.shutdown()
    assert not Invocation.objects.exists()


def test_it_refuses_an_undecodable_body(server, key):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as raised:
            call(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=20,
                 metadata=[("authorization", f"Bearer {key.raw}")])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf ExportTraceServiceRequest" in raised.value.details()
    assert not Invocation.objects.exists()


def test_it_refuses_what_is_over_the_limits(key, tmp_path):
    limited = GrpcServer(tmp_path, env={"TRACEVIEW_MAX_BODY_BYTES": "4000",
                                        "TRACEVIEW_MAX_STEPS_PER_REQUEST": "3"})
    try:
        _, error = export(limited, spans_request(*(span(i) for i in range(1, 5))), key.raw)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 3" in error.details() and "TRACEVIEW_MAX_STEPS_PER_REQUEST" in (
            error.details())
        big = span(1, attributes=[])
        big.attributes.add(key="gen_ai.prompt", value={"string_value": "x" * 5000})
        _, error = export(limited, spans_request(big), key.raw)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        response, error = export(limited, spans_request(span(1), span(2)), key.raw)
        assert error is None
    finally:
        limited.stop()
    assert Step.objects.count() == 2


def test_it_answers_unavailable_with_a_retry_delay_when_the_database_is_down(key, tmp_path):
    # Nothing listens on port 9 of this machine: every connection to the database is refused.
    down = GrpcServer(tmp_path, env={"DATABASE_URL": "postgres://postgres@127.0.0.1:9/none"})
    try:
        _, error = export(down, spans_request(span(1)), key.raw)
    finally:
        down.stop()
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "database is unavailable" in error.details()
    retry = RetryInfo.FromString(dict(error.trailing_metadata())["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds == 5
