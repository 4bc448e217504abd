"""The beat task that purges invocations past their project's retention period."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.retention.purge import invocations_purge


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3,
             retry_backoff=30)
def purge_expired_invocations() -> int:
    """Purge what every project's retention period has expired (traceview.retention.purge).
    Safe to run twice: a second run beside the first returns at once, a later one finds less."""
    return invocations_purge().invocations
