"""Write side of classification: classify one invocation, and find the ones that are due.

An invocation is due when it is complete (its status is final, or no data arrived for the quiet
period) and its data changed since it was last classified.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from traceview.classify import classify
from traceview.models import Diagnosis, Invocation, InvocationSearch
from traceview.queries import agent_depth, invocation_canonical
from traceview.scope import scope_audit
from traceview.scope_audit import scope_violation_rows, scope_violations_write
from traceview.search import search_document
from traceview.triage import invocation_group

log = logging.getLogger(__name__)

# A message handed to the broker this long ago and still not processed is taken as lost.
STALE_ENQUEUE = timedelta(minutes=10)


def invocation_classify(invocation_id: int) -> Diagnosis | None:
    """Classify the invocation as it is now, and audit its tool calls against its agent's scope
    (traceview.scope). Safe to run twice and concurrently: the result is stored only if no newer
    data arrived while the rules ran."""
    try:
        invocation = Invocation.objects.select_related("agent").get(id=invocation_id)
    except Invocation.DoesNotExist:
        return None
    version = invocation.data_version
    canonical = invocation_canonical(invocation)
    status = invocation.status
    if status == "running":
        # Complete by silence: it never reported an end, so judge it by its steps.
        status = "error" if any(s.status == "error" for s in canonical.steps) else "ok"
        canonical.status = status
    verdict = classify(canonical)
    depth = agent_depth(canonical.steps)
    agent = invocation.agent
    # No agent or no scope: no query at all, unless there are earlier violations to remove.
    violations = (
        scope_audit(canonical.steps, agent.allowed_tools, agent.confirm_tools) if agent else []
    )
    had = invocation.scope_violation_count
    with transaction.atomic():
        # The count guard: after a scope re-audit rewrote the violations read above, this write
        # would replace the wrong rows (traceview.scope_audit).
        updated = Invocation.objects.filter(
            id=invocation_id, data_version=version, scope_violation_count=had
        ).update(
            classified_version=version,
            scope_violation_count=len(violations),
            status=status,
            category=verdict.category or "",
            depth=depth,
            completed_at=F("completed_at") if invocation.completed_at else timezone.now(),
        )
        if not updated:
            # Newer data arrived, and its ingest made the invocation due again; or a scope
            # re-audit rewrote its violations meanwhile, and the sweep enqueues it again.
            return None
        if violations or had:
            scope_violations_write(
                [invocation_id] if had else [], scope_violation_rows(invocation, violations)
            )
        # Upserts (INSERT ... ON CONFLICT): one statement each, where update_or_create takes a
        # locking read, a write and two savepoints.
        InvocationSearch.objects.bulk_create(
            [InvocationSearch(invocation_id=invocation_id, document=search_document(canonical))],
            update_conflicts=True, unique_fields=["invocation"], update_fields=["document"],
        )
        diagnosis = Diagnosis(
            invocation_id=invocation_id,
            category=verdict.category or "",
            root_span_id=(verdict.root_step or "")[:128],
            confidence=round(float(verdict.confidence), 3),
            evidence=[e.as_dict() for e in verdict.evidence],
            ruleset=verdict.ruleset,
            classified_at=timezone.now(),
        )
        Diagnosis.objects.bulk_create(
            [diagnosis], update_conflicts=True, unique_fields=["invocation"],
            update_fields=["category", "root_span_id", "confidence", "evidence", "ruleset",
                           "classified_at"],
        )
    # Outside the diagnosis's transaction, so issue rows are not locked while it is written;
    # grouping is idempotent, so a retried classification regroups without counting twice.
    if verdict.category or invocation.category:
        # Only a failure joins an issue, and only an invocation that was one can be in one to
        # leave: most invocations succeed and skip grouping's reads.
        invocation_group(invocation_id, steps=canonical.steps, invocation=invocation,
                         diagnosis=diagnosis)
    return diagnosis


def invocations_due(limit: int = 1000) -> list[int]:
    """Ids of complete invocations whose latest data is unclassified and not already queued."""
    now = timezone.now()
    quiet_since = now - timedelta(seconds=settings.TRACEVIEW_QUIET_PERIOD_S)
    complete = Q(completed_at__isnull=False) | Q(last_data_at__lte=quiet_since)
    not_queued = Q(enqueued_version__lt=F("data_version")) | Q(enqueued_at__lte=now - STALE_ENQUEUE)
    return list(
        Invocation.objects.filter(classified_version__lt=F("data_version"))
        .filter(complete, not_queued)
        .order_by("last_data_at")
        .values_list("id", flat=True)[:limit]
    )


def invocations_mark_enqueued(ids: list[int]) -> None:
    Invocation.objects.filter(id__in=ids).update(
        enqueued_version=F("data_version"), enqueued_at=timezone.now()
    )
