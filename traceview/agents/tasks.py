"""The re-audit of an agent's recent invocations after its tool scope changed: the task, and
the enqueue its caller (the agent page, on save) uses."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from traceview.agents.scope_audit import agent_scope_reaudit

log = logging.getLogger(__name__)

# Registered under its name from the former traceview/tasks.py, so that messages queued by an
# older deploy, and beat entries, still route to it.


@shared_task(name="traceview.tasks.audit_agent_scope", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), max_retries=3, retry_backoff=5)
def audit_agent_scope(agent_id: int) -> int:
    """Re-audit the agent's recent invocations against its tool scope after the scope changed
    (traceview.agents.scope_audit); safe to run twice."""
    return agent_scope_reaudit(agent_id)


def agent_scope_reaudit_enqueue(agent_id: int) -> None:
    """Queue the re-audit of the agent's recent invocations once the scope change commits. A
    broker outage must not fail the save; it is logged."""

    def publish():
        try:
            audit_agent_scope.delay(agent_id)
        except Exception:  # noqa: BLE001 - any broker failure
            log.warning("could not enqueue the scope re-audit of agent %s", agent_id, exc_info=True)

    transaction.on_commit(publish)
