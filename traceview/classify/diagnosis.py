"""Write side of classification: classify one invocation, and find the ones that are due.

An invocation is due when it is complete (its status is final, or no data arrived for the quiet
period) and its data changed since it was last classified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from traceview.agents.scope import scope_audit
from traceview.agents.scope_audit import scope_violation_rows, scope_violations_write
from traceview.classify.engine import Diagnosis as Verdict
from traceview.classify.engine import classify
from traceview.core.models import Diagnosis, Invocation, InvocationSearch
from traceview.core.queries import agent_depth, invocations_canonical
from traceview.core.search import search_document
from traceview.core.trace import InvocationData
from traceview.judge.services import invocations_judge_enqueue
from traceview.triage.services import invocations_group

log = logging.getLogger(__name__)


def invocation_classify(invocation_id: int) -> Diagnosis | None:
    """Classify one invocation (see invocations_classify); its diagnosis, or None when nothing
    was stored."""
    return invocations_classify([invocation_id]).get(invocation_id)


@dataclass
class _Result:
    invocation: Invocation
    canonical: InvocationData
    verdict: Verdict
    status: str
    depth: int
    violations: list


def invocations_classify(invocation_ids: list[int]) -> dict[int, Diagnosis]:
    """Classify invocations as they are now, and audit their tool calls against their agents'
    scopes (agents.scope). Safe to run twice and concurrently: a result is stored only if no
    newer data arrived while the rules ran. Returns the diagnoses stored, by invocation id.

    The lot costs a few statements whatever its size (load, steps, the claim, the search
    documents, the diagnoses), and grouping for failures only, which is what lets a worker keep
    up with ingest."""
    invocations = list(
        Invocation.objects.select_related("agent").filter(id__in=invocation_ids).order_by("id")
    )
    canonicals = invocations_canonical(invocations)
    results = []
    for invocation in invocations:
        canonical = canonicals[invocation.id]
        status = invocation.status
        if status == "running":
            # Complete by silence: it never reported an end, so judge it by its steps.
            status = "error" if any(s.status == "error" for s in canonical.steps) else "ok"
            canonical.status = status
        agent = invocation.agent
        results.append(_Result(
            invocation, canonical, classify(canonical), status, agent_depth(canonical.steps),
            scope_audit(canonical.steps, agent.allowed_tools, agent.confirm_tools)
            if agent else [],
        ))
    with transaction.atomic():
        claimed = _results_claim(results)
        stored = [r for r in results if r.invocation.id in claimed]
        # Only what had or has violations is written: most invocations cost no query here.
        scope_violations_write(
            [r.invocation.id for r in stored if r.invocation.scope_violation_count],
            [row for r in stored for row in scope_violation_rows(r.invocation, r.violations)],
        )
        _search_write({r.invocation.id: search_document(r.canonical) for r in stored},
                      {r.invocation.id for r in stored if r.invocation.classified_version})
        now = timezone.now()
        diagnoses = {
            r.invocation.id: Diagnosis(
                invocation_id=r.invocation.id,
                category=r.verdict.category or "",
                root_span_id=(r.verdict.root_step or "")[:128],
                confidence=round(float(r.verdict.confidence), 3),
                evidence=[e.as_dict() for e in r.verdict.evidence],
                ruleset=r.verdict.ruleset,
                classified_at=now,
            )
            for r in stored
        }
        # An upsert (INSERT ... ON CONFLICT): one statement for the lot, where update_or_create
        # takes a locking read, a write and two savepoints per row.
        Diagnosis.objects.bulk_create(
            list(diagnoses.values()), update_conflicts=True, unique_fields=["invocation"],
            update_fields=["category", "root_span_id", "confidence", "evidence", "ruleset",
                           "classified_at"],
        )
    # Outside the diagnoses' transaction, so issue rows are not locked while they are written;
    # grouping is idempotent, so a retried classification regroups without counting twice.
    # Only a failure joins an issue, and only an invocation that was one can be in one to
    # leave: most invocations succeed and skip grouping's reads.
    invocations_group([
        (r.invocation, diagnoses[r.invocation.id], r.canonical.steps) for r in stored
        if r.verdict.category or r.invocation.category
    ])
    # Last, once the rules' verdicts are stored: the ones worth a second opinion go to the
    # judge's own queue (nothing at all when the judge is off).
    invocations_judge_enqueue([(r.invocation, r.verdict) for r in stored])
    return diagnoses


def _results_claim(results: list[_Result]) -> set[int]:
    """Write each result's summary onto its invocation row, where the row is still as it was
    read; the ids written.

    The version guard drops a verdict on stale data (the newer data's ingest made the invocation
    due again); the count guard one whose violations a scope re-audit rewrote meanwhile (the
    sweep enqueues it again). One UPDATE ... FROM (VALUES ...) RETURNING for the lot (PostgreSQL,
    and SQLite since 3.35) rather than a conditional UPDATE per invocation: the ORM's update()
    cannot take per-row values nor say which rows matched, and a statement per row was a third
    of the worker's queries."""
    if not results:
        return set()
    table = connection.ops.quote_name(Invocation._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows, params = [], []
    for r in results:
        inv = r.invocation
        rows.append("(%s, %s, %s, %s, %s, %s, %s)")
        params += [inv.id, inv.data_version, inv.scope_violation_count, len(r.violations),
                   r.status, r.verdict.category or "", r.depth]
    # VALUES columns are column1..column7 in both PostgreSQL and SQLite.
    sql = (
        f"UPDATE {table} SET classified_version = v.column2, scope_violation_count = v.column4, "
        f"status = v.column5, category = v.column6, depth = v.column7, "
        f"completed_at = COALESCE({table}.completed_at, %s) "
        f"FROM (VALUES {', '.join(rows)}) AS v "
        f"WHERE {table}.id = v.column1 AND {table}.data_version = v.column2 "
        f"AND {table}.scope_violation_count = v.column3 RETURNING {table}.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params])
        return {row[0] for row in cursor.fetchall()}


def _search_write(documents: dict[int, str], classified: set[int]) -> None:
    """Store the invocations' search documents (by invocation id); `classified`: those
    classified before, whose document is stored already (it is written with the claim).

    On PostgreSQL a trigger parses each document written into its tsvector, the dearest part of
    the write. An upsert parses a reclassified invocation's document twice (the BEFORE INSERT
    trigger runs on the proposed row, then the BEFORE UPDATE one on the conflict) even when it
    did not change, which on reclassification it mostly does not. So the documents of
    invocations classified before are written by a statement that updates a stored one only
    when it changed (and inserts one found missing), where an unchanged one costs no parse;
    first classifications, most of them, keep the plain upsert, which is cheaper to plan (a
    statement a task of one) and parses once unless another worker inserted the row meanwhile."""
    again = {i: d for i, d in documents.items() if i in classified}
    if connection.vendor != "postgresql":
        again = {}  # no trigger: the upsert costs what the write does
    fresh = [InvocationSearch(invocation_id=i, document=d) for i, d in documents.items()
             if i not in again]
    if fresh:
        InvocationSearch.objects.bulk_create(
            fresh, update_conflicts=True, unique_fields=["invocation"],
            update_fields=["document"],
        )
    if not again:
        return
    table = connection.ops.quote_name(InvocationSearch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (invocation_id, document) AS (SELECT * FROM unnest(%s::bigint[], "
            f"%s::text[])), changed AS (UPDATE {table} AS s SET document = v.document FROM v "
            f"WHERE s.invocation_id = v.invocation_id AND s.document <> v.document) "
            f"INSERT INTO {table} (invocation_id, document) SELECT * FROM v WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} AS s WHERE s.invocation_id = v.invocation_id) "
            f"ON CONFLICT (invocation_id) DO UPDATE SET document = EXCLUDED.document",
            [list(again), list(again.values())],
        )


def invocations_due(limit: int = 1000) -> list[int]:
    """Ids of complete invocations whose latest data is unclassified and not already queued, then
    of classified ones whose grouping is missing (a worker died between storing the diagnosis and
    grouping it) and whose last message is stale: classifying them again groups them."""
    now = timezone.now()
    quiet_since = now - timedelta(seconds=settings.TRACEVIEW_QUIET_PERIOD_S)
    stale = now - timedelta(seconds=settings.TRACEVIEW_STALE_ENQUEUE_S)
    complete = Q(completed_at__isnull=False) | Q(last_data_at__lte=quiet_since)
    not_queued = Q(enqueued_version__lt=F("data_version")) | Q(enqueued_at__lte=stale)
    due = list(
        Invocation.objects.filter(classified_version__lt=F("data_version"))
        .filter(complete, not_queued)
        .order_by("last_data_at")
        .values_list("id", flat=True)[:limit]
    )
    if len(due) < limit:
        due += [i for i in invocations_ungrouped(stale, limit - len(due)) if i not in due]
    return due


# How far back the sweep looks for diagnoses whose grouping is missing: the most recent
# classifications only (a worker dies holding one batch), so that the check costs an index range.
UNGROUPED_LOOKBACK = 5000


def invocations_ungrouped(stale, limit: int) -> list[int]:
    """Invocations whose diagnosis was stored more than the stale-enqueue time ago but whose
    grouping is missing: a failure outside every issue, or a success still inside one. A worker
    died between the two; classifying them again groups them. The diagnosis decides (triage
    corrections change neither it nor the grouping), and a message sent since then (enqueued_at)
    is waited for, so a worker grouping right now is not raced."""
    recent = Diagnosis.objects.filter(classified_at__lte=stale).order_by("-classified_at")
    ungrouped = (Q(diagnosis__category__gt="") & Q(issue_link__isnull=True)) | (
        Q(diagnosis__category="") & Q(issue_link__isnull=False))
    return list(
        Invocation.objects.filter(
            id__in=recent.values("invocation_id")[:UNGROUPED_LOOKBACK],
            classified_version__gte=F("data_version"),
        )
        .filter(ungrouped, Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale))
        .values_list("id", flat=True)[:limit]
    )


def invocations_mark_enqueued(ids: list[int]) -> None:
    Invocation.objects.filter(id__in=ids).update(
        enqueued_version=F("data_version"), enqueued_at=timezone.now()
    )
