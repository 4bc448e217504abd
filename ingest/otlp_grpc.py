"""OTLP over gRPC: the collector's `Export` services (traces, logs, metrics) on a server of their
own (port 4317).

`opentelemetry-instrument` and most SDKs export over gRPC by default. The server hands each
request's bytes to the same functions as the OTLP/HTTP views (ingest/exports.py), so decoding,
limits, storage and partial-success replies are the same; only the transport's statuses differ:

- no key, or a wrong one (`authorization: Bearer <key>` metadata, or `x-api-key`):
  UNAUTHENTICATED;
- an undecodable request: INVALID_ARGUMENT;
- a message above TRACEVIEW_MAX_BODY_BYTES (gRPC's own check, after decompression), or more
  spans than TRACEVIEW_MAX_STEPS_PER_REQUEST: RESOURCE_EXHAUSTED;
- the database is unavailable: UNAVAILABLE, with a `google.rpc.RetryInfo` delay that the
  exporters honour before they retry.

Requests are served by a pool of threads, each with its own database connection, closed and
reopened the way Django does around an HTTP request.
"""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from rest_framework.exceptions import AuthenticationFailed

from ingest.auth import api_key_authenticate
from ingest.exports import (
    ExportRefused,
    otlp_logs_export,
    otlp_metrics_export,
    otlp_traces_export,
)

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
RETRY_AFTER_S = 5

# gRPC service name -> the export function its `Export` method calls.
SERVICES = {
    "opentelemetry.proto.collector.trace.v1.TraceService": otlp_traces_export,
    "opentelemetry.proto.collector.logs.v1.LogsService": otlp_logs_export,
    "opentelemetry.proto.collector.metrics.v1.MetricsService": otlp_metrics_export,
}

REFUSAL_CODES = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "unsupported": grpc.StatusCode.INVALID_ARGUMENT,
    "too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _headers(context: grpc.ServicerContext) -> dict[str, str]:
    """The call's text metadata as a WSGI environ names headers (HTTP_AUTHORIZATION, ...)."""
    return {
        "HTTP_" + key.upper().replace("-", "_"): value
        for key, value in context.invocation_metadata()
        if isinstance(value, str)
    }


def _export_handler(export):
    def handle(body: bytes, context: grpc.ServicerContext) -> bytes:
        close_old_connections()
        code, reason = None, ""
        try:
            key = api_key_authenticate(_headers(context))
            if key is None:
                code, reason = (grpc.StatusCode.UNAUTHENTICATED,
                                "an API key is required: send 'authorization: Bearer <key>'")
            else:
                return export(key.project, body, PROTOBUF).SerializeToString()
        except AuthenticationFailed as exc:
            code, reason = grpc.StatusCode.UNAUTHENTICATED, str(exc.detail)
        except ExportRefused as exc:
            code, reason = REFUSAL_CODES[exc.kind], exc.reason
        except (OperationalError, InterfaceError) as exc:
            log.warning("database unavailable: %s", exc)
            delay = RetryInfo(retry_delay=Duration(seconds=RETRY_AFTER_S))
            context.set_trailing_metadata(
                (("google.rpc.retryinfo-bin", delay.SerializeToString()),)
            )
            code, reason = (grpc.StatusCode.UNAVAILABLE,
                            "the database is unavailable; retry later")
        finally:
            close_old_connections()
        # abort() raises: called outside the try, so the handlers above never see it.
        context.abort(code, reason)

    # No deserializer: the export functions take the request's bytes, as the HTTP views do.
    return grpc.unary_unary_rpc_method_handler(handle)


def otlp_grpc_server(bind: str, workers: int) -> tuple[grpc.Server, int]:
    """A started server on `bind` ("host:port"; port 0 picks a free one), and its port."""
    limit = settings.TRACEVIEW_MAX_BODY_BYTES
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
        options=[
            # gRPC refuses larger messages itself (after decompression) with RESOURCE_EXHAUSTED.
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(service, {"Export": _export_handler(export)})
        for service, export in SERVICES.items()
    ])
    port = server.add_insecure_port(bind)
    server.start()
    return server, port
