"""The dashboards page: charts over a time range of the user's projects, optionally one agent.
The figures go to static/traceview/dashboards.js through json_script (no inline script)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from traceview.core.models import Agent, Project
from traceview.core.queries import projects_for_user
from traceview.dashboards.charts import DEFAULT_RANGE, RANGES, Scope, dashboard_data
from traceview.dashboards.rollups import hour_floor, rollups_refreshed_at


class DashboardForm(forms.Form):
    range = forms.ChoiceField(
        choices=[(k, f"last {v} day{'s' if v > 1 else ''}") for k, v in RANGES.items()],
        required=False, label="Time range", initial=DEFAULT_RANGE,
    )
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="all projects"
    )
    agent = forms.ChoiceField(required=False)

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(
            pk__in=[p.pk for p in projects]
        ).order_by("name")
        names = (
            Agent.objects.filter(project__in=projects).order_by("name")
            .values_list("name", flat=True).distinct()
        )
        self.fields["agent"].choices = [("", "all agents"), *((n, n) for n in names)]


@login_required
def dashboards_view(request):
    projects = list(projects_for_user(request.user))
    # The form is always bound, the range filled in when missing, so that the select shows the
    # range the charts draw (an unselected select shows its first option, "last 1 day", over a
    # week of data). Each valid field counts on its own: an agent that no longer exists must
    # not turn a chosen day back into the default week.
    query = request.GET.copy()
    if not query.get("range"):
        query["range"] = DEFAULT_RANGE
    form = DashboardForm(query, projects=projects)
    form.is_valid()
    data = form.cleaned_data
    days = RANGES[data.get("range") or DEFAULT_RANGE]
    # Whole hours, as the rollups are kept: the range ends with the current hour, and longer
    # ranges start at midnight so that the first day's bar is complete.
    end = hour_floor(timezone.now()) + timedelta(hours=1)
    start = end - timedelta(days=days)
    if days > 2:
        start = timezone.localtime(start).replace(hour=0)
    project = data.get("project")
    scope = Scope(projects=projects, start=start, end=end, agent=data.get("agent") or None,
                  project=project.pk if project else None)
    context = {"form": form, "scope": scope, **dashboard_data(scope), "list_url": scope.list_url(),
               "refreshed_at": rollups_refreshed_at([p.pk for p in projects])}
    return render(request, "traceview/dashboards/dashboards.html", context)
