"""Pages: the invocation list and the replay of one invocation. Login required; a user sees only
the projects they belong to.

Both pages are one URL each. htmx asks for a region of the page (the list's rows, the step tree,
the step detail, the summary) and the view renders only that partial, chosen by the id of the
element being replaced (the HX-Target header).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode

from traceview.agents.scope_audit import invocation_scope_violations
from traceview.core.models import Diagnosis, Invocation
from traceview.core.queries import projects_for_user
from traceview.core.trace import CATEGORIES, SCOPE_VIOLATION_LABELS
from traceview.judge.services import judge_enabled
from traceview.replay.charts import timeline_figure, usage_figure
from traceview.replay.diff import diff_baseline, run_diff
from traceview.replay.filters import InvocationFilter
from traceview.replay.outline import (
    TREE_ROW_PX,
    TREE_WINDOW,
    Group,
    outline_labels,
    replay_outline,
    step_detail,
)
from traceview.replay.queries import invocation_category_counts, invocation_page
from traceview.replay.sessions import session_detail, turn_text


def _render(request, template: str, context: dict, regions: tuple[str, ...] = ()):
    target = request.htmx.target if request.htmx else None
    if target in regions:
        template = f"{template}#{target}"
    response = render(request, template, context)
    # The same URL answers with a whole page or with a region; caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@login_required
def invocation_list_view(request):
    projects = list(projects_for_user(request.user))
    filterset = InvocationFilter(request.GET or None, projects=projects)
    filters = filterset.cleaned()
    sort = filters.pop("sort", "newest")
    page = invocation_page(projects, filters, sort, request.GET.get("cursor"))
    counted = invocation_category_counts(projects, filters)
    counts, cap = counted.counts, counted.cap
    base = request.GET.copy()
    base.pop("cursor", None)

    def with_params(**params):
        query = base.copy()
        for key, value in params.items():
            query.pop(key, None)
            if value:
                query[key] = value
        return "?" + query.urlencode()

    context = {
        "page": page,
        "form": filterset.form,
        "filters": filters,
        "counts": [
            (c, _count_text(counts[c], cap, counted.sampled), with_params(category=c))
            for c in (*CATEGORIES, "none")
        ],
        "total": f"{cap:,}+" if counted.sampled else
        f"{sum(min(n, cap) for n in counts.values()):,}"
        + ("+" if any(n > cap for n in counts.values()) else ""),
        "counts_sampled": counted.sampled,
        "counts_cap": f"{cap:,}",
        "next_url": with_params(cursor=page.next_cursor) if page.next_cursor else None,
        "prev_url": with_params(cursor=page.prev_cursor) if page.prev_cursor else None,
        "first_url": with_params(),
        "poll_url": with_params(),
    }
    return _render(request, "traceview/replay/invocation_list.html", context, ("invocation-rows",))


def _count_text(n: int, cap: int, sampled: bool) -> str:
    """A category's count as shown: "10,000+" past the cap; with "+" on every count when they
    are counted over a sample of the matches (at least that many)."""
    if sampled:
        return f"{n:,}+"
    return f"{cap:,}+" if n > cap else f"{n:,}"


def _invocation_for(request, pk: int) -> Invocation:
    return get_object_or_404(
        Invocation.objects.select_related("agent", "project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@login_required
def invocation_detail_view(request, pk: int):
    """The replay page. `?step=<span id>` selects a step (a URL per step, to share). The step
    tree is virtual: `?tree_from=N&tree_key=K` is the window of rows from row N of the tree
    whose group K is expanded, which the page asks for as it scrolls (HX-Target tree-window)."""
    invocation = _invocation_for(request, pk)
    try:
        diagnosis = invocation.diagnosis
    except Diagnosis.DoesNotExist:
        diagnosis = None
    base_url = request.path
    # No query unless the invocation has violations (its count says so).
    violations = invocation_scope_violations(invocation)
    context = {
        "invocation": invocation,
        "scope_violations": violations,
        "scope_not_allowed": {v.span_id for v in violations if v.kind == "not_allowed"},
        "scope_unconfirmed": {v.span_id for v in violations if v.kind == "unconfirmed"},
        "scope_labels": SCOPE_VIOLATION_LABELS,
        "diagnosis": diagnosis,
        "root_span_id": diagnosis.root_span_id if diagnosis else "",
        "running": invocation.status == "running",
        "base_url": base_url,
        # The judge's verdict is loaded beside the rules' one (no query here).
        "judge_on": judge_enabled(invocation.project),
    }
    target = request.htmx.target if request.htmx else None
    if target == "invocation-summary":
        return _render(request, "traceview/replay/invocation_detail.html", context, (target,))

    outline = replay_outline(invocation)
    context["outline"] = outline
    span = request.GET.get("step")
    node = outline.by_span.get(span) if span is not None else None
    if node is None and span is not None and target == "step-detail":
        raise Http404("no such step")
    if node is None and outline.nodes:
        # Nothing asked for: open where it went wrong, or else at the beginning.
        node = outline.by_span.get(context["root_span_id"]) or outline.nodes[0]
    # The tree shows the group of the current step expanded; a window fetch names the tree it
    # belongs to (tree_key), so its rows line up with the rest of the page's.
    key = outline.tree_key(node)
    if target == "tree-window" or (target == "step-tree" and "tree_key" in request.GET):
        key = max(-1, min(_int(request.GET.get("tree_key"), -1), len(outline.groups) - 1))
    rows = outline.display(key)
    if "tree_from" in request.GET:
        tree_from = _int(request.GET.get("tree_from"))
    else:
        # Open with the current step near the top of the window.
        tree_from = outline.display_row(node, key) - 8 if node else 0
    tree_from = max(0, min(tree_from, len(rows) - TREE_WINDOW))
    window = rows[tree_from:tree_from + TREE_WINDOW]
    outline_labels([r for r in window if not isinstance(r, Group)]
                   + [r.first for r in window if isinstance(r, Group)])
    steps_shown = [r for r in window if not isinstance(r, Group)]
    context.update(
        current=node,
        tree_key=key,
        tree_rows=window,
        tree_from=tree_from,
        tree_total=len(rows),
        tree_row_px=TREE_ROW_PX,
        tree_height=len(rows) * TREE_ROW_PX,
        tree_top=tree_from * TREE_ROW_PX,
        tree_window_size=TREE_WINDOW,
        current_row=outline.display_row(node, key) if node else 0,
        tree_poll_url=f"{base_url}?{urlencode({'tree_key': key, 'tree_from': tree_from})}",
    )
    if target == "tree-window":
        return _render(request, "traceview/replay/invocation_detail.html", context, (target,))
    if target != "step-detail":
        context.update(timeline=timeline_figure(outline, steps_shown),
                       usage=outline.usage or usage_figure(outline))
        outline.usage = context["usage"]
    if target != "step-tree" and node is not None:
        context["detail"] = step_detail(outline, node)
        context["detail_key"] = key
        context["detail_row"] = outline.display_row(node, key)
    return _render(
        request, "traceview/replay/invocation_detail.html", context, ("step-tree", "step-detail")
    )


def diff_url(a_id: int, b_id: int) -> str:
    return reverse("invocation-diff") + "?" + urlencode({"a": a_id, "b": b_id})


@login_required
def invocation_diff_view(request):
    """Two runs side by side, aligned step by step (replay.diff). `?a=ID&b=ID`, or two `run`
    values as the list's checkboxes send them. A run the user cannot see is a 404."""
    ids = request.GET.getlist("run") or [request.GET.get("a"), request.GET.get("b")]
    ids = [_int(i, -1) for i in ids if i not in (None, "")]
    if len(ids) != 2:
        return render(request, "traceview/replay/invocation_diff.html",
                      {"error": "Choose two runs to compare (tick two rows of the list)."},
                      status=400)
    a, b = (_invocation_for(request, pk) for pk in ids)
    if request.GET.getlist("run"):
        # Rows ticked on the list come newest first; the earlier run is the baseline, A.
        a, b = sorted((a, b), key=lambda inv: (inv.created_at, inv.id))
    return render(request, "traceview/replay/invocation_diff.html", {"diff": run_diff(a, b)})


@login_required
def invocation_baseline_view(request, pk: int):
    """"Compare with the last successful run": the diff of this run against diff_baseline()."""
    invocation = _invocation_for(request, pk)
    baseline = diff_baseline(invocation)
    if baseline is None:
        return render(request, "traceview/replay/invocation_diff.html", {
            "error": "No successful run of this agent to compare with.",
            "invocation": invocation,
        }, status=404)
    return redirect(diff_url(baseline.pk, invocation.pk))


@login_required
def session_detail_view(request):
    """The runs sharing one session id (`?id=`), as the turns of one conversation: each turn's
    input and output, totals, the failed turns. `?project=` narrows to one project."""
    session_id = (request.GET.get("id") or "")[:200]
    project = _int(request.GET.get("project"), 0) or None
    session = session_detail(projects_for_user(request.user), session_id, project) \
        if session_id else None
    if session is None:
        raise Http404("no such session")
    turns = [
        {"inv": t, "input": turn_text(t.input), "output": turn_text(t.output)}
        for t in session.turns
    ]
    return render(request, "traceview/replay/session_detail.html", {
        "session": session, "turns": turns,
        "list_url": reverse("invocation-list") + "?" + urlencode({"session": session_id}),
    })
