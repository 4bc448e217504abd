"""Ingest endpoints. Thin: read the body, parse it to canonical invocations, store, answer.

A 2xx answer is sent only after the transaction committed.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.body import parse_json, read_body
from ingest.exports import (
    ExportRefused,
    otlp_logs_export,
    otlp_metrics_export,
    otlp_traces_export,
)
from ingest.formats.errors import FormatError
from ingest.formats.langfuse import langfuse_batch_to_invocations
from ingest.formats.langsmith import batch_runs, multipart_runs, runs_to_invocations
from ingest.formats.native import parse_native
from ingest.formats.openai_agents import parse_openai_agents
from ingest.formats.otlp import otlp_is_protobuf
from ingest.store import invocations_store


class RawBodyView(APIView):
    """Base for ingest views: DRF's parsers are bypassed; bodies go through read_body."""

    parser_classes: list = []


class NativeTracesView(RawBodyView):
    @extend_schema(
        summary="Ingest invocations and steps in the native JSON format",
        description="See docs/native-format.md. Upserts by (project, trace_id) and "
        "(invocation, span_id); 202 means committed.",
        request={"application/json": {"type": "object"}},
        responses={
            202: OpenApiResponse(description="committed: counts of invocations and steps"),
            400: OpenApiResponse(description='{"errors": [{"path": ..., "reason": ...}]}'),
            401: OpenApiResponse(description="missing or invalid API key"),
            413: OpenApiResponse(description="body above TRACEVIEW_MAX_BODY_BYTES"),
        },
        examples=[
            OpenApiExample(
                "one failed tool call",
                value={
                    "invocations": [
                        {
                            "trace_id": "run-1",
                            "agent": "support-bot",
                            "status": "error",
                            "steps": [
                                {"span_id": "a", "kind": "agent", "name": "support-bot"},
                                {
                                    "span_id": "b",
                                    "parent_span_id": "a",
                                    "kind": "tool",
                                    "name": "lookup",
                                    "error": {"type": "Timeout", "message": "timed out"},
                                },
                            ],
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        body = parse_json(read_body(request._request))
        try:
            invocations = parse_native(body, max_steps=settings.TRACEVIEW_MAX_STEPS_PER_REQUEST)
            result = invocations_store(request.auth.project, invocations)
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return Response({"invocations": result.invocations, "steps": result.steps}, status=202)


class OtlpTracesView(RawBodyView):
    """OTLP/HTTP traces (`/v1/traces`, and Langfuse's `/api/public/otel/v1/traces`).

    The reply has the request's encoding: an ExportTraceServiceResponse in protobuf or JSON,
    with partial_success when some spans were rejected and the rest stored.
    """

    @extend_schema(
        summary="Ingest OTLP/HTTP traces (protobuf or JSON)",
        request={"application/x-protobuf": bytes, "application/json": {"type": "object"}},
        responses={
            200: OpenApiResponse(description="ExportTraceServiceResponse"),
            400: OpenApiResponse(description="undecodable body"),
            413: OpenApiResponse(description="body above TRACEVIEW_MAX_BODY_BYTES, or more "
                                 "spans than TRACEVIEW_MAX_STEPS_PER_REQUEST"),
            415: OpenApiResponse(description="neither protobuf nor JSON"),
        },
    )
    def post(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        body = read_body(request._request)
        return otlp_reply(otlp_traces_export, request, body, content_type)


class OtlpLogsView(RawBodyView):
    """OTLP/HTTP logs (`/v1/logs`): GenAI message events join their steps; the rest is dropped."""

    @extend_schema(
        summary="Ingest OTLP/HTTP logs: GenAI message events (protobuf or JSON)",
        description="gen_ai.{system,user,assistant,tool}.message and gen_ai.choice events become "
        "the messages of the step their span id names, whether the span came before or comes "
        "after. Other log records are accepted and dropped.",
        request={"application/x-protobuf": bytes, "application/json": {"type": "object"}},
        responses={
            200: OpenApiResponse(description="ExportLogsServiceResponse"),
            400: OpenApiResponse(description="undecodable body"),
            413: OpenApiResponse(description="over TRACEVIEW_MAX_BODY_BYTES or "
                                 "TRACEVIEW_MAX_STEPS_PER_REQUEST"),
            415: OpenApiResponse(description="neither protobuf nor JSON"),
        },
    )
    def post(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        body = read_body(request._request)
        return otlp_reply(otlp_logs_export, request, body, content_type)


class OtlpMetricsView(RawBodyView):
    """OTLP/HTTP metrics (`/v1/metrics`): decoded, answered, and dropped."""

    @extend_schema(
        summary="Accept OTLP/HTTP metrics (protobuf or JSON); nothing is kept",
        description="Token usage and durations come from the spans; metrics exporters get a "
        "correct ExportMetricsServiceResponse so that they neither fail nor retry.",
        request={"application/x-protobuf": bytes, "application/json": {"type": "object"}},
        responses={
            200: OpenApiResponse(description="ExportMetricsServiceResponse"),
            400: OpenApiResponse(description="undecodable body"),
            413: OpenApiResponse(description="body above TRACEVIEW_MAX_BODY_BYTES"),
            415: OpenApiResponse(description="neither protobuf nor JSON"),
        },
    )
    def post(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        body = read_body(request._request)
        return otlp_reply(otlp_metrics_export, request, body, content_type)


# What an ExportRefused answers over HTTP: the status, and the google.rpc code of the body
# (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED), as the gRPC server answers it.
REFUSAL_STATUS = {"invalid": (400, 3), "unsupported": (415, 3), "too_large": (413, 8)}


def otlp_reply(export, request, body: bytes, content_type: str) -> HttpResponse:
    """Run one OTLP export and answer in the request's encoding (a type that is neither
    protobuf nor JSON gets the JSON error)."""
    binary = bool(otlp_is_protobuf(body, content_type))
    try:
        response = export(request.auth.project, body, content_type)
    except ExportRefused as exc:
        return _otlp_error(exc.reason, *REFUSAL_STATUS[exc.kind], binary)
    if binary:
        return HttpResponse(response.SerializeToString(), content_type="application/x-protobuf")
    return HttpResponse(
        json_format.MessageToJson(response, indent=None), content_type="application/json"
    )


def _otlp_error(reason: str, status: int, code: int, binary: bool) -> HttpResponse:
    # OTLP/HTTP answers errors with a google.rpc.Status in the request's encoding.
    message = Status(code=code, message=reason)
    if binary:
        return HttpResponse(
            message.SerializeToString(), status=status, content_type="application/x-protobuf"
        )
    return HttpResponse(
        orjson.dumps({"code": code, "message": reason, "errors": [{"path": "", "reason": reason}]}),
        status=status,
        content_type="application/json",
    )


class OpenAIAgentsTracesView(RawBodyView):
    """The OpenAI Agents SDK's own exporter, `BackendSpanExporter(endpoint=<here>)`."""

    @extend_schema(
        summary="Ingest the OpenAI Agents SDK trace export",
        request={"application/json": {"type": "object"}},
        responses={
            204: OpenApiResponse(description="committed"),
            400: OpenApiResponse(description='{"errors": [{"path", "reason"}]}'),
        },
    )
    def post(self, request):
        body = parse_json(read_body(request._request))
        try:
            invocations = parse_openai_agents(body)
            invocations_store(request.auth.project, invocations)
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return HttpResponse(status=204)


class LangfuseIngestionView(RawBodyView):
    """Langfuse's batch ingestion API: 207 with per-event successes and errors."""

    @extend_schema(
        summary="Ingest a Langfuse ingestion batch",
        description="Basic auth with the public key (pk-...) and the secret (the API key).",
        request={"application/json": {"type": "object"}},
        responses={207: OpenApiResponse(description='{"successes": [...], "errors": [...]}')},
    )
    def post(self, request):
        body = parse_json(read_body(request._request))
        try:
            invocations, successes, errors = langfuse_batch_to_invocations(body)
            invocations_store(request.auth.project, invocations)
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return Response({"successes": successes, "errors": errors}, status=207)


class LangSmithInfoView(APIView):
    """`GET /info`: what LangSmith's client asks before it sends runs. Open, like LangSmith's:
    it says only how to send (multipart, zstd, the body limit), nothing about any data."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="LangSmith client configuration",
                   responses={200: OpenApiResponse(description="LangSmith's info document")})
    def get(self, request):
        return Response({
            "version": "traceview",
            "batch_ingest_config": {
                "use_multipart_endpoint": True,
                "size_limit": 100,
                "size_limit_bytes": settings.TRACEVIEW_MAX_BODY_BYTES,
                "scale_up_qsize_trigger": 1000,
                "scale_up_nthreads_limit": 16,
                "scale_down_nempty_trigger": 4,
            },
            "instance_flags": {"zstd_compression_enabled": True},
        })


class LangSmithRunsView(RawBodyView):
    """LangSmith's runs API: `POST /runs`, `POST /runs/batch`, `POST /runs/multipart`,
    `PATCH /runs/<id>`. 202 = committed."""

    shape = "run"

    @extend_schema(
        summary="Ingest LangSmith runs (the langsmith client's LANGSMITH_ENDPOINT)",
        request={"application/json": {"type": "object"}, "multipart/form-data": bytes},
        responses={
            202: OpenApiResponse(description="committed: counts of invocations and steps"),
            400: OpenApiResponse(description='{"errors": [{"path", "reason"}]}'),
        },
    )
    def post(self, request):
        try:
            if self.shape == "multipart":
                posts, patches = multipart_runs(read_body(request._request),
                                                request.META.get("CONTENT_TYPE", ""))
            elif self.shape == "batch":
                posts, patches = batch_runs(parse_json(read_body(request._request)))
            else:
                posts, patches = [parse_json(read_body(request._request))], []
            invocations = runs_to_invocations(
                posts, patches, max_runs=settings.TRACEVIEW_MAX_STEPS_PER_REQUEST)
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return self.stored(request, invocations)

    @extend_schema(
        summary="Complete a LangSmith run",
        request={"application/json": {"type": "object"}},
        responses={
            202: OpenApiResponse(description="committed: counts of invocations and steps"),
            400: OpenApiResponse(description='{"errors": [{"path", "reason"}]}'),
        },
    )
    def patch(self, request, run_id: str):
        update = parse_json(read_body(request._request))
        if not isinstance(update, dict):
            return Response({"errors": [{"path": "", "reason": "a run update must be an object"}]},
                            status=400)
        update = {**update, "id": run_id}
        if not update.get("trace_id") and not update.get("dotted_order"):
            # Without them an update cannot say which run it completes (the client sends both).
            return Response({"errors": [{"path": "trace_id", "reason":
                             "required in an update (or dotted_order)"}]}, status=400)
        try:
            invocations = runs_to_invocations([], [update])
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return self.stored(request, invocations)

    @staticmethod
    def stored(request, invocations):
        try:
            result = invocations_store(request.auth.project, invocations)
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        return Response({"invocations": result.invocations, "steps": result.steps}, status=202)

