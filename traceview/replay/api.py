"""The read API: invocations with their steps and diagnosis, scoped to the key's project."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from traceview.agents.scope_audit import invocation_scope_violations
from traceview.core.models import Diagnosis, Invocation, StepPayload
from traceview.core.queries import step_list
from traceview.core.trace import CATEGORIES, MAX_ID, SCOPE_VIOLATION_KINDS, STATUSES
from traceview.replay.queries import invocation_list

log = logging.getLogger(__name__)
MAX_STEPS_IN_DETAIL = 2000


def exception_handler(exc, context):
    """DRF's handler, with errors always shaped {"errors": [{"path", "reason"}]}."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is down or overloaded: shed load with an answer clients retry, never a 500.
        log.warning("database unavailable: %s", exc)
        return Response(
            {"errors": [{"path": "", "reason": "the database is unavailable; retry later"}]},
            status=503,
            headers={"Retry-After": "5"},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(detail, dict) and "errors" in detail:
        return response
    errors = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = "" if key in ("detail", "non_field_errors") else key
            for reason in value if isinstance(value, list) else [value]:
                errors.append({"path": path, "reason": str(reason)})
    elif isinstance(detail, list):
        errors = [{"path": "", "reason": str(r)} for r in detail]
    else:
        errors = [{"path": "", "reason": str(detail)}]
    response.data = {"errors": errors}
    return response


class StepSummarySerializer(serializers.Serializer):
    span_id = serializers.CharField()
    parent_span_id = serializers.SerializerMethodField()
    kind = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    model = serializers.CharField()
    input_tokens = serializers.IntegerField(allow_null=True)
    output_tokens = serializers.IntegerField(allow_null=True)
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=False,
                                        allow_null=True)
    tool_name = serializers.CharField()
    agent_name = serializers.CharField()
    error_type = serializers.CharField()
    error_message = serializers.CharField()

    def get_parent_span_id(self, step) -> str | None:
        return step.parent_span_id or None


