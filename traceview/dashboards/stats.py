"""Database expressions and helpers for durations and percentiles, shared by the rollups and the
per-version evaluation."""

from __future__ import annotations

import math

from django.db.models import FloatField, Func


class Seconds(Func):
    """end - start in seconds, as a float, on PostgreSQL and SQLite."""

    arity = 2
    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "

    def as_sqlite(self, compiler, connection, **extra):
        # Django's own SQLite function, exact to the microsecond (julianday() is not).
        return self.as_sql(compiler, connection, arg_joiner=", ", template=(
            "(django_timestamp_diff(%(expressions)s) / 1000000.0)"), **extra)


class Percentiles(Func):
    """percentile_cont(ARRAY[0.5, 0.95, 0.99]) over the group, as an ordered-set aggregate
    (PostgreSQL only; SQLite has none: use percentile() over the sorted values)."""

    template = "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY %(expressions)s)"
    contains_aggregate = True
    output_field = FloatField()

    def get_group_by_cols(self):
        # An aggregate of the group: its argument must not join GROUP BY, as a plain Func's would.
        return []


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
