"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceview.settings")

app = Celery("traceview")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each capability keeps its tasks in its own tasks.py.
app.autodiscover_tasks(
    ["traceview.classify", "traceview.triage", "traceview.agents", "traceview.dashboards",
     "traceview.judge", "traceview.retention"]
)
