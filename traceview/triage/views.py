"""Triage pages: the issue queues, one issue, corrections, classifier agreement, webhooks.

Login required everywhere; every query is limited to the user's projects (a foreign issue is a
404, not a 403, so ids of other projects' issues leak nothing). htmx requests get the named
partial of the page (`#queue-rows`, `#issue-state`, `#issue-comments`) and the full page
otherwise, so every action also works without JavaScript.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from traceview.core.models import Agent, Diagnosis, Invocation, Step
from traceview.core.queries import project_members, projects_for_user
from traceview.core.trace import CATEGORIES
from traceview.judge.queries import judge_agreement, verdict_latest
from traceview.judge.services import judge_config
from traceview.triage import services as triage
from traceview.triage.models import (
    Correction,
    Issue,
    IssueInvocation,
    ProjectWebhook,
    WebhookDelivery,
)
from traceview.triage.webhook_http import TargetRefused

PAGE_SIZE = 50
IGNORE_CHOICES = {
    "": "for good",
    "1d": "for a day",
    "7d": "for a week",
    "30d": "for 30 days",
    "count:10": "until 10 more",
    "count:100": "until 100 more",
}


def _issues(request):
    return Issue.objects.filter(project__in=projects_for_user(request.user))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ignore_options(data) -> dict:
    """`ignore_for` (a preset) or `ignore_until` (a date) -> issue_ignore's keyword arguments."""
    until_text = (data.get("ignore_until") or "").strip()
    if until_text:
        try:
            day = datetime.strptime(until_text, "%Y-%m-%d").date()
        except ValueError as exc:
            raise ValueError("the ignore date must look like 2026-12-31") from exc
        until = timezone.make_aware(datetime.combine(day, time.min))
        if until <= timezone.now():
            raise ValueError("the ignore date must be in the future")
        return {"until": until}
    preset = data.get("ignore_for") or ""
    if preset not in IGNORE_CHOICES:
        raise ValueError("unknown ignore option")
    if preset.startswith("count:"):
        return {"more_times": int(preset.split(":", 1)[1])}
    if preset:
        return {"until": timezone.now() + timedelta(days=int(preset[:-1]))}
    return {}


# --- The queue -----------------------------------------------------------------------------------


def _queue_context(request, source) -> dict:
    projects = projects_for_user(request.user)
    triage.issues_wake_expired(projects)
    queue = source.get("queue") if source.get("queue") in triage.QUEUES else "unresolved"
    sort = source.get("sort") if source.get("sort") in triage.SORTS else "last_seen"
    filters = {"agent": _int(source.get("agent")), "owner": source.get("owner") or None}
    if filters["owner"] not in (None, "none") and _int(filters["owner"]) is None:
        filters["owner"] = None
    qs = triage.issue_queue(projects, request.user, queue, filters, sort)
    page = Paginator(qs, PAGE_SIZE).get_page(source.get("page"))
    counts = triage.issue_queue_counts(projects, request.user)
    query = {"queue": queue, "sort": sort, **{k: v for k, v in filters.items() if v}}
    return {
        "page": page,
        "queue": queue,
        "sort": sort,
        "filters": filters,
        "queues": triage.QUEUES,
        "sorts": triage.SORTS,
        "counts": counts,
        "nav_counts": counts,
        "here": "issue-list",
        "category_counts": [(c, counts[c]) for c in CATEGORIES],
        "query": urlencode(query),
        "agents": Agent.objects.filter(project__in=projects).order_by("name"),
        "members": project_members(projects),
        "ignore_choices": IGNORE_CHOICES,
    }


@login_required
@require_GET
def issue_list_view(request):
    context = _queue_context(request, request.GET)
    template = "traceview/triage/issue_list.html"
    if request.htmx and request.htmx.target == "queue-rows":
        template += "#queue-rows"
    return render(request, template, context)


