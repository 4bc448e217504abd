"""The purge: invocations past their project's retention period go, with every row that hangs off
them (steps and payloads, search document, diagnosis, scope violations, issue link, correction,
judge verdicts). Issues keep their counters, rollups their hours: both are aggregates that no
longer need the rows.

An invocation is past retention when its last data arrived before the cutoff (`last_data_at`);
`created_at`, never later, narrows the search to the list's own (project, created_at) index.

Bounded everywhere, each bound its own short transaction, so a purge never holds locks for long
and ingest and classification go on beside it:
- invocations are taken `batch` at a time, oldest first;
- their steps and payloads go `step_batch` steps a transaction (a 20,000-step run is several);
- then, in one transaction, the invocations still past the cutoff are locked (FOR UPDATE, in id
  order like ingest), and they and their one-row-each dependents are deleted. An invocation that
  received data meanwhile is no longer past the cutoff and stays, with its new steps: ingest
  bumps `last_data_at` in the same transaction as it writes steps, so a locked invocation has no
  step the step batches did not see;
- between batches it rests, working `duty` (TRACEVIEW_PURGE_DUTY) of the time, and a task run
  stops after SLICE_S seconds and sends the rest behind the queue (retention.tasks).

On PostgreSQL the steps and payloads are partitioned by their invocation's creation time
(traceview.core.partitions), and a purge first drops whole periods: a past period whose
invocations are all past their project's retention loses its two partitions in one statement
each (`partitions_purge`), and its invocations, with no steps left to delete, then go by the
batches above with the rest of what they hold. A period with one live invocation (one project
keeping its data longer, or a run still receiving data) is never dropped: its expired invocations
go by the batches, steps and all.

What hangs off an invocation is found from the models' relations, not listed here, so a table
added later with a foreign key to Invocation (or Step) is purged without touching this module.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from traceview.core import partitions
from traceview.core.models import Invocation, Project, Step
from traceview.retention.models import RetentionState

log = logging.getLogger(__name__)

BATCH = 500
STEP_BATCH = 5_000
# A claim whose holder has not reported for this long is taken over (its worker died): each batch
# renews the claim, and a batch takes seconds.
STALE_CLAIM = timedelta(minutes=10)
# One task run works this long at most, then sends the rest to the back of the queue, so that a
# large purge never keeps a worker from classification for more than a slice.
SLICE_S = 60.0
# Dropping a partition waits this long at most for its parent's lock (ingest queues behind the
# wait), then gives up and tries again after a pause, DROP_TRIES times in a run.
DROP_LOCK_TIMEOUT_MS = 1_000
DROP_TRIES = 3


@dataclass
class PurgeResult:
    invocations: int = 0
    steps: int = 0
    # Periods whose step and payload partitions were dropped whole.
    partitions: int = 0
    claimed: bool = True
    # False when the run stopped at its time budget with more still due.
    complete: bool = True


def project_retention_days(project: Project) -> int:
    """The project's period in days (0: forever), its own or the deployment's default."""
    if project.retention_days is None:
        return settings.TRACEVIEW_RETENTION_DAYS
    return project.retention_days


def retention_cutoff(project: Project, now: datetime) -> datetime | None:
    """Invocations whose last data is older than this are purged; None: kept forever."""
    days = project_retention_days(project)
    return now - timedelta(days=days) if days else None


@cache
def dependents(model: type[models.Model]) -> tuple[tuple[type[models.Model], str], ...]:
    """(model, column) of each table whose rows reference `model`'s rows and go with them."""
    found = []
    for rel in model._meta.related_objects:
        if rel.many_to_many or rel.on_delete is not models.CASCADE:
            # SET_NULL and friends would need an UPDATE, not a DELETE: refuse to guess.
            raise TypeError(f"{rel.related_model.__name__}.{rel.field.name} references "
                            f"{model.__name__} without CASCADE; teach the purge about it")
        found.append((rel.related_model, rel.field.column))
    return tuple(found)


def _keyed(model: type[models.Model]) -> bool:
    """Whether the model's table carries the partition key (steps and payloads)."""
    return any(f.attname == partitions.KEY for f in model._meta.concrete_fields)


