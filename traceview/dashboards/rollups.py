"""Rollups: the hourly aggregates the dashboards read, kept by a Celery beat task.

Grouping a 30-day range of a million raw invocations takes seconds; the same range is a few
thousand rollup rows. Per project, agent and hour of arrival (Invocation.created_at, in UTC):
invocations by outcome with their cost and tokens (InvocationRollup), a histogram of durations
(LatencyRollup), tool calls and failures per tool (ToolRollup), and failures per issue
(IssueRollup).

How they stay right: `rollups_refresh()` recomputes whole hours from the raw rows and never adds
deltas, so running it twice, or while ingest writes, cannot make it drift. It recomputes

- the hours of the invocations classified since it last ran (Diagnosis.classified_at, read with
  an overlap of CLASSIFIED_OVERLAP so a classification that committed late is still seen).
  Every change a dashboard shows ends in a classification: new data makes an invocation due
  again, and the sweep classifies what goes quiet;
- the last RECENT hours, where invocations still running change without being classified.

The first refresh rebuilds everything. Deleting an invocation older than RECENT changes no
classification, so its hour keeps counting it until something there is classified again
(`manage.py reclassify`, or a rebuild by clearing RollupState). Each project has a state row,
locked while its hours are recomputed, so two refreshes never interleave on a project and none
deletes rows another writes; a project whose refresh fails keeps its state and is retried.

Durations are kept as histograms with logarithmic buckets (each GROWTH times wider than the
last), one row per bucket holding count, shortest and longest, so the histograms of many hours
add up in one GROUP BY, and a percentile read from them is exact when a bucket holds one
distinct value and otherwise within the bucket's width (10 %).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Floor, Greatest, Ln, TruncHour
from django.utils import timezone

from traceview.core.models import Diagnosis, Invocation, Project, Step
from traceview.dashboards.models import (
    InvocationRollup,
    IssueRollup,
    LatencyRollup,
    RollupState,
    ToolRollup,
)
from traceview.dashboards.stats import Seconds
from traceview.triage.models import IssueInvocation

log = logging.getLogger(__name__)

ROLLUPS = (InvocationRollup, LatencyRollup, ToolRollup, IssueRollup)
RECENT = timedelta(hours=2)
CLASSIFIED_OVERLAP = timedelta(minutes=5)
# A full rebuild goes a week at a time, so no query reads more than a week of one project.
REBUILD_CHUNK = timedelta(days=7)
GROWTH = 1.1
# The largest sums the rollup columns hold (bigint; numeric(18, 6)): an hour whose invocations
# add up to more shows these, rather than fail its project's refresh.
MAX_TOKEN_SUM = 2**63 - 1
MAX_COST_SUM = Decimal("999999999999.999999")
# Shorter durations (and clock skew making some negative) count in the bucket of a millisecond.
MIN_DURATION_S = 0.001


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollups_refresh(now: datetime | None = None) -> int:
    """Recompute the hours that changed since the last refresh, one project at a time; returns
    how many project-hours were recomputed.

    Each project is refreshed in a transaction of its own, from its own state row: a project
    whose rows cannot be summed (or any other error in its data) is logged and tried again on
    the next run, and never stops the others. A database that is gone stops the run, so that
    the task's retry takes over."""
    now = now or timezone.now()
    hours = 0
    for project_id in Project.objects.order_by("id").values_list("id", flat=True):
        try:
            with transaction.atomic():
                hours += _project_refresh(project_id, now)
        except DatabaseError:
            if not connection.is_usable():
                raise  # the database is gone, not this project's data: the task retries
            log.exception("the rollups of project %s were not refreshed; retried on the next run",
                          project_id)
    return hours


def _project_refresh(project_id: int, now: datetime) -> int:
    state = RollupState.objects.select_for_update().filter(project_id=project_id).first()
    if state is None:
        RollupState.objects.bulk_create([RollupState(project_id=project_id)],
                                        ignore_conflicts=True)
        state = RollupState.objects.select_for_update().get(project_id=project_id)
    if state.classified_through is None:
        ranges = _all_ranges(project_id)
    else:
        ranges = _changed_ranges(project_id, state.classified_through - CLASSIFIED_OVERLAP, now)
    hours = 0
    for start, end in ranges:
        chunk = start
        while chunk < end:
            chunk_end = min(end, chunk + REBUILD_CHUNK)
            rollups_recompute(project_id, chunk, chunk_end)
            chunk = chunk_end
        hours += int((end - start) / timedelta(hours=1))
    state.classified_through = now
    state.refreshed_at = timezone.now()
    state.save(update_fields=["classified_through", "refreshed_at"])
    return hours


def rollups_refreshed_at(project_ids: list[int] | None = None) -> datetime | None:
    """When the rollups of these projects (all, by default) were last all refreshed."""
    states = RollupState.objects.all()
    if project_ids is not None:
        states = states.filter(project_id__in=project_ids)
    return states.aggregate(oldest=Min("refreshed_at"))["oldest"]


def _all_ranges(project_id: int) -> list[tuple[datetime, datetime]]:
    span = Invocation.objects.filter(project_id=project_id).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )
    if span["first"] is None:
        return []
    return [(hour_floor(span["first"]), hour_floor(span["last"]) + timedelta(hours=1))]


