"""Celery tasks. Thin: they take ids, call one function, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.diagnosis import invocation_classify, invocations_due, invocations_mark_enqueued

log = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def classify_invocation(invocation_id: int) -> str | None:
    """Classify one invocation and store its diagnosis."""
    diagnosis = invocation_classify(invocation_id)
    return diagnosis.category if diagnosis else None


@shared_task(acks_late=True)
def sweep_due_invocations() -> int:
    """Enqueue complete invocations left unclassified: the broker was down at ingest, a worker
    died, or the invocation went quiet without ever reporting its end."""
    ids = invocations_due()
    if ids:
        invocations_mark_enqueued(ids)
        for inv_id in ids:
            classify_invocation.delay(inv_id)
        log.info("sweep enqueued %d invocations", len(ids))
    return len(ids)
