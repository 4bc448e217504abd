"""The purge's bookkeeping (traceview.retention.purge). Re-exported by traceview.models."""

from __future__ import annotations

from django.db import models


class RetentionState(models.Model):
    """One row. `running_since` is the purge's claim, taken with a conditional UPDATE rather than
    a lock held for the whole run (which would be one long transaction); the rest says what the
    last run did, for the project page."""

    running_since = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_purged = models.BigIntegerField(default=0)
