"""Projects: the list, and each project's page with its retention period, what it stores and
when the next purge runs."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from traceview.core.models import Project
from traceview.core.queries import projects_for_user
from traceview.retention.purge import project_retention_days, purge_schedule, retention_cutoff
from traceview.retention.queries import project_storage


class RetentionForm(forms.ModelForm):
    retention_days = forms.IntegerField(
        required=False, min_value=0, max_value=36_500, label="Retention (days)",
        help_text="Empty: the deployment's default; 0: keep forever.",
    )

    class Meta:
        model = Project
        fields = ["retention_days"]


@login_required
@require_GET
def project_list_view(request):
    """The user's projects with their retention periods."""
    projects = list(projects_for_user(request.user).order_by("name"))
    rows = [(p, project_retention_days(p)) for p in projects]
    return render(request, "traceview/retention/project_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def project_detail_view(request, pk: int):
    """A project's retention period (editable by its members), what it stores, and the purge."""
    project = get_object_or_404(projects_for_user(request.user), pk=pk)
    form = RetentionForm(request.POST or None, instance=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Retention saved.")
            return redirect("project-detail", pk=pk)
        status = 400
        project.refresh_from_db()
    now = timezone.now()
    return render(request, "traceview/retention/project_detail.html", {
        "project": project,
        "form": form,
        "days": project_retention_days(project),
        "default_days": settings.TRACEVIEW_RETENTION_DAYS,
        "cutoff": retention_cutoff(project, now),
        "storage": project_storage(project),
        "schedule": purge_schedule(now),
    }, status=status)
