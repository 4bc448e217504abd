"""gunicorn settings for production (`gunicorn traceview.wsgi` picks this file up from the cwd).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Ingest requests are CPU-bound (decode, map, store): one process per core does better than
# threads that wait on each other's GIL.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
timeout = 60
max_requests = 5000
max_requests_jitter = 500


def post_fork(server, worker):
    # Objects loaded before the fork (Django, the app) never die: keep the collector off them,
    # and collect the young generation less often; ingest allocates many short-lived objects.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
