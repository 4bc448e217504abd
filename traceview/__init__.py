"""TraceView: a self-hosted trace viewer and failure classifier for AI agents."""

from traceview.celery import app as celery_app

__all__ = ["celery_app"]