@login_required
@require_POST
def issue_bulk_view(request):
    """Apply one action to the selected issues and return the queue as it now is."""
    action = request.POST.get("action", "")
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
    issues = list(_issues(request).filter(id__in=ids).select_related("project"))
    options: dict = {}
    notice, error = "", ""
    if action == "assign_me":
        action, options["assignee"] = "assign", request.user
    elif action == "assign":
        assignee_id = _int(request.POST.get("assignee"))
        if assignee_id is not None:
            options["assignee"] = project_members(projects_for_user(request.user)).filter(
                id=assignee_id
            ).first()
            if options["assignee"] is None:
                error = "That user is not a member of your projects."
        else:
            options["assignee"] = None
    elif action == "ignore":
        try:
            options.update(_ignore_options(request.POST))
        except ValueError as exc:
            error = str(exc)
    if action not in triage.BULK_ACTIONS:
        error = "Unknown action."
    if not issues and not error:
        error = "Select one or more issues first."
    if not error:
        assignee = options.get("assignee")
        if assignee is not None:
            # An owner must belong to the issue's project; the others are left alone and said so.
            allowed = set(assignee.projects.values_list("id", flat=True))
            skipped = [i for i in issues if i.project_id not in allowed]
            issues = [i for i in issues if i.project_id in allowed]
            if skipped:
                error = f"{len(skipped)} issue(s) skipped: {assignee} is not in their project."
        n = triage.issues_bulk(issues, action, request.user, **options)
        notice = f"{action.capitalize()}: {n} issue(s)."
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect(reverse("issue-list") + "?" + request.POST.get("query", ""))
    context = _queue_context(request, QueryDict(request.POST.get("query", "")))
    context.update(notice=notice, error=error)
    return render(request, "traceview/triage/issue_list.html#queue-rows", context)


# --- One issue -----------------------------------------------------------------------------------


def _issue_context(request, issue: Issue, **extra) -> dict:
    samples = triage.issue_samples(issue)
    steps: dict[int, list] = {}
    for step in (
        Step.objects.filter(invocation__in=samples)
        .only("invocation_id", "span_id", "name", "kind")
        .order_by("invocation_id", "started_at", "seq", "id")
    ):
        steps.setdefault(step.invocation_id, []).append(step)
    return {
        "issue": issue,
        "samples": [(inv, steps.get(inv.id, [])) for inv in samples],
        "versions": triage.issue_versions(issue),
        "members": project_members([issue.project_id]),
        "activities": issue.activities.select_related("actor").order_by("-created_at", "-id")[:50],
        "comments": issue.comments.select_related("author").order_by("created_at", "id"),
        "deliveries": WebhookDelivery.objects.filter(issue=issue).order_by("-created_at")[:10],
        "categories": CATEGORIES,
        "ignore_choices": IGNORE_CHOICES,
        **extra,
    }


@login_required
@require_GET
def issue_detail_view(request, pk: int):
    issue = get_object_or_404(
        _issues(request).select_related("agent", "assignee", "project"), pk=pk
    )
    return render(request, "traceview/triage/issue_detail.html", _issue_context(request, issue))


@login_required
@require_POST
def issue_action_view(request, pk: int):
    """One triage action from the issue page. The form carries the version it was rendered
    with; if someone changed the issue since, nothing is applied and the user is told."""
    issue = get_object_or_404(_issues(request).select_related("project"), pk=pk)
    action = request.POST.get("action", "")
    version = _int(request.POST.get("version"))
    conflict, error = None, ""
    try:
        if action == "assign":
            assignee_id = _int(request.POST.get("assignee"))
            assignee = None
            if assignee_id is not None:
                assignee = project_members([issue.project_id]).filter(id=assignee_id).first()
                if assignee is None:
                    raise ValueError("That user is not a member of this project.")
            triage.issue_assign(issue, assignee, request.user, version)
        elif action == "assign_me":
            triage.issue_assign(issue, request.user, request.user, version)
        elif action == "acknowledge":
            triage.issue_acknowledge(issue, request.user, version)
        elif action == "resolve":
            triage.issue_resolve(issue, request.user, request.POST.get("in_version", ""), version)
        elif action == "reopen":
            triage.issue_reopen(issue, request.user, version)
        elif action == "ignore":
            triage.issue_ignore(issue, request.user, expected_version=version,
                                **_ignore_options(request.POST))
        else:
            return HttpResponseBadRequest("unknown action")
    except triage.IssueConflict as exc:
        conflict = exc.current
    except ValueError as exc:
        error = str(exc)
    issue = Issue.objects.select_related("agent", "assignee", "project").get(pk=pk)
    if not request.htmx:
        if conflict:
            messages.warning(request, "Someone else changed this issue; review it and try again.")
        elif error:
            messages.error(request, error)
        return redirect("issue-detail", pk=pk)
    context = _issue_context(request, issue, conflict=conflict, error=error)
    return render(request, "traceview/triage/issue_detail.html#issue-state", context)


@login_required
@require_POST
def issue_comment_view(request, pk: int):
    issue = get_object_or_404(_issues(request).select_related("project"), pk=pk)
    error = ""
    try:
        triage.issue_comment(issue, request.user, request.POST.get("body", ""))
    except ValueError:
        error = "Write something first."
    if not request.htmx:
        return redirect("issue-detail", pk=pk)
    context = _issue_context(request, issue, comment_error=error)
    return render(request, "traceview/triage/issue_detail.html#issue-comments", context)


