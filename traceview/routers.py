"""Reads of pages and dashboards from a PostgreSQL streaming replica (DATABASE_REPLICA_URL).

Only where it is safe: `ReplicaReadsMiddleware` (traceview.middleware) marks a request as served
from the replica when it is a GET or HEAD of a page (not the API, not ingest, not the admin) by
a user who has not written anything in the last TRACEVIEW_REPLICA_PIN_S seconds. A write (any
other method) answers with a cookie that sends that user's pages to the primary for that long,
so they see what they just did (read-your-writes) while the replica catches up. Everything else,
ingest, the API, the workers and every write, uses the primary. Without a replica configured
this router changes nothing.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.db import connections

replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    return "replica" in connections.settings


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if replica_reads.get() and replica_configured():
            return "replica"
        return "default"

    def db_for_write(self, model, **hints):
        # Explicit: an object read from the replica is saved to the primary.
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
