"""OpenTelemetry hook: point the OTLP/HTTP span exporter at TraceView.

    from traceview_sdk.integrations.otel import configure_otlp
    provider = configure_otlp("http://localhost:8000", "tv_...", service_name="support-bot")

Any OpenTelemetry-instrumented framework (OpenInference, OpenLLMetry, GenAI semantic
conventions) then sends its spans to TraceView's OTLP endpoint, POST {url}/v1/traces, with the
API key as a Bearer token. Spans are batched and exported by OpenTelemetry's own
BatchSpanProcessor, off the application's threads.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

OTLP_PATH = "/v1/traces"


def otlp_endpoint(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith(OTLP_PATH) else base + OTLP_PATH


def configure_otlp(
    url: str | None = None,
    api_key: str | None = None,
    *,
    service_name: str | None = None,
    tracer_provider: TracerProvider | None = None,
    set_global: bool = True,
    timeout: float = 10.0,
    **processor_options: Any,
) -> TracerProvider:
    """Export spans to TraceView; returns the TracerProvider that now does so.

    With `tracer_provider`, a BatchSpanProcessor is added to it. Otherwise the global provider is
    used when it is already an SDK TracerProvider, else a new one is made (named by
    `service_name`) and, with `set_global`, installed globally. url and api_key default to
    TRACEVIEW_URL and TRACEVIEW_API_KEY. processor_options go to BatchSpanProcessor
    (schedule_delay_millis, max_queue_size, ...).
    """
    url = url or os.environ.get("TRACEVIEW_URL")
    api_key = api_key or os.environ.get("TRACEVIEW_API_KEY")
    if not url or not api_key:
        raise ValueError("configure_otlp needs a url and an api_key (or TRACEVIEW_URL/_API_KEY)")
    exporter = OTLPSpanExporter(
        endpoint=otlp_endpoint(url),
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=timeout,
    )
    provider = tracer_provider
    if provider is None and set_global:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current
    if provider is None:
        resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
        provider = TracerProvider(resource=resource)
        if set_global:
            trace.set_tracer_provider(provider)
    provider.add_span_processor(BatchSpanProcessor(exporter, **processor_options))
    return provider
