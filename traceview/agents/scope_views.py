"""The scope-violations page: tool calls outside an agent's scope (traceview.agents.scope), newest
first, filtered by project, agent, kind and time, each linking to the step in its replay. Login
required; only the user's projects' violations are listed, and only their agents offered."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from traceview.agents.scope_audit import scope_violation_page
from traceview.core.models import Agent, Project
from traceview.core.queries import cursor_pack, cursor_unpack, projects_for_user
from traceview.core.trace import SCOPE_VIOLATION_KINDS


class ScopeViolationFilter(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="all projects"
    )
    agent = forms.ModelChoiceField(
        queryset=Agent.objects.none(), required=False, empty_label="all agents"
    )
    kind = forms.ChoiceField(
        choices=[("", "any kind")] + [(k, k.replace("_", " ")) for k in SCOPE_VIOLATION_KINDS],
        required=False,
    )
    occurred_after = forms.DateTimeField(
        label="From",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    occurred_before = forms.DateTimeField(
        label="To",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, data=None, *, projects):
        super().__init__(data)
        ids = [p.pk for p in projects]
        self.fields["project"].queryset = Project.objects.filter(pk__in=ids).order_by("name")
        self.fields["agent"].queryset = (
            Agent.objects.filter(project__in=ids)
            .select_related("project")
            .order_by("project__name", "name")
        )
        self.fields["agent"].label_from_instance = lambda a: f"{a.name} ({a.project.name})"

    def cleaned(self) -> dict:
        """The valid part of the query string; an invalid field is ignored (and shown)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def scope_violations_url(agent: int | None = None, days: int | None = None) -> str:
    """The page filtered to one agent and the last `days` days (the agent page links here)."""
    params = {}
    if agent is not None:
        params["agent"] = agent
    if days is not None:
        since = timezone.localtime(timezone.now() - timedelta(days=days))
        params["occurred_after"] = since.strftime("%Y-%m-%dT%H:%M")
    url = reverse("scope-violation-list")
    return f"{url}?{urlencode(params)}" if params else url


@login_required
def scope_violation_list_view(request):
    projects = list(projects_for_user(request.user))
    form = ScopeViolationFilter(request.GET or None, projects=projects)
    filters = form.cleaned()
    after = _cursor(request.GET.get("after"))
    before = _cursor(request.GET.get("before")) if after is None else None
    page = scope_violation_page(projects, filters, after=after, before=before)
    base = request.GET.copy()
    for key in ("after", "before"):
        base.pop(key, None)

    def with_cursor(key: str, value: tuple[datetime, int] | None) -> str | None:
        if value is None:
            return None
        query = base.copy()
        query[key] = _cursor_encode(value)
        return "?" + query.urlencode()

    return render(
        request,
        "traceview/agents/scope_violations.html",
        {
            "form": form,
            "page": page,
            "next_url": with_cursor("after", page.next_cursor),
            "prev_url": with_cursor("before", page.prev_cursor),
            "first_url": "?" + base.urlencode(),
        },
    )


def _cursor_encode(key: tuple[datetime, int]) -> str:
    return cursor_pack([key[0].isoformat(), key[1]])


def _cursor(value: str | None) -> tuple[datetime, int] | None:
    """(occurred_at, id) from a cursor; one that does not parse means the first page."""
    try:
        at, last_id = cursor_unpack(value)
        if not isinstance(last_id, int) or not isinstance(at, str):
            raise ValueError(value)
        at = datetime.fromisoformat(at)
        if timezone.is_naive(at):
            raise ValueError(value)
        return at, last_id
    except (ValueError, TypeError):
        return None
