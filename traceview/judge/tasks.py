"""The judge's Celery task, on its own queue (`judge`, settings.CELERY_TASK_ROUTES) with a rate
limit, so that waiting on a model never holds up classification."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from traceview.judge.services import (
    JudgeRetry,
    invocation_judge,
    retry_countdown,
    verdict_give_up,
)

log = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES,
             rate_limit=settings.TRACEVIEW_JUDGE_RATE_LIMIT)
def judge_invocation(self, invocation_id: int, trigger: str) -> str | None:
    """Ask the judge about one invocation (traceview.judge.services.invocation_judge). Safe to
    run twice: a verdict already reached is the cache, and one in progress belongs to the
    request that claimed it. Celery keeps a task's id across its retries, so the id is the
    claim: a retry picks up its own pending verdict. An unavailable endpoint is asked again
    after its Retry-After (or a backoff), up to MAX_RETRIES times, then the verdict is failed."""
    claim = (self.request.id or "").replace("-", "")[:32]
    try:
        verdict = invocation_judge(invocation_id, trigger, claim=claim)
    except JudgeRetry as exc:
        countdown = retry_countdown(exc.retry_after, self.request.retries)
        if countdown is None or self.request.retries >= self.max_retries:
            verdict_give_up(
                exc.verdict_id, claim,
                f"{exc.reason}; gave up after {self.request.retries + 1} attempts"
                + (f" (asked to wait {exc.retry_after:g} s)" if countdown is None else ""),
            )
            return "failed"
        raise self.retry(countdown=countdown) from None
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(countdown=min(60, 2 ** self.request.retries)) from exc
    return verdict.status if verdict else None
