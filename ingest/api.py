"""Ingest endpoints. Thin: read the body, parse it to canonical invocations, store, answer.

A 2xx answer is sent only after the transaction committed.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.body import parse_json, read_body
from ingest.formats.errors import FormatError
from ingest.formats.native import parse_native
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
                                {"span_id": "b", "parent_span_id": "a", "kind": "tool",
                                 "name": "lookup", "error": {"type": "Timeout",
                                                             "message": "timed out"}},
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
        except FormatError as exc:
            return Response({"errors": exc.errors}, status=400)
        result = invocations_store(request.auth.project, invocations)
        return Response({"invocations": result.invocations, "steps": result.steps}, status=202)