# --- Corrections ---------------------------------------------------------------------------------


# Root-step choices listed in full up to this many steps; a longer invocation offers its failed
# steps and the current roots, so a 20,000-step replay does not render 20,000 options.
ROOT_CHOICES_MAX = 500


@login_required
def invocation_triage_view(request, pk: int):
    """The triage panel of one invocation (its issue, the machine's verdict and the correction):
    loaded into the invocation page, and the target of the correction form."""
    invocation = get_object_or_404(
        Invocation.objects.select_related("diagnosis", "correction__author").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    error = ""
    if request.method == "POST":
        category = request.POST.get("category", "")
        category = "" if category == "none" else category
        try:
            triage.invocation_correct(
                invocation, request.user, category, request.POST.get("root_step", ""),
                request.POST.get("note", ""),
            )
        except ValueError as exc:
            error = str(exc)
        if not request.htmx:
            return redirect("invocation-detail", pk=pk)
        invocation = Invocation.objects.select_related("diagnosis", "correction__author").get(
            pk=pk
        )
    diagnosis = correction = None
    try:
        diagnosis = invocation.diagnosis
    except Diagnosis.DoesNotExist:
        pass
    try:
        correction = invocation.correction
    except Correction.DoesNotExist:
        pass
    # The correction is recorded against the judge's latest answer too, when it gave one.
    judge = verdict_latest(invocation, done=True) if judge_config() else None
    link = IssueInvocation.objects.filter(invocation=invocation).select_related("issue").first()
    steps = Step.objects.filter(invocation=invocation)
    if invocation.step_count > ROOT_CHOICES_MAX:
        roots = [r.root_span_id for r in (diagnosis, correction, judge) if r and r.root_span_id]
        steps = steps.filter(Q(status="error") | Q(span_id__in=roots))
    steps = list(
        steps.only("span_id", "name", "kind").order_by("started_at", "seq", "id")[
            :ROOT_CHOICES_MAX]
    )
    return render(
        request,
        "traceview/triage/_correction.html",
        {
            "inv": invocation, "diagnosis": diagnosis, "correction": correction, "steps": steps,
            "judge": judge,
            "issue": link.issue if link else None, "categories": CATEGORIES, "error": error,
            "show_issue": request.method == "GET" or request.POST.get("show_issue") == "1",
        },
    )


@login_required
@require_GET
def agreement_view(request):
    projects = projects_for_user(request.user)
    rows, total = triage.corrections_agreement(projects)
    context = {"rows": rows, "total": total}
    if judge_config():
        context["judge_rows"], context["judge_total"] = judge_agreement(projects)
    return render(request, "traceview/triage/agreement.html", context)


@login_required
@require_GET
def corrections_export_view(request):
    """Download the corrections as labelled JSONL for `evaluate_classifier`."""
    response = StreamingHttpResponse(
        triage.corrections_export(projects_for_user(request.user)),
        content_type="application/x-ndjson",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="corrections-{stamp}.jsonl"'
    return response


# --- Webhooks ------------------------------------------------------------------------------------


@login_required
def webhook_view(request, pk: int):
    """A project's webhook: its URL, signing secret, and recent deliveries with failures."""
    project = get_object_or_404(projects_for_user(request.user), pk=pk)
    if request.method == "POST":
        from django.core.exceptions import ValidationError
        from django.core.validators import URLValidator

        url = request.POST.get("url", "").strip()
        if not url:
            ProjectWebhook.objects.filter(project=project).update(is_active=False)
            messages.success(request, "Webhook turned off.")
        else:
            try:
                URLValidator(schemes=["http", "https"])(url)
                triage.webhook_configure(project, url, is_active=True)
            except ValidationError:
                messages.error(request, "Enter an http or https URL.")
            except TargetRefused as exc:
                messages.error(request, f"Webhook not saved: {exc}.")
            else:
                messages.success(request, "Webhook saved.")
        return redirect("project-webhook", pk=pk)
    hook = ProjectWebhook.objects.filter(project=project).first()
    deliveries = (
        hook.deliveries.select_related("issue").order_by("-created_at")[:50] if hook else []
    )
    return render(
        request, "traceview/triage/webhook.html",
        {"project": project, "hook": hook, "deliveries": deliveries},
    )


@login_required
@require_GET
def project_webhooks_view(request):
    """The projects the user can configure a webhook for."""
    projects = projects_for_user(request.user).order_by("name")
    if projects.count() == 1:
        return redirect("project-webhook", pk=projects.first().pk)
    if not projects:
        raise Http404("no projects")
    return render(request, "traceview/triage/webhooks.html", {"projects": projects})

