"""OTLP exports, whatever the transport: decode, check the limits, store, build the reply.

The OTLP/HTTP views (ingest/api.py) and the OTLP/gRPC server (ingest/otlp_grpc.py) both call
these, so the two transports accept, refuse, store and answer the same way. The body reaches
here whole and decompressed (`read_body` for HTTP; gRPC's own framing and its message limit,
set to TRACEVIEW_MAX_BODY_BYTES, for gRPC).

A refusal is an `ExportRefused` whose `kind` each transport maps onto its own status:
"invalid" (HTTP 400, gRPC INVALID_ARGUMENT), "unsupported" (415), "too_large" (413,
RESOURCE_EXHAUSTED). Database errors propagate: HTTP answers 503 with Retry-After, gRPC
UNAVAILABLE with a retry delay.
"""

from __future__ import annotations

from django.conf import settings
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ingest.formats.errors import FormatError
from ingest.formats.otlp import (
    OtlpDecodeError,
    UnsupportedContentType,
    decode_otlp_traces,
    spans_to_invocations,
)
from ingest.formats.otlp_logs import decode_otlp_metrics, logs_to_invocations
from ingest.store import invocations_store
from traceview.models import Project


class ExportRefused(Exception):
    """The export as a whole is refused; nothing of it was stored."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(reason)


def _decoding(decode, body: bytes, content_type: str | None):
    try:
        return decode(body, content_type)
    except UnsupportedContentType as exc:
        raise ExportRefused("unsupported", exc.reason) from None
    except OtlpDecodeError as exc:
        raise ExportRefused("invalid", exc.reason) from None


def _check_steps(count: int, what: str) -> None:
    limit = settings.TRACEVIEW_MAX_STEPS_PER_REQUEST
    if count > limit:
        raise ExportRefused(
            "too_large",
            f"the export holds {count} {what}; at most {limit} are taken in one request "
            "(TRACEVIEW_MAX_STEPS_PER_REQUEST): export smaller batches",
        )


def _store(project: Project, invocations) -> None:
    try:
        invocations_store(project, invocations)
    except FormatError as exc:  # what the store refuses as a whole (ids too long, say)
        raise ExportRefused("invalid", str(exc)) from None


def _partial(response, rejected_field: str, decoded):
    """The reply, naming how many items were rejected and why when some were (partial success)."""
    if decoded.rejected:
        setattr(response.partial_success, rejected_field, decoded.rejected)
        response.partial_success.error_message = "; ".join(decoded.messages)[:4000]
    return response


def otlp_traces_export(
    project: Project, body: bytes, content_type: str | None
) -> ExportTraceServiceResponse:
    """Store an ExportTraceServiceRequest; the reply names the spans rejected, if any."""
    decoded = _decoding(decode_otlp_traces, body, content_type)
    _check_steps(len(decoded.spans), "spans")
    _store(project, spans_to_invocations(decoded.spans))
    return _partial(ExportTraceServiceResponse(), "rejected_spans", decoded)


def otlp_logs_export(
    project: Project, body: bytes, content_type: str | None
) -> ExportLogsServiceResponse:
    """Attach the GenAI message events of an ExportLogsServiceRequest to their steps; other log
    records are accepted and dropped (ingest/formats/otlp_logs.py)."""
    decoded = _decoding(logs_to_invocations, body, content_type)
    _check_steps(decoded.kept, "GenAI log events")
    _store(project, decoded.invocations)
    return _partial(ExportLogsServiceResponse(), "rejected_log_records", decoded)


def otlp_metrics_export(
    project: Project, body: bytes, content_type: str | None
) -> ExportMetricsServiceResponse:
    """Check an ExportMetricsServiceRequest decodes, and keep nothing of it: usage and durations
    come from the spans. A correct reply, so that exporters neither fail nor retry."""
    _decoding(decode_otlp_metrics, body, content_type)
    return ExportMetricsServiceResponse()