def _changed_ranges(project_id: int, since: datetime,
                    now: datetime) -> list[tuple[datetime, datetime]]:
    """(start, end) runs of consecutive hours of one project to recompute."""
    hour = TruncHour("invocation__created_at", tzinfo=UTC)
    changed: set[datetime] = set(
        Diagnosis.objects.filter(classified_at__gte=since, invocation__project_id=project_id)
        .annotate(h=hour).values_list("h", flat=True).distinct()
    )
    recent = hour_floor(now - RECENT)
    current = hour_floor(now)
    # Recent invocations, or recent rollups whose invocations are gone.
    if (
        Invocation.objects.filter(project_id=project_id, created_at__gte=recent).exists()
        or InvocationRollup.objects.filter(project_id=project_id, hour__gte=recent).exists()
    ):
        h = recent
        while h <= current:
            changed.add(h)
            h += timedelta(hours=1)
    ranges: list[list] = []
    for h in sorted(changed):
        if ranges and ranges[-1][1] == h:
            ranges[-1][1] = h + timedelta(hours=1)
        else:
            ranges.append([h, h + timedelta(hours=1)])
    return [tuple(r) for r in ranges]


def rollups_recompute(project_id: int, start: datetime, end: datetime) -> None:
    """Replace the rollups of one project's hours in [start, end) (hour boundaries) with what
    the raw rows say now."""
    for model in ROLLUPS:
        model.objects.filter(project_id=project_id, hour__gte=start, hour__lt=end).delete()
    invocations = Invocation.objects.filter(
        project_id=project_id, created_at__gte=start, created_at__lt=end
    )
    hour = TruncHour("created_at", tzinfo=UTC)
    InvocationRollup.objects.bulk_create([
        InvocationRollup(project_id=project_id, agent_id=r["agent_id"], hour=r["h"],
                         status=r["status"], category=r["category"], invocations=r["n"],
                         cost_usd=min(r["cost"] or 0, MAX_COST_SUM), unpriced=r["unpriced"],
                         input_tokens=min(r["input"] or 0, MAX_TOKEN_SUM),
                         output_tokens=min(r["output"] or 0, MAX_TOKEN_SUM))
        for r in invocations.annotate(h=hour).values("h", "agent_id", "status", "category")
        .annotate(n=Count("id"), cost=Sum("cost_usd"),
                  unpriced=Count("id", filter=Q(unpriced_calls__gt=0)), input=Sum("input_tokens"),
                  output=Sum("output_tokens")).order_by()
    ], batch_size=1000)

    seconds = Greatest(Seconds(F("ended_at"), F("started_at")), Value(MIN_DURATION_S))
    LatencyRollup.objects.bulk_create([
        LatencyRollup(project_id=project_id, agent_id=r["agent_id"], hour=r["h"],
                      bucket=r["b"], invocations=r["n"], shortest_s=r["lo"], longest_s=r["hi"])
        for r in invocations.filter(started_at__isnull=False, ended_at__isnull=False)
        .annotate(h=hour, s=seconds).annotate(b=Floor(Ln(F("s")) / Value(math.log(GROWTH))))
        .values("h", "agent_id", "b").annotate(n=Count("id"), lo=Min("s"), hi=Max("s"))
        .order_by()
    ], batch_size=1000)

    step_hour = TruncHour("invocation__created_at", tzinfo=UTC)
    ToolRollup.objects.bulk_create([
        ToolRollup(project_id=project_id, agent_id=r["invocation__agent_id"], hour=r["h"],
                   tool_name=r["tool_name"], calls=r["calls"], errors=r["errors"])
        for r in Step.objects.filter(
            invocation__project_id=project_id, invocation__created_at__gte=start,
            invocation__created_at__lt=end, kind="tool",
        ).annotate(h=step_hour).values("h", "invocation__agent_id", "tool_name")
        .annotate(calls=Count("id"), errors=Count("id", filter=Q(status="error"))).order_by()
    ], batch_size=1000)

    IssueRollup.objects.bulk_create([
        IssueRollup(project_id=project_id, agent_id=r["invocation__agent_id"], hour=r["h"],
                    issue_id=r["issue_id"], invocations=r["n"])
        for r in IssueInvocation.objects.filter(
            invocation__project_id=project_id, invocation__created_at__gte=start,
            invocation__created_at__lt=end,
        ).annotate(h=step_hour).values("h", "invocation__agent_id", "issue_id")
        .annotate(n=Count("invocation_id")).order_by()
    ], batch_size=1000)


# --- Reading histograms ----------------------------------------------------------------------


def histogram_percentile(histogram: dict[int, list], q: float) -> float | None:
    """The q-quantile of a histogram ({bucket: [count, shortest, longest]}) by linear
    interpolation between closest ranks (as percentile_cont); each rank's value is placed within
    its bucket, between the bucket's shortest and longest."""
    total = sum(b[0] for b in histogram.values())
    if not total:
        return None
    buckets = [histogram[key] for key in sorted(histogram)]

    def ranked(k: int) -> float:
        seen = 0
        for n, lo, hi in buckets:
            if k < seen + n:
                return lo if n == 1 else lo + (hi - lo) * (k - seen) / (n - 1)
            seen += n
        return buckets[-1][2]

    position = (total - 1) * q
    below = math.floor(position)
    value = ranked(below)
    if position > below:
        value += (ranked(below + 1) - value) * (position - below)
    return value
