"""The classifier's tasks: classify a request's completed invocations, and the periodic sweep
that enqueues whatever is complete and still unclassified. Thin: they take ids, call the write
side (classify.diagnosis) and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.classify.diagnosis import (
    invocation_classify,
    invocations_classify,
    invocations_due,
    invocations_mark_enqueued,
)

log = logging.getLogger(__name__)

# Registered under their names from the former traceview/tasks.py, so that messages queued by an
# older deploy, and beat entries, still route to them.


@shared_task(name="traceview.tasks.classify_invocations", bind=True, acks_late=True,
             max_retries=8)
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


@shared_task(name="traceview.tasks.sweep_due_invocations", acks_late=True)
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
