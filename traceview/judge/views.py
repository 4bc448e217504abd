"""The judge's panel on the replay page: its latest verdict beside the rules' one, and the "ask
the judge" button. Login required; the judge must be on for the invocation's project."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from traceview.core.models import Invocation
from traceview.core.queries import projects_for_user
from traceview.judge.queries import verdict_latest
from traceview.judge.services import invocation_judge_enqueue, judge_config, judge_enabled

log = logging.getLogger(__name__)

# How long the panel keeps polling for an answer after the button was pressed.
ASK_WAIT = timedelta(minutes=5)
POLL_S = 2


def _asked(value: str | None) -> datetime | None:
    try:
        when = datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return when if timezone.now() - ASK_WAIT < when <= timezone.now() + timedelta(minutes=1) \
        else None


@login_required
@require_http_methods(["GET", "POST"])
def invocation_judge_view(request, pk: int):
    """GET: the panel (`?asked=<unix time>` keeps it polling until a verdict newer than the
    question is there). POST: ask the judge about the invocation's current data, on its queue;
    the answer costs nothing when this data was judged already."""
    invocation = get_object_or_404(
        Invocation.objects.select_related("project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    if not judge_enabled(invocation.project):
        raise Http404("the judge is off for this project")
    error = ""
    if request.method == "POST":
        asked = timezone.now()
        try:
            invocation_judge_enqueue(invocation.id, "on_demand")
        except Exception:  # noqa: BLE001 - any broker failure
            log.warning("could not ask the judge about invocation %s", invocation.id,
                        exc_info=True)
            error = "The judge's queue cannot be reached; try again in a moment."
            asked = None
        if not request.htmx:
            return redirect("invocation-detail", pk=pk)
    else:
        asked = _asked(request.GET.get("asked"))
    verdict = verdict_latest(invocation)
    # Poll while an answer is on its way: one asked for and not there yet, or one in progress.
    waiting = (verdict is not None and verdict.status == "pending") or (
        asked is not None and (verdict is None or verdict.updated_at < asked)
    )
    return render(request, "traceview/judge/_panel.html", {
        "invocation": invocation,
        "verdict": verdict,
        "model": judge_config().model,
        "waiting": waiting,
        "asked": f"{asked.timestamp():.3f}" if waiting and asked else "",
        "poll_s": POLL_S,
        "error": error,
        "stale": verdict is not None and verdict.data_version != invocation.data_version,
    })