class StepDetailSerializer(StepSummarySerializer):
    tool_call_id = serializers.CharField()
    finish_reason = serializers.CharField()
    tool_arguments = serializers.JSONField(allow_null=True)
    tool_result = serializers.JSONField(allow_null=True)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    attributes = serializers.JSONField()
    events = serializers.JSONField()
    error_traceback = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error answer: {"errors": [{"path", "reason"}]}."""

    errors = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer,
          503: ErrorSerializer}


class DiagnosisSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=CATEGORIES, allow_null=True)
    root_step = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    evidence = serializers.ListField(child=serializers.DictField())
    ruleset = serializers.CharField()


class InvocationSerializer(serializers.ModelSerializer):
    agent = serializers.SerializerMethodField()
    duration_s = serializers.FloatField(read_only=True, allow_null=True)
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=False)
    diagnosis = serializers.SerializerMethodField()

    class Meta:
        model = Invocation
        fields = [
            "id", "trace_id", "agent", "agent_version", "name", "status", "started_at",
            "ended_at", "duration_s", "input_tokens", "output_tokens", "cost_usd",
            "unpriced_calls", "session_id", "step_count", "tool_call_count", "error_count",
            "depth", "diagnosis",
        ]

    def get_agent(self, inv) -> str | None:
        return inv.agent.name if inv.agent else None

    @extend_schema_field(DiagnosisSerializer(allow_null=True))
    def get_diagnosis(self, inv) -> dict | None:
        try:
            diagnosis = inv.diagnosis
        except Diagnosis.DoesNotExist:
            return None
        return diagnosis.as_dict()


class ScopeViolationSerializer(serializers.Serializer):
    span_id = serializers.CharField()
    tool_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=SCOPE_VIOLATION_KINDS)
    occurred_at = serializers.DateTimeField()


class InvocationDetailSerializer(InvocationSerializer):
    steps = serializers.SerializerMethodField()
    steps_truncated = serializers.SerializerMethodField()
    scope_violations = serializers.SerializerMethodField()
    attributes = serializers.JSONField()
    input = serializers.JSONField()
    output = serializers.JSONField()

    class Meta(InvocationSerializer.Meta):
        fields = InvocationSerializer.Meta.fields + [
            "attributes", "input", "output", "steps", "steps_truncated", "scope_violations",
        ]

    def _steps(self, inv):
        if not hasattr(self, "_step_cache"):
            self._step_cache = list(step_list(inv)[: MAX_STEPS_IN_DETAIL + 1])
        return self._step_cache

    def get_steps(self, inv) -> list[dict]:
        return StepSummarySerializer(self._steps(inv)[:MAX_STEPS_IN_DETAIL], many=True).data

    def get_steps_truncated(self, inv) -> bool:
        return len(self._steps(inv)) > MAX_STEPS_IN_DETAIL

    @extend_schema_field(ScopeViolationSerializer(many=True))
    def get_scope_violations(self, inv) -> list[dict]:
        return ScopeViolationSerializer(invocation_scope_violations(inv), many=True).data


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class InvocationFilterSerializer(serializers.Serializer):
    """The list's filters. Text is checked as any form field is: a NUL byte, which no stored
    value holds and PostgreSQL refuses in a query, is a 400 naming the filter."""

    trace_id = serializers.CharField(required=False, max_length=MAX_ID, allow_blank=True,
                                     trim_whitespace=False,
                                     help_text="the trace id as sent")
    agent = serializers.CharField(required=False, max_length=200, allow_blank=True,
                                  trim_whitespace=False,
                                  help_text="agent name")
    session = serializers.CharField(required=False, max_length=200, allow_blank=True,
                                    trim_whitespace=False,
                                    help_text="session or conversation id")
    status = serializers.ChoiceField(choices=STATUSES, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=CATEGORIES + ("none",), required=False,
                                       allow_blank=True)


class ProjectScoped:
    def get_queryset(self):
        query = InvocationFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return invocation_list([self.request.auth.project], query.validated_data).select_related(
            "diagnosis")


@extend_schema(parameters=[InvocationFilterSerializer],
               responses={200: InvocationSerializer(many=True), **ERRORS})
class InvocationListView(ProjectScoped, generics.ListAPIView):
    """Invocations of the key's project, newest first, cursor-paginated."""

    serializer_class = InvocationSerializer
    pagination_class = NewestFirst


@extend_schema(responses={200: InvocationDetailSerializer, **ERRORS})
class InvocationDetailView(ProjectScoped, generics.RetrieveAPIView):
    """One invocation with a summary of its steps and its diagnosis."""

    serializer_class = InvocationDetailSerializer

    def get_queryset(self):
        return invocation_list([self.request.auth.project]).select_related("diagnosis")


class StepDetailView(generics.GenericAPIView):
    """One step with its full payload: messages, tool arguments and result, raw attributes."""

    serializer_class = StepDetailSerializer

    @extend_schema(responses={200: StepDetailSerializer, **ERRORS})
    def get(self, request, pk: int, span_id: str):
        invocation = generics.get_object_or_404(
            Invocation.objects.filter(project=request.auth.project), pk=pk
        )
        if "\x00" in span_id:
            raise Http404  # stored ids never hold NUL, and PostgreSQL refuses it in a query
        step = generics.get_object_or_404(invocation.steps.all(), span_id=span_id)
        data = StepSummarySerializer(step).data
        try:
            payload = step.payload
        except StepPayload.DoesNotExist:
            payload = StepPayload()
        data.update(
            tool_call_id=step.tool_call_id,
            finish_reason=step.finish_reason,
            redactions=step.redactions,
            tool_arguments=payload.tool_arguments,
            tool_result=payload.tool_result,
            input=payload.input,
            output=payload.output,
            attributes=payload.attributes,
            events=payload.events,
            error_traceback=payload.error_traceback,
        )
        return Response(data)
