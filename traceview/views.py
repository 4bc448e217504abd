"""Pages: the invocation list and one invocation with its steps. Login required; a user sees
only the projects they belong to."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from traceview.models import Diagnosis, Invocation
from traceview.queries import invocation_list, projects_for_user, step_list, step_tree
from traceview.trace import CATEGORIES, STATUSES

PAGE_SIZE = 50


@login_required
def invocation_list_view(request):
    projects = projects_for_user(request.user)
    filters = {
        "status": request.GET.get("status") if request.GET.get("status") in STATUSES else None,
        "category": request.GET.get("category")
        if request.GET.get("category") in CATEGORIES
        else None,
        "agent": request.GET.get("agent") or None,
        "trace_id": request.GET.get("trace_id") or None,
    }
    page = Paginator(invocation_list(projects, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "statuses": STATUSES,
        "categories": CATEGORIES,
    }
    template = "traceview/invocation_list.html"
    if request.htmx:
        template += "#invocation-rows"
    return render(request, template, context)


@login_required
def invocation_detail_view(request, pk: int):
    invocation = get_object_or_404(
        Invocation.objects.select_related("agent", "project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    try:
        diagnosis = invocation.diagnosis
    except Diagnosis.DoesNotExist:
        diagnosis = None
    start = invocation.started_at
    tree = [
        (step, level, (step.started_at - start).total_seconds() if start and step.started_at else None)
        for step, level in step_tree(list(step_list(invocation)))
    ]
    root = diagnosis.root_span_id if diagnosis else ""
    return render(
        request,
        "traceview/invocation_detail.html",
        {"invocation": invocation, "diagnosis": diagnosis, "tree": tree, "root_span_id": root},
    )
