"""Webhook delivery: one POST per task, retried with backoff. Sent by name from
triage.services.webhook_enqueue, which this module calls back into."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.triage.services import DeliveryFailed, webhook_deliver

# Registered under its name from the former traceview/tasks.py, so that messages queued by an
# older deploy, and beat entries, still route to it.


@shared_task(
    name="traceview.tasks.deliver_webhook",
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
