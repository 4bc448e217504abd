"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from traceview.processes import gc_settle

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceview.settings")

app = Celery("traceview")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each capability keeps its tasks in its own tasks.py.
app.autodiscover_tasks(
    ["traceview.classify", "traceview.triage", "traceview.agents", "traceview.dashboards",
     "traceview.judge", "traceview.retention"]
)


@worker_init.connect
@worker_process_init.connect
def _gc_settle(**kwargs):
    # In the worker's main process (the solo pool works there) and in each child a prefork
    # pool starts: what they loaded at start is kept away from the collector.
    gc_settle()
