"""gunicorn settings for production (`gunicorn traceview.wsgi` picks this file up from the cwd).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os

from traceview.processes import gc_settle

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Ingest requests are CPU-bound (decode, map, store): one process per core does better than
# threads that wait on each other's GIL.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
timeout = 60
max_requests = 5000
max_requests_jitter = 500


def post_fork(server, worker):
    # Objects loaded before the fork (Django, the app) never die (traceview.processes).
    gc_settle()
