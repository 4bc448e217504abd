"""Celery tasks. Thin: they take ids, call one function, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.diagnosis import (
    invocation_classify,
    invocations_classify,
    invocations_due,
    invocations_mark_enqueued,
)
from traceview.rollups import rollups_refresh
from traceview.scope_audit import agent_scope_reaudit
from traceview.triage import DeliveryFailed, webhook_deliver

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=8)
def classify_invocations(self, invocation_ids: list[int]) -> int:
    """Classify several invocations: one message per ingest request, not one per invocation.

    The batch is classified together (a few queries for the lot). If that fails, each id is
    classified alone, so that a transient database error retries only the ids it hit (with
    backoff), and a bug in one invocation is logged and left for the sweep instead of stopping
    the rest of the batch.
    """
    try:
        invocations_classify(invocation_ids)
        return len(invocation_ids)
    except Exception:
        log.warning("classifying %d invocations together failed; one at a time",
                    len(invocation_ids), exc_info=True)
    transient = []
    for inv_id in invocation_ids:
        try:
            invocation_classify(inv_id)
        except (OperationalError, InterfaceError):
            transient.append(inv_id)
        except Exception:
            log.exception("classifying invocation %s failed", inv_id)
    if transient:
        raise self.retry(args=[transient], countdown=min(60, 2 ** self.request.retries))
    return len(invocation_ids)


SWEEP_BATCH = 50


@shared_task(acks_late=True)
def sweep_due_invocations() -> int:
    """Enqueue complete invocations left unclassified: the broker was down at ingest, a worker
    died, or the invocation went quiet without ever reporting its end."""
    ids = invocations_due()
    if ids:
        invocations_mark_enqueued(ids)
        for start in range(0, len(ids), SWEEP_BATCH):
            classify_invocations.delay(ids[start : start + SWEEP_BATCH])
        log.info("sweep enqueued %d invocations", len(ids))
    return len(ids)


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3,
             retry_backoff=5)
def refresh_rollups() -> int:
    """Bring the dashboards' hourly rollups up to date (traceview.rollups)."""
    return rollups_refresh()


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3,
             retry_backoff=5)
def audit_agent_scope(agent_id: int) -> int:
    """Re-audit the agent's recent invocations against its tool scope after the scope changed
    (traceview.scope_audit); safe to run twice."""
    return agent_scope_reaudit(agent_id)


@shared_task(
    acks_late=True,
    autoretry_for=(DeliveryFailed, OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def deliver_webhook(delivery_id: int) -> str | None:
    """POST one webhook delivery; a failed attempt is recorded on the delivery and retried with
    exponential backoff (5 s, 10 s, 20 s ... up to an hour)."""
    delivery = webhook_deliver(delivery_id)
    return delivery.status if delivery else None
