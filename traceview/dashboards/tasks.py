"""The beat task that keeps the dashboards' hourly rollups up to date."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from traceview.dashboards.rollups import rollups_refresh

# Registered under its name from the former traceview/tasks.py, so that messages queued by an
# older deploy, and beat entries, still route to it.


@shared_task(name="traceview.tasks.refresh_rollups", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), max_retries=3, retry_backoff=5)
def refresh_rollups() -> int:
    """Bring the dashboards' hourly rollups up to date (traceview.dashboards.rollups)."""
    return rollups_refresh()
