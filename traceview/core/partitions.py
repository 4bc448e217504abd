"""Steps and their payloads partitioned by time on PostgreSQL, so that the retention purge can drop
a whole period at once (traceview.retention.purge) instead of deleting millions of rows.

The partition key is `invocation_created_at`: the server's time when the step's invocation was
created (never a time the sender sent: those are untrusted), copied onto each step and payload
when they are inserted. All of an invocation's steps therefore sit in one partition, however
long it keeps receiving data, and a period's partition holds exactly the steps of the invocations
created in it.

- Ranges are TRACEVIEW_PARTITION_MONTHS months (UTC, aligned on January), named
  `<table>_pYYYYMM` after their first month; a DEFAULT partition (`<table>_default`) takes any
  row whose range does not exist, so an insert never fails. Creating a range moves the default's
  rows of that range into it.
- `partitions_ensure` creates the current period and TRACEVIEW_PARTITIONS_AHEAD after it (at
  migrate, and from beat: retention.tasks.partitions_maintain).
- Primary keys include the key ((id, key) and (step_id, key)) as PostgreSQL requires; Django
  still knows `id` and `step_id` as the primary keys, unique because the sequence hands each id
  out once. step_unique_span is (invocation_id, span_id, key): the same uniqueness, since the key
  is the invocation's. Nothing points into the steps with a constraint (a foreign key must name a
  unique key of the partitioned table); the payloads share their step's partition and go with it.
- A partition is dropped only when every invocation created in its range is past its project's
  retention (traceview.retention.purge). Ingest that adds to an invocation of a past period holds
  a shared lock on its month (`old_months_share`) for its transaction; the purge takes the same
  locks exclusively before it checks and drops, so a step written by a request that read the
  invocation as expired is never dropped unseen.

SQLite has none of this: the column exists (one schema) and the purge deletes rows in batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from traceview.core.models import Invocation, Step, StepPayload

KEY = "invocation_created_at"
# pg_advisory_xact_lock(LOCK_CLASS, month number): one lock per month of invocations. Months,
# not periods, so that a change of TRACEVIEW_PARTITION_MONTHS never makes ingest and the purge
# lock different things; 0x7476 is "tv".
LOCK_CLASS = 0x7476
# Serializes partitions_ensure runs (two beat runs, or beat and migrate).
ENSURE_LOCK = (LOCK_CLASS, -1)
# The purge drops a range only when it ended this long before the current month began, so no
# request still running can have read the current month as "now" while the range was current.
DROP_SLACK = timedelta(days=1)


def partitioned_tables() -> tuple[str, ...]:
    return (Step._meta.db_table, StepPayload._meta.db_table)


@dataclass(frozen=True)
class Partition:
    name: str
    # [lo, hi); both None for the DEFAULT partition.
    lo: datetime | None
    hi: datetime | None


def months_of(at: datetime) -> int:
    at = at.astimezone(UTC)
    return at.year * 12 + at.month - 1


def month_at(number: int) -> datetime:
    return datetime(number // 12, number % 12 + 1, 1, tzinfo=UTC)


def period_start(at: datetime, months: int | None = None) -> datetime:
    months = months or settings.TRACEVIEW_PARTITION_MONTHS
    n = months_of(at)
    return month_at(n - n % months)


def partition_name(table: str, lo: datetime) -> str:
    return f"{table}_p{lo:%Y%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def enabled() -> bool:
    """Whether the steps are partitioned here (PostgreSQL, migrated)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)",
                       [Step._meta.db_table])
        row = cursor.fetchone()
    return bool(row and row[0])


