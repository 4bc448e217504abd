"""The OpenTelemetry helper: opentelemetry-sdk spans sent over OTLP/HTTP to a local server."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from traceview_sdk.integrations.otel import configure_otlp  # noqa: E402


def exported_spans(server) -> list:
    spans = []
    for request in server.requests:
        assert request["path"] == "/v1/traces"
        message = ExportTraceServiceRequest()
        message.ParseFromString(request["body"])
        for resource_spans in message.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans.extend((resource, span) for span in scope_spans.spans)
    return spans


def test_it_exports_spans_to_the_traceview_otlp_endpoint(ingest_server):
    provider = configure_otlp(
        ingest_server.url, "tv_otel_key", service_name="support-bot", set_global=False
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent support-bot") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 812)
    assert provider.force_flush(5000)
    provider.shutdown()

    request = ingest_server.requests[0]
    assert request["headers"]["Authorization"] == "Bearer tv_otel_key"
    assert request["headers"]["Content-Type"] == "application/x-protobuf"
    spans = exported_spans(ingest_server)
    by_name = {span.name: (resource, span) for resource, span in spans}
    assert set(by_name) == {"invoke_agent support-bot", "chat gpt-4o"}
    resource, chat = by_name["chat gpt-4o"]
    assert resource["service.name"] == "support-bot"
    attributes = {a.key: a.value for a in chat.attributes}
    assert attributes["gen_ai.request.model"].string_value == "gpt-4o"
    assert attributes["gen_ai.usage.input_tokens"].int_value == 812
    assert chat.parent_span_id == by_name["invoke_agent support-bot"][1].span_id


def test_it_adds_an_exporter_to_a_given_provider(ingest_server):
    provider = TracerProvider()
    assert (
        configure_otlp(ingest_server.url + "/v1/traces", "k", tracer_provider=provider) is provider
    )
    with provider.get_tracer("test").start_as_current_span("tool lookup_order"):
        pass
    provider.force_flush(5000)
    provider.shutdown()
    assert [span.name for _, span in exported_spans(ingest_server)] == ["tool lookup_order"]


def test_it_reads_url_and_key_from_the_environment_or_refuses(ingest_server, monkeypatch):
    monkeypatch.delenv("TRACEVIEW_URL", raising=False)
    monkeypatch.delenv("TRACEVIEW_API_KEY", raising=False)
    with pytest.raises(ValueError):
        configure_otlp(set_global=False)
    monkeypatch.setenv("TRACEVIEW_URL", ingest_server.url)
    monkeypatch.setenv("TRACEVIEW_API_KEY", "tv_env")
    provider = configure_otlp(set_global=False)
    with provider.get_tracer("test").start_as_current_span("step"):
        pass
    provider.force_flush(5000)
    provider.shutdown()
    assert ingest_server.requests[0]["headers"]["Authorization"] == "Bearer tv_env"
