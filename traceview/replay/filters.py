"""The invocation list's filter form: validates the query string into the dict that
queries.invocation_list() reads. The project choice is limited to the user's own projects."""

from __future__ import annotations

import django_filters
from django import forms

from traceview.core.models import Invocation, Project
from traceview.core.trace import CATEGORIES, STATUSES
from traceview.replay.queries import LIST_SORTS


def outcome_filters(outcome: str) -> dict[str, str]:
    """The list filters that select the invocations of one outcome, as the dashboards and the
    version comparison count them: "ok" (ended ok, no failure found), "running", a failure
    category, or "unclassified" (failed, no category)."""
    if outcome == "ok":
        return {"status": "ok", "category": "none"}
    if outcome == "running":
        return {"status": "running"}
    if outcome == "unclassified":
        return {"status": "error", "category": "none"}
    return {"category": outcome}


def _choices(values):
    return [(v, v) for v in values]


class InvocationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "names, errors, messages", "type": "search"}),
    )
    project = django_filters.ModelChoiceFilter(
        queryset=Project.objects.none(), empty_label="all projects"
    )
    agent = django_filters.CharFilter(widget=forms.TextInput(attrs={"placeholder": "agent"}))
    agent_version = django_filters.CharFilter(
        label="Version", widget=forms.TextInput(attrs={"placeholder": "version", "size": 8})
    )
    status = django_filters.ChoiceFilter(choices=_choices(STATUSES), empty_label="any status")
    category = django_filters.ChoiceFilter(
        choices=_choices(CATEGORIES) + [("none", "no failure")], empty_label="any category"
    )
    # Filters that name no model field need a label of their own: django-filter would otherwise
    # look one up on Invocation and print "[invalid name]".
    model = django_filters.CharFilter(
        label="Model", widget=forms.TextInput(attrs={"placeholder": "model"})
    )
    received_after = django_filters.DateTimeFilter(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    received_before = django_filters.DateTimeFilter(
        label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    min_cost = django_filters.NumberFilter(
        label="Min cost $", min_value=0, widget=forms.NumberInput(attrs={"step": "any", "size": 6})
    )
    min_tokens = django_filters.NumberFilter(
        label="Min tokens", min_value=0, widget=forms.NumberInput(attrs={"size": 7})
    )
    min_duration_s = django_filters.NumberFilter(
        label="Min seconds", min_value=0, widget=forms.NumberInput(attrs={"step": "any", "size": 5})
    )
    trace_id = django_filters.CharFilter(
        label="Trace id", widget=forms.TextInput(attrs={"placeholder": "trace id"})
    )
    session = django_filters.CharFilter(
        label="Session", widget=forms.TextInput(attrs={"placeholder": "session id", "size": 12})
    )
    sort = django_filters.ChoiceFilter(
        label="Sort", choices=_choices(LIST_SORTS), empty_label=None,
        method=lambda qs, name, value: qs,
    )

    class Meta:
        model = Invocation
        fields: list[str] = []

    def __init__(self, data=None, *, projects, **kwargs):
        super().__init__(data, queryset=Invocation.objects.none(), **kwargs)
        self.filters["project"].queryset = Project.objects.filter(
            pk__in=[p.pk for p in projects]
        ).order_by("name")

    def cleaned(self) -> dict:
        """The valid part of the query string; an invalid field is ignored (and shown)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.form.cleaned_data.items() if v not in (None, "")}