def partitions_list(table: str) -> list[Partition]:
    """The table's partitions, ranges in order, then the default."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [table],
        )
        rows = cursor.fetchall()
    found, default = [], []
    for name, bound in rows:
        if bound == "DEFAULT":
            default.append(Partition(name, None, None))
            continue
        # FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')
        lo, hi = (datetime.fromisoformat(part.split("'")[1]) for part in bound.split(" TO "))
        found.append(Partition(name, lo, hi))
    return sorted(found, key=lambda p: p.lo) + default


def partitions_ensure(start: datetime | None = None, end: datetime | None = None,
                      tables=None) -> list[str]:
    """Create the partitions of every period from `start`'s through `end`'s (default: the
    current period and TRACEVIEW_PARTITIONS_AHEAD after it) and the default partition, on both
    tables (or `tables`). A period that overlaps an existing range (the width changed) is left
    to the existing ranges and the default. Returns the partitions created."""
    if tables is None:
        if not enabled():
            return []
        tables = partitioned_tables()
    now = datetime.now(UTC)
    months = settings.TRACEVIEW_PARTITION_MONTHS
    start = period_start(start or now, months)
    end = end or month_at(months_of(now) + months * settings.TRACEVIEW_PARTITIONS_AHEAD)
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", ENSURE_LOCK)
        for table in tables:
            existing = partitions_list(table)
            if not any(p.lo is None for p in existing):
                cursor.execute(f"CREATE TABLE {_qn(default_name(table))} "
                               f"PARTITION OF {_qn(table)} DEFAULT")
                created.append(default_name(table))
            lo = start
            while lo <= end:
                hi = month_at(months_of(lo) + months)
                if not any(p.lo is not None and p.lo < hi and lo < p.hi for p in existing):
                    _range_create(cursor, table, lo, hi)
                    created.append(partition_name(table, lo))
                lo = hi
    return created


def _range_create(cursor, table: str, lo: datetime, hi: datetime) -> None:
    """Create the range [lo, hi) of `table`. Rows the default partition holds in that range
    (written while the range did not exist) move into it first: PostgreSQL refuses a range whose
    rows are in the default."""
    name, default = _qn(partition_name(table, lo)), _qn(default_name(table))
    bounds = "FOR VALUES FROM (%s) TO (%s)"
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {KEY} >= %s AND {KEY} < %s)",
                   [lo, hi])
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {_qn(table)} {bounds}", [lo, hi])
        return
    cursor.execute(f"CREATE TABLE {name} (LIKE {_qn(table)} INCLUDING DEFAULTS "
                   f"INCLUDING STORAGE INCLUDING COMPRESSION)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {default} WHERE {KEY} >= %s AND {KEY} < %s RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved", [lo, hi])
    cursor.execute(f"ALTER TABLE {_qn(table)} ATTACH PARTITION {name} {bounds}", [lo, hi])


def invocation_redate(invocation_id: int, created_at: datetime, **fields) -> None:
    """Set an invocation's created_at (and any other `fields` of it), moving its steps' and
    payloads' key with it, so they stay in the partition every read of them names (demo data and
    tests dated in the past; nothing a client sends changes created_at)."""
    with transaction.atomic():
        Invocation.objects.filter(id=invocation_id).update(created_at=created_at, **fields)
        Step.objects.filter(invocation_id=invocation_id).update(**{KEY: created_at})
        StepPayload.objects.filter(step__invocation_id=invocation_id).update(**{KEY: created_at})


def old_months_share(created_ats, now: datetime) -> None:
    """Ingest, before it writes steps: hold a shared lock on the month of each invocation created
    before the current month, until the transaction ends. The purge takes these locks
    exclusively before it decides that a period's invocations are all expired, so it either sees
    this request's data (the invocation is no longer expired) or drops the period before this
    request writes (its steps then go to the default partition, kept with their invocation).
    Invocations of the current month, nearly all of them, cost nothing."""
    current = months_of(now)
    months = sorted({m for m in map(months_of, created_ats) if m < current})
    if not months or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock_shared(%s, m)) FROM unnest(%s::int[]) AS m",
            [LOCK_CLASS, months])


def months_lock(lo: datetime, hi: datetime) -> None:
    """The purge: the exclusive side of old_months_share, for every month of [lo, hi)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, m)) FROM generate_series(%s, %s) AS m",
            [LOCK_CLASS, months_of(lo), months_of(hi) - 1])


def range_drop(part: Partition, lock_timeout_ms: int) -> None:
    """Drop the steps' and the payloads' partitions of `part`'s period (`part`: one of
    partitions_list's ranges), in the caller's transaction. Dropping a partition locks its parent,
    itself and the default exclusively until the transaction ends, and requests queue behind a
    lock from the moment it is asked for. So one lock is waited for, the steps' parent (ingest
    takes the steps before the payloads), at most `lock_timeout_ms`; every other is then taken
    without waiting, since a wait while holding the first would keep ingest waiting too. Either
    failure (lock_not_available) ends the transaction, and the caller tries later."""
    tables = partitioned_tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        cursor.execute(f"LOCK TABLE ONLY {_qn(tables[0])} IN ACCESS EXCLUSIVE MODE")
        names = [partition_name(t, part.lo) for t in tables]
        cursor.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NOT NULL",
                       [names + [default_name(t) for t in tables]])
        present = {name for (name,) in cursor.fetchall()}
        rest = [f"ONLY {_qn(t)}" for t in tables[1:]] + [_qn(n) for n in sorted(present)]
        cursor.execute(f"LOCK TABLE {', '.join(rest)} IN ACCESS EXCLUSIVE MODE NOWAIT")
        for table, name in zip(tables, names, strict=True):
            if name in present:
                cursor.execute(f"DROP TABLE {_qn(name)}")
                continue
            # One table can lack a period the other has (the migration makes the periods each
            # table's rows cover): that period's rows of it, if any, sit in its default.
            cursor.execute(f"DELETE FROM {_qn(table)} WHERE {KEY} >= %s AND {KEY} < %s",
                           [part.lo, part.hi])


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)