def _delete_where_in(model: type[models.Model], column: str, ids: list, keys=None) -> int:
    if not ids:
        return 0
    qn = connection.ops.quote_name
    where = f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(column)}"
    params = [list(ids)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter: thousands of separate ones cost more to bind than to delete.
            where += " = ANY(%s)"
            if keys is not None and _keyed(model):
                # Only the partitions of these invocations' periods are searched.
                where += f" AND {qn(partitions.KEY)} = ANY(%s)"
                params.append(list(keys))
            cursor.execute(where, params)
        else:
            cursor.execute(f"{where} IN ({', '.join(['%s'] * len(ids))})", ids)
        return cursor.rowcount


def rows_delete(model: type[models.Model], ids: list, keys=None) -> int:
    """Delete these rows of `model` (by primary key) and, first, every row hanging off them.
    Returns the rows of `model` deleted. Run inside a transaction. `keys`, when given, are the
    created_at of the invocations the rows belong to: the partition keys of their steps and
    payloads (core.partitions), which narrow the statements on those tables to their periods."""
    if not ids:
        return 0
    for child, column in dependents(model):
        if dependents(child):
            children = child._base_manager.filter(**{f"{column}__in": ids})
            if keys is not None and _keyed(child):
                children = children.filter(**{f"{partitions.KEY}__in": keys})
            rows_delete(child, list(children.values_list("pk", flat=True)), keys)
        else:
            _delete_where_in(child, column, ids, keys)
    return _delete_where_in(model, model._meta.pk.column, ids, keys)


def _steps_purge(invocations: list[tuple[int, datetime]], step_batch: int) -> int:
    """Delete the steps (and payloads) of these (invocation id, created_at), `step_batch` a
    transaction; the steps deleted."""
    ids, keys = [i for i, _ in invocations], list({c for _, c in invocations})
    deleted = 0
    while True:
        with transaction.atomic():
            step_ids = list(
                Step.objects.filter(invocation_id__in=ids, **{f"{partitions.KEY}__in": keys})
                .values_list("id", flat=True)[:step_batch]
            )
            if not step_ids:
                return deleted
            deleted += rows_delete(Step, step_ids, keys)


def partitions_purge(cutoffs: dict[int, datetime], now: datetime,
                     on_batch=None) -> PurgeResult:
    """PostgreSQL: drop the step and payload partitions of each past period whose invocations
    are all past their project's cutoff (`cutoffs`: project id to cutoff; a project not in it
    keeps its invocations). The invocations themselves stay for the batches (project_purge).
    `on_batch(result so far)` is called after each drop."""
    result = PurgeResult()
    if not cutoffs or not partitions.enabled():
        return result
    # Only periods that ended before the current month did (with a margin): ingest guards the
    # invocations of past months only (partitions.old_months_share).
    limit = partitions.period_start(now - partitions.DROP_SLACK, 1)
    latest = max(cutoffs.values())
    for part in partitions.partitions_list(Step._meta.db_table):
        if part.lo is None or part.hi > limit or part.lo >= latest:
            continue
        steps = _period_drop(part, cutoffs)
        if steps is not None:
            result.partitions += 1
            result.steps += steps
            if on_batch is not None:
                on_batch(result)
    return result


def _period_drop(part: partitions.Partition, cutoffs: dict[int, datetime]) -> int | None:
    """Drop one period's partitions if every invocation created in it is past its project's
    cutoff; returns the steps they held (the invocations' counts), None if kept."""
    projects, times = map(list, zip(*cutoffs.items(), strict=True))
    for attempt in range(DROP_TRIES):
        started = time.perf_counter()
        try:
            with transaction.atomic():
                # From here no request can add to an invocation of the period until the drop
                # commits: one under way finishes first, and its data is in what is read next.
                partitions.months_lock(part.lo, part.hi)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FILTER (WHERE c.cutoff IS NULL "
                        "OR i.last_data_at >= c.cutoff), COALESCE(sum(i.step_count), 0) "
                        f"FROM {Invocation._meta.db_table} i LEFT JOIN unnest(%s::bigint[], "
                        "%s::timestamptz[]) AS c(project_id, cutoff) "
                        "ON c.project_id = i.project_id "
                        "WHERE i.created_at >= %s AND i.created_at < %s",
                        [projects, times, part.lo, part.hi],
                    )
                    live, steps = cursor.fetchone()
                if live:
                    return None
                checked = time.perf_counter()
                partitions.range_drop(part, DROP_LOCK_TIMEOUT_MS)
            # The second figure is how long requests writing steps may have waited: the wait
            # for the lock (at most DROP_LOCK_TIMEOUT_MS), the drop and the commit.
            log.info("dropped the step partitions of %s: %d steps; check %.2f s, drop %.2f s",
                     part.lo.date(), steps, checked - started, time.perf_counter() - checked)
            return int(steps)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            log.info("the step partitions of %s were busy (try %d of %d)",
                     part.lo.date(), attempt + 1, DROP_TRIES)
            time.sleep(1.0)
    return None


def project_purge(project: Project, cutoff: datetime, *, batch: int = BATCH,
                  step_batch: int = STEP_BATCH, duty: float = 1.0,
                  deadline: float | None = None, on_batch=None,
                  drop_partitions: bool = True) -> PurgeResult:
    """Purge one project's invocations whose last data is older than `cutoff`, working `duty` of
    the time: after a batch that took t seconds it rests t * (1 - duty) / duty, so that on a busy
    database (slower batches) it rests longer. At `deadline` (time.perf_counter()) it stops after
    the batch under way (complete=False). `on_batch(result so far)` is called after each.
    First, unless `drop_partitions` is false, the periods holding only this project's expired
    invocations lose their step partitions (partitions_purge)."""
    result = PurgeResult()
    if drop_partitions:
        result = partitions_purge({project.id: cutoff}, timezone.now(), on_batch=on_batch)
    duty = min(max(duty, 0.01), 1.0)
    after: tuple[datetime, int] | None = None
    while True:
        due = Invocation.objects.filter(
            project_id=project.id, created_at__lt=cutoff, last_data_at__lt=cutoff
        )
        if after is not None:
            # Keyset: an invocation kept back (new data) is not read again by the next batch.
            # The OR alone is no index bound: without created_at >= the scan would start at the
            # project's oldest entry and step over every one the batches before deleted.
            due = due.filter(created_at__gte=after[0]).filter(
                Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        started = time.perf_counter()
        rows = list(due.order_by("created_at", "id").values_list("id", "created_at")[:batch])
        if not rows:
            return result
        after = (rows[-1][1], rows[-1][0])
        ids = [r[0] for r in rows]
        result.steps += _steps_purge(rows, step_batch)
        with transaction.atomic():
            locked = list(
                Invocation.objects.select_for_update()
                .filter(id__in=ids, last_data_at__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)
            )
            result.invocations += rows_delete(Invocation, locked, {c for _, c in rows})
        rest = (time.perf_counter() - started) * (1 - duty) / duty
        if on_batch is not None:
            on_batch(result)
        if len(rows) < batch:
            return result  # that was the last of them
        if rest:
            time.sleep(rest)
        if deadline is not None and time.perf_counter() >= deadline:
            result.complete = False
            return result


def _claim(now: datetime) -> bool:
    RetentionState.objects.bulk_create([RetentionState(pk=1)], ignore_conflicts=True)
    return RetentionState.objects.filter(
        Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_CLAIM), pk=1
    ).update(running_since=now, last_started_at=now) == 1


def invocations_purge(now: datetime | None = None, *, batch: int = BATCH,
                      step_batch: int = STEP_BATCH, duty: float | None = None,
                      budget_s: float | None = None) -> PurgeResult:
    """Purge every project's invocations past its retention period, for `budget_s` seconds at
    most (then complete=False). One purge at a time: a run that finds another one going returns
    at once (claimed=False)."""
    now = now or timezone.now()
    duty = settings.TRACEVIEW_PURGE_DUTY if duty is None else duty
    if not _claim(now):
        return PurgeResult(claimed=False)

    def renew(_progress: PurgeResult):
        RetentionState.objects.filter(pk=1).update(running_since=timezone.now())

    total = PurgeResult()
    deadline = time.perf_counter() + budget_s if budget_s is not None else None
    try:
        cutoffs = {project: retention_cutoff(project, now)
                   for project in Project.objects.order_by("id")}
        cutoffs = {project: cutoff for project, cutoff in cutoffs.items() if cutoff is not None}
        dropped = partitions_purge({p.id: c for p, c in cutoffs.items()}, now, on_batch=renew)
        total.partitions, total.steps = dropped.partitions, dropped.steps
        for project, cutoff in cutoffs.items():
            done = project_purge(project, cutoff, batch=batch, step_batch=step_batch,
                                 duty=duty, deadline=deadline, on_batch=renew,
                                 drop_partitions=False)
            if done.invocations:
                log.info("purged %d invocations (%d steps) of project %s last updated before %s",
                         done.invocations, done.steps, project.name, cutoff.isoformat())
            total.invocations += done.invocations
            total.steps += done.steps
            if not done.complete:
                total.complete = False
                break
    finally:
        RetentionState.objects.filter(pk=1).update(
            running_since=None, last_finished_at=timezone.now(), last_purged=total.invocations
        )
    return total


def purge_schedule(now: datetime | None = None) -> dict:
    """When the purge last ran, what it removed, and when beat runs it next (its interval after
    the last start; before any run, unknown: within an interval of beat starting)."""
    now = now or timezone.now()
    state = RetentionState.objects.filter(pk=1).first()
    interval = timedelta(seconds=settings.TRACEVIEW_PURGE_INTERVAL_S)
    started = state.last_started_at if state else None
    return {
        "interval": interval,
        "running_since": state.running_since if state else None,
        "last_started_at": started,
        "last_finished_at": state.last_finished_at if state else None,
        "last_purged": state.last_purged if state else 0,
        "next_at": started + interval if started else None,
        "overdue": bool(started and started + interval < now),
    }
