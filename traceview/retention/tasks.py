"""The beat task that purges invocations past their project's retention period."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.core.partitions import partitions_ensure
from traceview.retention.purge import BATCH, SLICE_S, invocations_purge


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3,
             retry_backoff=30)
def purge_expired_invocations(batch: int = BATCH, budget_s: float = SLICE_S) -> int:
    """Purge what every project's retention period has expired (traceview.retention.purge), a
    slice at a time: what a slice leaves is sent again, behind the tasks that queued meanwhile.
    Safe to run twice: a second run beside the first returns at once, a later one finds less."""
    result = invocations_purge(batch=batch, budget_s=budget_s)
    if result.claimed and not result.complete:
        purge_expired_invocations.delay(batch=batch, budget_s=budget_s)
    return result.invocations


@shared_task(autoretry_for=(OperationalError, InterfaceError), max_retries=3, retry_backoff=30)
def partitions_maintain() -> list[str]:
    """PostgreSQL: create the step and payload partitions of the current period and of
    TRACEVIEW_PARTITIONS_AHEAD after it (traceview.core.partitions), so that inserts never land
    in the default partition while beat runs. Safe to run twice: a second run creates nothing."""
    return partitions_ensure()
