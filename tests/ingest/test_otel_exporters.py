"""The OpenTelemetry SDK's log and metric exporters, and `opentelemetry-instrument` with the
openai-v2 GenAI instrumentation, against a live test server (OTLP/HTTP) and the OTLP/gRPC server.

The instrumented agent (tests/ingest/openai_chat_agent.py) runs in its own process, configured
only by the environment, exactly as the README's table says, and talks to the scripted
chat-completions stub of the recorded corpus. Message content travels as log events, so the
messages stored on its LLM steps prove the logs route; an exporter failure (a 404 on
/v1/metrics, say) shows in its output and fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.trace import SpanKind

from tests.classify.recorded.servers import Call, ModelStub, Say
from tests.ingest.clients import GrpcServer, invocation, provider_for, step_detail

pytestmark = pytest.mark.django_db(transaction=True)

AGENT = Path(__file__).with_name("openai_chat_agent.py")
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def grpc_server(django_db_setup, tmp_path_factory):
    started = GrpcServer(tmp_path_factory.mktemp("grpc"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def model():
    with ModelStub() as stub:
        yield stub


# ---------------------------------------------------------------------------------------------
# The SDK's exporters, in process


def emit_chat_with_events(tracer_provider, logger_provider) -> str:
    """A chat span and its messages as log events, as the GenAI instrumentations emit them."""
    tracer = tracer_provider.get_tracer("tests.exporters")
    logger = logger_provider.get_logger("tests.exporters")
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                             "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 6})
        logger.emit(event_name="gen_ai.system.message", body={"content": "Be brief."},
                    attributes={"gen_ai.system": "openai"})
        logger.emit(event_name="gen_ai.user.message", body={"content": "Capital of France?"},
                    attributes={"gen_ai.system": "openai"})
        logger.emit(event_name="gen_ai.choice", body={
            "index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Paris."}},
            attributes={"gen_ai.system": "openai"})
        logger.emit(body="an application log line, dropped")
        return format(span.get_span_context().trace_id, "032x")


def assert_chat_messages(key, trace_id: str) -> None:
    detail = invocation(key, trace_id)
    (chat,) = detail["steps"]
    assert (chat["kind"], chat["model"], chat["input_tokens"]) == ("llm", "gpt-4o", 30)
    step = step_detail(key, detail["id"], chat["span_id"])
    assert step["input"] == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Capital of France?"}]
    assert step["output"] == [{"role": "assistant", "content": "Paris."}]


def test_it_takes_the_sdk_log_exporter_over_http(live_server, key):
    auth = {"Authorization": f"Bearer {key.raw}"}
    tracer_provider = provider_for(OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces",
                                                    headers=auth))
    logger_provider = LoggerProvider()
    exporter = OTLPLogExporter(endpoint=f"{live_server.url}/v1/logs", headers=auth)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    trace_id = emit_chat_with_events(tracer_provider, logger_provider)
    # The logs leave first: their step is made before its span arrives.
    logger_provider.shutdown()
    tracer_provider.shutdown()
    assert_chat_messages(key, trace_id)


def test_it_takes_the_sdk_log_exporter_over_grpc(grpc_server, key):
    auth = {"authorization": f"Bearer {key.raw}"}
    tracer_provider = provider_for(GrpcSpanExporter(endpoint=grpc_server.endpoint,
                                                    insecure=True, headers=auth))
    logger_provider = LoggerProvider()
    exporter = GrpcLogExporter(endpoint=grpc_server.endpoint, insecure=True, headers=auth)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    trace_id = emit_chat_with_events(tracer_provider, logger_provider)
    tracer_provider.shutdown()  # here the span comes first
    logger_provider.shutdown()
    assert_chat_messages(key, trace_id)


def genai_metrics():
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("tests.exporters")
    usage = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    usage.record(30, {"gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4o"})
    usage.record(6, {"gen_ai.token.type": "output", "gen_ai.request.model": "gpt-4o"})
    meter.create_histogram("gen_ai.client.operation.duration", unit="s").record(0.42)
    return reader.get_metrics_data()


def test_it_answers_the_sdk_metric_exporters(live_server, grpc_server, key):
    data = genai_metrics()
    http = OTLPMetricExporter(endpoint=f"{live_server.url}/v1/metrics",
                              headers={"Authorization": f"Bearer {key.raw}"})
    grpc = GrpcMetricExporter(endpoint=grpc_server.endpoint, insecure=True,
                              headers={"authorization": f"Bearer {key.raw}"})
    assert http.export(data) == MetricExportResult.SUCCESS
    assert grpc.export(data) == MetricExportResult.SUCCESS
    wrong = OTLPMetricExporter(endpoint=f"{live_server.url}/v1/metrics",
                               headers={"Authorization": "Bearer tv_wrong"})
    assert wrong.export(data) == MetricExportResult.FAILURE
    for exporter in (http, grpc, wrong):
        exporter.shutdown()


# ---------------------------------------------------------------------------------------------
# opentelemetry-instrument with the openai-v2 instrumentation: zero code


def instrumented_run(model: ModelStub, endpoint: str, protocol: str, raw_key: str,
                     **extra: str) -> tuple:
    """Run the agent under `opentelemetry-instrument` with the README's environment; its trace
    id and its output."""
    run = model.start("gpt-4o-mini", [Call(("lookup_order", {"order_id": 4411})),
                                      Say("Order 4411 shipped on Monday.")])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "MODEL_URL": model.base_url(run),
        "OTEL_SERVICE_NAME": "support-bot",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{raw_key}",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        **extra,
    }
    done = subprocess.run([str(BIN / "opentelemetry-instrument"), sys.executable, str(AGENT)],
                          env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return done.stdout.strip().splitlines()[-1], output


def assert_instrumented_run(key, trace_id: str, output: str) -> None:
    assert "Failed to export" not in output and "404" not in output, output
    detail = invocation(key, trace_id)
    assert (detail["agent"], detail["status"]) == ("support-bot", "ok")
    llm = sorted((s for s in detail["steps"] if s["kind"] == "llm"),
                 key=lambda s: s["started_at"])
    assert len(llm) == 2, detail["steps"]
    first, second = (step_detail(key, detail["id"], s["span_id"]) for s in llm)
    assert first["model"].startswith("gpt-4o-mini")
    system = {"role": "system", "content": "You answer questions about orders."}
    user = {"role": "user", "content": "Where is order 4411?"}
    assert first["input"] == [system, user]
    (asked,) = first["output"]
    (call,) = asked["tool_calls"]
    assert (call["name"], call["arguments"]) == ("lookup_order", {"order_id": 4411})
    assert second["input"][:2] == [system, user]
    assert second["input"][2]["tool_calls"][0]["id"] == call["id"]
    assert second["input"][3] == {"role": "tool", "tool_call_id": call["id"],
                                  "content": '{"order_id": 4411, "status": "shipped"}'}
    assert second["output"] == [{"role": "assistant",
                                 "content": "Order 4411 shipped on Monday."}]
    assert (second["input_tokens"], second["output_tokens"]) != (None, None)


def test_opentelemetry_instrument_over_http_protobuf(live_server, model, key):
    trace_id, output = instrumented_run(model, live_server.url, "http/protobuf", key.raw)
    assert_instrumented_run(key, trace_id, output)


def test_opentelemetry_instrument_over_grpc(grpc_server, model, key):
    trace_id, output = instrumented_run(model, grpc_server.endpoint, "grpc", key.raw)
    assert_instrumented_run(key, trace_id, output)


def test_opentelemetry_instrument_with_the_newer_genai_conventions(live_server, model, key):
    # The opt-in conventions send one gen_ai.client.inference.operation.details event per call
    # with the whole conversation in its attributes.
    trace_id, output = instrumented_run(
        model, live_server.url, "http/protobuf", key.raw,
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY",
    )
    assert_instrumented_run(key, trace_id, output)
