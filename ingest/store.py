"""Write canonical invocations into rows: idempotent upserts, totals, and enqueueing.

`invocations_store(project, invocations)` is the one way data gets in, whatever the wire format.
It runs in one transaction, so a request is committed whole or not at all, and it locks the
invocation rows it touches (in id order, so two requests never deadlock), which makes the
read-merge-write of steps safe when retries and split batches race each other. On PostgreSQL a
request whose spans are all new (the common case) takes those locks last, after its COPY, and
inserts its new invocations once with their final values (`_store_new_spans`); one that finds
any of its spans stored, or loses a race for one, goes the locked way.

Totals are kept incrementally: each request adds what its new steps contribute and, for steps it
changes, the difference between their old and new contribution, so a re-sent span adds nothing
and a request never re-reads an invocation's earlier steps. Run-level usage reported by the
sender is the one case that needs the stored sums (it stands in when no step has usage), so only
invocations with reported usage are summed again.

On PostgreSQL new steps and payloads go in by COPY with ids drawn from the sequence up front:
with the invocations locked, no other request can insert the same spans, and COPY avoids the
per-row cost of building INSERT statements, which is most of a request's time otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from ingest.formats.errors import FormatError
from traceview.agents.pricing import price_for, prices_load, step_cost, usage_details
from traceview.core.partitions import old_months_share
from traceview.core.redaction import Redactor, redact_invocation
from traceview.core.trace import (
    MAX_COST_USD,
    MAX_ID,
    MAX_VALUE_CHARS,
    InvocationData,
    StepData,
    events_join,
    messages_from_events,
    session_of,
    truncate,
)
from traceview.models import Agent, Invocation, Project, Step, StepPayload

log = logging.getLogger(__name__)

# Step fields that map one-to-one onto Step columns, and onto StepPayload columns.
STEP_COLUMNS = (
    "parent_span_id",
    "kind",
    "name",
    "started_at",
    "ended_at",
    "status",
    "error_type",
    "error_message",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "finish_reason",
    "tool_name",
    "tool_call_id",
    "agent_name",
    "seq",
    "redactions",
)
PAYLOAD_COLUMNS = ("tool_arguments", "tool_result", "input", "output", "error_traceback")


@dataclass
class StoreResult:
    invocations: int
    steps: int
    invocation_ids: list[int]


def clean(value: Any) -> Any:
    """Make untrusted values storable anywhere: no NUL, no lone surrogates, no huge strings.

    PostgreSQL refuses NUL in text and jsonb and invalid UTF-8 anywhere; rather than fail a batch
    for one bad character, replace it. Strings over 1 MiB keep their head and a visible marker.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        # isascii is a quick scan; encoding every string just to find a surrogate is not.
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                value = value.encode("utf-8", "replace").decode("utf-8")
        if len(value) > MAX_VALUE_CHARS:
            value = truncate(value)
        return value
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def _agent_key(name: str | None) -> str:
    """An agent name as stored: cleaned and cut to the column, whichever format sent it."""
    return clean(name)[: Agent._meta.get_field("name").max_length] if name else ""


def _agents_for(project: Project, names: Iterable[str]) -> dict[str, Agent]:
    names = {_agent_key(n) for n in names} - {""}
    if not names:
        return {}
    found = {a.name: a for a in Agent.objects.filter(project=project, name__in=names)}
    if len(found) < len(names):
        # Agents are few and long-lived: the insert is the exception, the read the rule.
        Agent.objects.bulk_create(
            [Agent(project=project, name=n) for n in names - found.keys()], ignore_conflicts=True
        )
        found = {a.name: a for a in Agent.objects.filter(project=project, name__in=names)}
    return found


# Step text columns and their lengths; what is longer is cut to fit.
STEP_LENGTHS = {
    "name": 500,
    "error_type": 200,
    "model": 200,
    "tool_name": 200,
    "tool_call_id": 200,
    "agent_name": 200,
    "finish_reason": 50,
    "parent_span_id": 128,
}


# (column, length to cut to or None), in STEP_COLUMNS order.
_STEP_CUTS = tuple((col, STEP_LENGTHS.get(col)) for col in STEP_COLUMNS)


def _step_row_values(step: StepData) -> dict[str, Any]:
    values = {}
    for col, length in _STEP_CUTS:
        v = getattr(step, col)
        if v is None:
            continue
        if isinstance(v, str):
            # What clean() looks for, tested here: most text needs nothing, and calling it for
            # every text column of every step cost more than the test.
            if not v.isascii() or "\x00" in v or len(v) > MAX_VALUE_CHARS:
                v = clean(v)
            if length is not None and len(v) > length:
                v = v[:length]
        values[col] = v
    if "cost_usd" in values:
        # Rounded as the column rounds it, so the running totals equal the sum of stored costs.
        values["cost_usd"] = _cents(values["cost_usd"])
    return values


def _cents(value: Any) -> Decimal:
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


COST_QUANTUM = Decimal("0.000001")


def _payload_values(step: StepData) -> dict[str, Any]:
    values = {c: clean(getattr(step, c)) for c in PAYLOAD_COLUMNS if getattr(step, c) is not None}
    if step.attributes:
        values["attributes"] = clean(step.attributes)
    if step.events:
        values["events"] = clean(step.events)
    return values


def json_text(value: Any) -> str:
    """`value` as JSON text, made storable as `clean` makes it.

    The common case is a value with nothing to clean, and walking every string of every payload
    costs more than serializing it: serialize first and clean only when the result shows a reason
    (orjson refuses lone surrogates and non-string keys, writes NUL as \\u0000, and a string over
    the limit makes the whole text longer than the limit).
    """
    try:
        data = orjson.dumps(value)
    except TypeError:
        data = None
    if data is None or len(data) > MAX_VALUE_CHARS or b"\\u0000" in data:
        cleaned = clean(value)
        try:
            data = orjson.dumps(cleaned, default=_json_default)
        except TypeError:  # integers beyond 64 bits
            return json.dumps(cleaned, default=str, ensure_ascii=False)
    return data.decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _merge_duplicates(invocations: list[InvocationData]) -> list[InvocationData]:
    """One entry per trace id: a parser may emit the same trace twice in one request."""
    merged: dict[str, InvocationData] = {}
    for inv in invocations:
        if not inv.trace_id:
            continue
        first = merged.get(inv.trace_id)
        if first is None:
            merged[inv.trace_id] = inv
            continue
        for f in fields(InvocationData):
            if f.name == "steps":
                first.steps.extend(inv.steps)
            elif f.name == "attributes" and inv.attributes:
                first.attributes = merge_attributes(first.attributes, inv.attributes)
            elif getattr(inv, f.name) not in (None, {}, []):
                setattr(first, f.name, getattr(inv, f.name))
    return list(merged.values())


def merge_attributes(old: dict | None, new: dict) -> dict:
    """Later keys win, except lists of records with ids (scores, say), which are joined by id."""
    out = dict(old or {})
    for key, value in new.items():
        before = out.get(key)
        if (
            isinstance(before, list)
            and isinstance(value, list)
            and _records_with_ids(before + value)
        ):
            joined = {item["id"]: item for item in before}
            joined.update((item["id"], item) for item in value)
            value = list(joined.values())
        out[key] = value
    return out


def _records_with_ids(items: list) -> bool:
    return bool(items) and all(
        isinstance(i, dict) and isinstance(i.get("id"), str | int) for i in items
    )


def merge_status(old: str | None, new: str) -> str:
    """A step that reported an error stays failed: a later partial update (an end time alone,
    say) must not turn it back into a success."""
    return "error" if old == "error" else new


def invocations_store(project: Project, invocations: list[InvocationData]) -> StoreResult:
    """Upsert invocations and their steps; commit; enqueue classification of complete ones."""
    invocations = _merge_duplicates(invocations)
    if not invocations:
        return StoreResult(0, 0, [])
    _ids_check(invocations)
    # Before anything is written or merged: what the rules remove is never stored.
    redactor = Redactor.for_project(project)
    if redactor.active:
        for inv in invocations:
            redact_invocation(redactor, inv)
    now = timezone.now()
    trace_ids = [clean(i.trace_id) for i in invocations]
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                stored = _store_new_spans(project, invocations, trace_ids, now)
            if stored is not None:
                return stored
        except (IntegrityError, _Purged):
            # Another request stored some of these spans between the check and the COPY, or the
            # purge took an invocation: merge under the locks.
            pass
        except OperationalError as exc:
            # Two requests sending the same spans in different orders can wait on each other's
            # COPY: the one the server picks retries under the locks.
            if getattr(exc.__cause__, "sqlstate", None) != "40P01":
                raise
    with transaction.atomic():
        agents = _agents_for(project, (i.agent for i in invocations))
        _create_invocations(project, trace_ids, now)
        rows = {
            inv.trace_id: inv
            for inv in Invocation.objects.select_for_update()
            .filter(project=project, trace_id__in=trace_ids)
            .order_by("id")
        }
        if len(rows) < len(set(trace_ids)):
            # The retention purge deleted an expired invocation between the insert above (which
            # saw it and did nothing) and the lock: store the new data as a new invocation. Its
            # last data is now, so no purge can take it again.
            missing = [t for t in trace_ids if t not in rows]
            _create_invocations(project, missing, now)
            rows.update(
                (inv.trace_id, inv)
                for inv in Invocation.objects.select_for_update()
                .filter(project=project, trace_id__in=missing)
                .order_by("id")
            )
        # Data for an invocation of a past month: keep the purge from dropping its partition now.
        old_months_share((row.created_at for row in rows.values()), now)
        step_total, deltas = _store_steps(
            [(rows[t], d.steps) for d, t in zip(invocations, trace_ids, strict=True)]
        )
        touched = _rows_merge(invocations, [rows[t] for t in trace_ids], agents, deltas, now)
        _write_invocations(touched)
        return _enqueued(touched, step_total)


class _Purged(Exception):
    """An invocation seen before the COPY was gone when its lock was taken."""


def _store_new_spans(
    project: Project, invocations: list[InvocationData], trace_ids: list[str], now
) -> StoreResult | None:
    """The common case on PostgreSQL, spans never seen before, with the invocation locks taken
    last: None (nothing written) when some span is stored already and needs the merge.

    Exporters split a trace between consecutive requests, which run side by side. Locking the
    trace first made each request wait for its neighbour's whole store to commit, so requests
    that shared a trace ran one after the other. Here the steps and payloads go in first, under
    invocation ids read without a lock or drawn from the sequence for new traces (the foreign
    keys are checked at commit); new invocations are then inserted once with their final values
    (an insert and an update of every index of the table before), and the rows that existed are
    locked and updated last, so a request waits for another only during that short end. A span
    stored meanwhile by another request fails the COPY on the unique (invocation, span) key and
    the caller retries under the locks; a trace another request created meanwhile is taken over
    by moving the new steps to it. Inserts come before row locks, as in the locked path, so two
    requests never wait for each other both ways.
    """
    # Only the ids and the partition key of the invocations that exist (no lock).
    found = {
        inv.trace_id: inv
        for inv in Invocation.objects.filter(project=project, trace_id__in=trace_ids)
        .only("id", "trace_id", "created_at")
    }
    # Data for an invocation of a past month: keep the purge from dropping its partition now.
    old_months_share((inv.created_at for inv in found.values()), now)
    if found and _existing_step_ids(
        {(found[t].id, clean(s.span_id), found[t].created_at)
         for d, t in zip(invocations, trace_ids, strict=True) if t in found for s in d.steps}
    ):
        return None
    missing = sorted(set(trace_ids) - found.keys())
    fresh = [Invocation(id=i, project=project, trace_id=t, created_at=now, last_data_at=now)
             for t, i in zip(missing, _sequence_ids(Invocation, len(missing)), strict=True)]
    keys = {**found, **{r.trace_id: r for r in fresh}}
    ids = {t: r.id for t, r in keys.items()}
    step_total, deltas = _store_steps(
        [(keys[t], d.steps) for d, t in zip(invocations, trace_ids, strict=True)], new_only=True
    )
    agents = _agents_for(project, (i.agent for i in invocations))
    data = dict(zip(trace_ids, invocations, strict=True))
    _rows_merge([data[r.trace_id] for r in fresh], fresh, agents, deltas, now)
    created = _insert_invocations(fresh)
    taken = [t for t in missing if t not in created]
    if taken:
        _steps_move(project, taken, ids, deltas)
    locked = [t for t in data if t in found or t in taken]
    rows = {
        inv.trace_id: inv
        for inv in Invocation.objects.select_for_update(no_key=True)
        .filter(id__in=[ids[t] for t in locked])
        .order_by("id")
    }
    if len(rows) < len(locked):
        raise _Purged()
    touched = _rows_merge([data[t] for t in locked], [rows[t] for t in locked], agents, deltas,
                          now)
    _write_invocations(touched)
    stored = {r.trace_id: r for r in fresh if r.trace_id in created}
    stored.update(rows)
    return _enqueued([stored[t] for t in data], step_total)


def _steps_move(project: Project, taken: list[str], ids: dict[str, int], deltas: dict) -> None:
    """Move the steps COPYed under a new trace's drawn id to the invocation another request
    created for the same trace meanwhile (a span both sent fails the unique key here)."""
    real = {
        t: (i, c) for t, i, c in Invocation.objects.filter(project=project, trace_id__in=taken)
        .values_list("trace_id", "id", "created_at")
    }
    if len(real) < len(taken):
        raise _Purged()
    old_months_share((c for _, c in real.values()), timezone.now())
    moves = [(ids[t], *real[t]) for t in taken]
    with connection.cursor() as cursor:
        # The partition key moves with the invocation (traceview.core.partitions).
        cursor.execute(
            f"WITH moved AS (UPDATE {Step._meta.db_table} AS s "
            "SET invocation_id = m.real, invocation_created_at = m.created "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS m(drawn, real, created) "
            "WHERE s.invocation_id = m.drawn RETURNING s.id, m.created) "
            f"UPDATE {StepPayload._meta.db_table} AS p SET invocation_created_at = moved.created "
            "FROM moved WHERE p.step_id = moved.id",
            [[m[0] for m in moves], [m[1] for m in moves], [m[2] for m in moves]],
        )
    for drawn, real_id, _ in moves:
        if drawn in deltas:
            deltas[real_id] = deltas.pop(drawn)
    ids.update((t, i) for t, (i, _) in real.items())


def _sequence_ids(model, count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [r[0] for r in cursor.fetchall()]


def _rows_merge(invocations: list[InvocationData], rows: list[Invocation], agents, deltas,
                now) -> list[Invocation]:
    """Merge what the request said into its invocation rows (locked, or new), add its totals,
    and settle status, times and whether classification is due."""
    for data, row in zip(invocations, rows, strict=True):
        _merge_invocation(row, data, agents)
        row.last_data_at = now
        row.data_version += 1
    _apply_totals(rows, deltas)
    _settle(rows)
    for row in rows:
        if row.completed_at is not None:
            row.enqueued_version = row.data_version
            row.enqueued_at = now
    return rows


def _enqueued(rows: list[Invocation], step_total: int) -> StoreResult:
    due = [row.id for row in rows if row.completed_at is not None]
    if due:
        transaction.on_commit(partial(enqueue_classification, due))
    return StoreResult(len(rows), step_total, [r.id for r in rows])


def _ids_check(invocations: list[InvocationData]) -> None:
    """Refuse ids longer than their columns. Each format refuses them where it can name the
    field; this is the net under all of them, because cutting an id would silently merge two
    traces or two spans that share their first MAX_ID characters."""
    problems = []
    for inv in invocations:
        if len(inv.trace_id) > MAX_ID:
            problems.append({"path": f"trace {inv.trace_id[:40]}…",
                             "reason": f"trace id longer than {MAX_ID} characters"})
        for step in inv.steps:
            for name in ("span_id", "parent_span_id"):
                if len(getattr(step, name) or "") > MAX_ID:
                    problems.append({"path": f"span {step.span_id[:40]}…",
                                     "reason": f"{name} longer than {MAX_ID} characters"})
    if problems:
        raise FormatError(problems[:100])


INVOCATION_WRITE_FIELDS = [
    "agent",
    "agent_version",
    "name",
    "status",
    "reported_status",
    "started_at",
    "ended_at",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "step_count",
    "tool_call_count",
    "error_count",
    "tool_error_count",
    "unpriced_calls",
    "session_id",
    "reported_usage",
    "input",
    "output",
    "attributes",
    "last_data_at",
    "completed_at",
    "data_version",
    "enqueued_version",
    "enqueued_at",
]


def _create_invocations(project: Project, trace_ids: list[str], now) -> None:
    """Insert the invocations not stored yet, in trace id order: two requests inserting the
    same new traces then wait for each other in the same order instead of deadlocking."""
    trace_ids = sorted(set(trace_ids))
    if connection.vendor != "postgresql":
        Invocation.objects.bulk_create(
            [
                Invocation(project=project, trace_id=t, created_at=now, last_data_at=now)
                for t in trace_ids
            ],
            ignore_conflicts=True,
        )
        return
    fields = [f for f in Invocation._meta.concrete_fields if not f.primary_key]
    template = {f.column: f.get_default() for f in fields}
    template.update(project_id=project.id, created_at=now, last_data_at=now)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Invocation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} "
            f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
            "ON CONFLICT (project_id, trace_id) DO NOTHING",
            [_rows_document([{**template, "trace_id": t} for t in trace_ids])],
        )


def _write_invocations(rows: list[Invocation]) -> None:
    """Write the merged invocations back.

    On PostgreSQL all rows go in one UPDATE from a JSON document: bulk_update's CASE WHEN
    statement, or one parameterized UPDATE per row, costs more to build in Python than the rows
    cost to write.
    """
    fields = [Invocation._meta.get_field(f) for f in INVOCATION_WRITE_FIELDS]
    qn = connection.ops.quote_name
    table = qn(Invocation._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(qn(f.column) for f in fields)
            document = _rows_document(
                [{"id": row.id, **{f.column: getattr(row, f.attname) for f in fields}}
                 for row in rows]
            )
            cursor.execute(
                f"UPDATE {table} AS t SET ({columns}) = "
                f"({', '.join('w.' + qn(f.column) for f in fields)}) "
                f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS w WHERE t.id = w.id",
                [document],
            )
            return
        sql = "UPDATE {} SET {} WHERE id = %s".format(
            table, ", ".join(f"{qn(f.column)} = %s" for f in fields)
        )
        cursor.executemany(sql, [
            [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.id]
            for row in rows
        ])


def _insert_invocations(rows: list[Invocation]) -> set[str]:
    """Insert new invocations with all their values, in trace id order (see _create_invocations);
    the trace ids of those inserted: another request may have created one meanwhile."""
    if not rows:
        return set()
    fields = Invocation._meta.concrete_fields
    qn = connection.ops.quote_name
    table = qn(Invocation._meta.db_table)
    columns = ", ".join(qn(f.column) for f in fields)
    document = _rows_document([
        {f.column: getattr(row, f.attname) for f in fields}
        for row in sorted(rows, key=lambda r: r.trace_id)
    ])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} "
            f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
            "ON CONFLICT (project_id, trace_id) DO NOTHING RETURNING trace_id",
            [document],
        )
        return {r[0] for r in cursor.fetchall()}


def _rows_document(rows: list[dict[str, Any]]) -> str:
    """Rows as one JSON array for jsonb_populate_recordset: column names as keys, exact decimals
    as strings, JSON columns as nested JSON (SQL NULL as null)."""
    try:
        return orjson.dumps(rows, default=_exact).decode()
    except TypeError:  # integers beyond 64 bits in a JSON column
        return json.dumps(rows, default=_exact, ensure_ascii=False)


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _merge_invocation(row: Invocation, data: InvocationData, agents: dict[str, Agent]) -> None:
    # Later requests of a multi-agent trace often carry only a sub-agent's spans, and exporters
    # send children before their parents: the agent named beside the root step (a step without a
    # parent) is the invocation's; any other only fills the gap until that arrives.
    carries_root = any(not s.parent_span_id for s in data.steps)
    if data.agent and (row.agent_id is None or carries_root):
        row.agent = agents.get(_agent_key(data.agent))
    for field, length in (("agent_version", 100), ("name", 500)):
        value = getattr(data, field)
        if value is not None:
            setattr(row, field, clean(value)[:length])
    if data.status is not None:
        row.reported_status = data.status
    for field in ("started_at", "ended_at"):
        if getattr(data, field) is not None:
            setattr(row, field, getattr(data, field))
    for field in ("input", "output"):
        if getattr(data, field) is not None:
            setattr(row, field, clean(getattr(data, field)))
    if data.attributes:
        row.attributes = merge_attributes(row.attributes, clean(data.attributes))
    if not row.session_id:
        session = session_of(row.attributes, [s.attributes for s in data.steps])
        if session:
            row.session_id = clean(session)[:200]
    usage = dict(row.reported_usage or {})
    for field in ("input_tokens", "output_tokens"):
        if getattr(data, field) is not None:
            usage[field] = getattr(data, field)
    if data.cost_usd is not None:
        usage["cost_usd"] = str(data.cost_usd)
    row.reported_usage = usage


# What one step adds to its invocation's totals, in this order.
TOTAL_FIELDS = (
    "step_count",
    "tool_call_count",
    "error_count",
    "tool_error_count",
    "unpriced_calls",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
# The counts among them; usage follows and may be replaced by run-level usage.
COUNT_FIELDS = TOTAL_FIELDS[:5]


def _contribution(kind, status, input_tokens, output_tokens, cost_usd) -> tuple:
    # Usage counts on LLM steps only: agent, chain and turn spans often repeat their children's
    # usage, and counting both would double the totals.
    llm = kind == "llm"
    return (
        1,
        int(kind == "tool"),
        int(status == "error"),
        int(kind == "tool" and status == "error"),
        # A model call that used tokens and has no cost: no price is known for its model.
        int(llm and bool(input_tokens or output_tokens) and cost_usd is None),
        (input_tokens or 0) if llm else 0,
        (output_tokens or 0) if llm else 0,
        (cost_usd or 0) if llm else 0,
    )


def _step_contribution(step: Step) -> tuple:
    return _contribution(
        step.kind, step.status, step.input_tokens, step.output_tokens, step.cost_usd
    )


def _add(total: list, contribution: tuple, sign: int = 1) -> None:
    for i, value in enumerate(contribution):
        total[i] += sign * value


def _store_steps(
    batches: list[tuple[Invocation, list[StepData]]], new_only: bool = False
) -> tuple[int, dict[int, list]]:
    """Insert new steps and merge into existing ones, for all invocations of a request at once
    (one read, one insert of steps, one of payloads), whatever the number of traces. With
    `new_only`, the caller has found none of the spans stored: nothing is read.

    Returns the number of steps and, per invocation id, what the request changed in its totals.
    """
    wanted: dict[tuple[int, str], tuple[Invocation, StepData]] = {}
    for row, steps in batches:
        for s in steps:
            # Within one request a later copy of a span wins, as it would across requests.
            wanted[(row.id, clean(s.span_id))] = (row, s)
    deltas: dict[int, list] = {}
    if not wanted:
        return 0, deltas
    existing = {} if new_only else {
        (s.invocation_id, s.span_id): s
        for s in _existing_steps(wanted).select_related("payload")
        if (s.invocation_id, s.span_id) in wanted
    }
    new: list[tuple[int, str, dict, dict]] = []
    changed_steps: dict[int, Step] = {}
    new_payloads: list[StepPayload] = []
    changed_payloads: dict[int, StepPayload] = {}
    changed_payload_fields: set[str] = set()
    changed_step_fields: set[str] = set()
    pricer = _Pricer()
    for key, (row, data) in wanted.items():
        values = _step_row_values(data)
        current = existing.get(key)
        total = deltas.setdefault(row.id, [0] * len(TOTAL_FIELDS))
        if current is None:
            values.setdefault("kind", "other")
            values.setdefault("status", "ok" if values.get("ended_at") else "running")
            if "cost_usd" not in values and values["kind"] == "llm":
                cost = pricer.cost(values, data.attributes)
                if cost is not None:
                    values["cost_usd"] = cost
            # The partition key (traceview.core.partitions): the invocation's, never the sender's.
            values["invocation_created_at"] = row.created_at
            new.append((row.id, key[1], values, data))
            _add(total, _contribution(values["kind"], values["status"],
                                      values.get("input_tokens"), values.get("output_tokens"),
                                      values.get("cost_usd")))
            continue
        before = _step_contribution(current)
        if "status" in values:
            values["status"] = merge_status(current.status, values["status"])
        if "cost_usd" not in values and current.kind == "llm" and (
            values.keys() & {"kind", "model", "input_tokens", "output_tokens"}
        ):
            # The usage changed and no cost came with it: price the merged step. (A cost the
            # sender sent earlier is replaced too; senders that send cost send it with usage.)
            merged = {c: getattr(current, c) for c in ("model", "input_tokens", "output_tokens",
                                                      "started_at")}
            merged.update(values)
            try:
                attributes = {**(current.payload.attributes or {}), **(data.attributes or {})}
            except StepPayload.DoesNotExist:
                attributes = data.attributes
            cost = pricer.cost(merged, attributes)
            if cost is not None:
                values["cost_usd"] = cost
        for k, v in values.items():
            if getattr(current, k) != v:
                setattr(current, k, v)
                changed_step_fields.add(k)
                changed_steps[current.id] = current
        _add(total, _step_contribution(current))
        _add(total, before, -1)
        payload = _payload_values(data)
        if payload:
            try:
                p = current.payload
            except StepPayload.DoesNotExist:
                p = StepPayload(step=current)
                new_payloads.append(p)
            if "events" in payload:
                # Events add up across requests, and the messages that events carry (GenAI
                # log events, sent apart from their span) are the step's input and output.
                payload["events"] = events_join(p.events, payload["events"])
                payload.update(messages_from_events(payload["events"]))
            for k, v in payload.items():
                if k == "attributes":
                    v = merge_attributes(p.attributes, v)
                if getattr(p, k) != v:
                    setattr(p, k, v)
                    changed_payload_fields.add(k)
                    changed_payloads[p.pk] = p
    if new:
        if connection.vendor == "postgresql":
            _copy_new_steps(new)
        else:
            _create_new_steps(new)
    if changed_steps:
        Step.objects.bulk_update(list(changed_steps.values()), sorted(changed_step_fields))
    # A retried or re-sent span changes nothing: no write at all. Payloads first seen now are
    # inserted together, the others updated together on the fields that changed.
    if new_payloads:
        StepPayload.objects.bulk_create(new_payloads)
    created = {p.pk for p in new_payloads}
    updated = [p for pk, p in changed_payloads.items() if pk not in created]
    if updated:
        StepPayload.objects.bulk_update(updated, sorted(changed_payload_fields))
    return len(wanted), deltas


class _Pricer:
    """Prices model calls that came without a cost (agents.pricing), reading the price table
    at most once per request and only if some call needs it.

    The cost is computed here, on the step as merged, and stored in the step's cost column, not
    added at classification: the running totals then stay the sum of stored step costs, whatever
    the order and number of retries, because a re-sent span prices to the same value and adds
    nothing, and a span whose usage changes contributes the difference like any other column."""

    def __init__(self):
        self.prices = None
        # A request's calls mostly share a few models and one day: match patterns once each.
        self.matched: dict[tuple, Any] = {}

    def cost(self, values: dict, attributes: dict | None) -> Decimal | None:
        if not values.get("model") or (
            values.get("input_tokens") is None and values.get("output_tokens") is None
        ):
            return None
        if self.prices is None:
            self.prices = prices_load()
        started = values.get("started_at")
        key = (values["model"], started.date() if started else None)
        if key not in self.matched:
            self.matched[key] = price_for(self.prices, *key)
        price = self.matched[key]
        if price is None:
            return None
        cached, reasoning = usage_details(attributes)
        cost = step_cost(price, values.get("input_tokens"), values.get("output_tokens"),
                         cached, reasoning)
        # A price row an administrator mistyped must not make a step unstorable.
        return _cents(min(cost, MAX_COST_USD))


def _existing_steps(wanted: dict[tuple[int, str], Any]):
    """The stored steps among `wanted`'s (invocation id, span id) keys.

    On PostgreSQL the keys travel as one JSON document: a list of hundreds of span ids as
    separate parameters costs more to quote and parse than the lookup itself, and most requests
    find nothing, so the full rows are read only for what matched.
    """
    if connection.vendor != "postgresql":
        return Step.objects.filter(
            invocation_id__in={k[0] for k in wanted}, span_id__in={k[1] for k in wanted}
        )
    ids = _existing_step_ids((i, s, row.created_at) for (i, s), (row, _) in wanted.items())
    return Step.objects.filter(id__in=ids) if ids else Step.objects.none()


def _existing_step_ids(keys) -> list[int]:
    """The ids of the stored steps among (invocation id, span id, invocation created at) `keys`
    (PostgreSQL). With the invocation's creation time, each lookup reads its one partition, not
    all of them (traceview.core.partitions)."""
    document = orjson.dumps([{"i": i, "s": s, "c": c} for i, s, c in keys]).decode()
    if document == "[]":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id FROM jsonb_to_recordset(%s::jsonb) AS w(i bigint, s text, "
            f"c timestamptz) JOIN {Step._meta.db_table} s ON s.invocation_id = w.i "
            "AND s.span_id = w.s AND s.invocation_created_at = w.c",
            [document],
        )
        return [r[0] for r in cursor.fetchall()]


def _create_new_steps(new: list[tuple[int, str, dict, StepData]]) -> None:
    steps = [Step(invocation_id=inv_id, span_id=span_id, **values)
             for inv_id, span_id, values, _ in new]
    Step.objects.bulk_create(steps, batch_size=2000)
    StepPayload.objects.bulk_create(
        [StepPayload(step=s, **_payload_values(data))
         for s, (_, _, _, data) in zip(steps, new, strict=True)],
        batch_size=2000,
    )


STEP_COPY_COLUMNS = ("id", "invocation_id", "span_id", *STEP_COLUMNS, "invocation_created_at")
PAYLOAD_COPY_COLUMNS = ("step_id", *PAYLOAD_COLUMNS, "attributes", "events")
PAYLOAD_JSON = {"tool_arguments", "tool_result", "input", "output", "attributes", "events"}


def _copy_new_steps(new: list[tuple[int, str, dict, StepData]]) -> None:
    """COPY the new steps and their payloads, with ids taken from the sequence beforehand so the
    payload rows can name their step without reading anything back."""
    step_defaults = {c: Step._meta.get_field(c).get_default() for c in STEP_COPY_COLUMNS[3:]}
    # The row of a step's values over the defaults, gathered in C rather than a lookup or two
    # per column in Python.
    step_row = itemgetter(*STEP_COPY_COLUMNS[3:])
    payload_defaults = {
        c: json_text(d) if c in PAYLOAD_JSON and d is not None else d
        for c in PAYLOAD_COPY_COLUMNS[1:]
        for d in [StepPayload._meta.get_field(c).get_default()]
    }
    step_table = Step._meta.db_table
    # psycopg's copy() is not wrapped by Django's cursor: without this, a connection lost during
    # the COPY raises psycopg's own OperationalError, which no handler maps to a 503.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        ids = _sequence_ids(Step, len(new))
        _copy_rows(
            cursor, f"COPY {step_table} ({', '.join(STEP_COPY_COLUMNS)}) FROM STDIN",
            ((step_id, inv_id, span_id, *step_row({**step_defaults, **values}))
             for step_id, (inv_id, span_id, values, _) in zip(ids, new, strict=True)),
        )
        _copy_rows(
            cursor,
            f"COPY {StepPayload._meta.db_table} ({', '.join(PAYLOAD_COPY_COLUMNS)}, "
            "invocation_created_at) FROM STDIN",
            ((step_id, *_payload_row(data, payload_defaults), values["invocation_created_at"])
             for step_id, (_, _, values, data) in zip(ids, new, strict=True)),
        )


def _copy_rows(cursor, sql: str, rows: Iterable[tuple]) -> None:
    written = False
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
            written = True
    except ValueError as exc:
        if not written:
            raise
        # Behind PgBouncer, a server connection lost while the COPY ends comes back as an error
        # and a second result, which psycopg's copy_end does not expect: it is the same lost
        # connection (a 503 and a retry), not bad data.
        raise psycopg.OperationalError(f"the connection was lost ending a COPY ({exc})") from exc


# (column, JSON or text, whether an empty value stands for the default), in COPY order.
_PAYLOAD_KINDS = tuple((col, col in PAYLOAD_JSON, col in ("attributes", "events"))
                       for col in PAYLOAD_COPY_COLUMNS[1:])


def _payload_row(step: StepData, defaults: dict[str, Any]) -> list:
    row = []
    for col, is_json, empty_is_default in _PAYLOAD_KINDS:
        value = getattr(step, col)
        if value is None or (empty_is_default and not value):
            row.append(defaults[col])
        elif is_json:
            row.append(json_text(value))
        else:
            row.append(clean(value))
    return row


def _apply_totals(rows: list[Invocation], deltas: dict[int, list]) -> None:
    """Add each request's changes to the running totals. Where the sender reported run-level
    usage, the stored sums decide whether that usage stands in, so those are summed again."""
    for row in rows:
        delta = deltas.get(row.id)
        if delta:
            for field, value in zip(COUNT_FIELDS, delta, strict=False):
                setattr(row, field, getattr(row, field) + value)
    reported = [r for r in rows if r.reported_usage]
    incremental = [r for r in rows if not r.reported_usage]
    for row in incremental:
        delta = deltas.get(row.id)
        if delta:
            input_tokens, output_tokens, cost = delta[len(COUNT_FIELDS):]
            row.input_tokens += input_tokens
            row.output_tokens += output_tokens
            row.cost_usd = Decimal(row.cost_usd) + cost
    if reported:
        _reported_totals(reported)
    _hold_in_columns(rows)


def _reported_totals(reported: list[Invocation]) -> None:
    llm = Q(kind="llm")
    sums = {
        s["invocation_id"]: s
        for s in Step.objects.filter(invocation_id__in=[r.id for r in reported])
        .values("invocation_id")
        .annotate(
            in_tok=Sum("input_tokens", filter=llm),
            out_tok=Sum("output_tokens", filter=llm),
            cost=Sum("cost_usd", filter=llm),
            model=Max("model", filter=llm),
        )
    }
    pricer = _Pricer()
    for row in reported:
        s = sums.get(row.id, {})
        usage = row.reported_usage
        row.input_tokens = s.get("in_tok") or usage.get("input_tokens") or 0
        row.output_tokens = s.get("out_tok") or usage.get("output_tokens") or 0
        row.cost_usd = s.get("cost") or usage.get("cost_usd") or 0
        if not s.get("cost") and usage.get("cost_usd") is not None:
            # The sender's own run cost covers the calls it did not price one by one.
            row.unpriced_calls = 0
        elif not row.cost_usd and (row.input_tokens or row.output_tokens):
            # Run-level tokens without a cost (a trajectory's model stats): priced as calls of
            # the model its steps name, at the run's date; with no price, the cost is unknown.
            cost = pricer.cost({
                "model": s["model"], "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens, "started_at": row.started_at,
            }, None) if s.get("model") else None
            row.cost_usd = cost or 0
            row.unpriced_calls = 0 if cost is not None else max(row.unpriced_calls, 1)


# The largest values the invocation's total columns hold (bigint; numeric(14, 6)).
MAX_TOTAL_TOKENS = 2**63 - 1
MAX_TOTAL_COST = Decimal("99999999.999999")


def _hold_in_columns(rows: list[Invocation]) -> None:
    """Hold totals at their columns' largest values. Each step's usage is bounded at the wire
    (MAX_TOKENS, MAX_COST_USD), but an invocation may gather any number of steps over many
    requests, and a total that overflows its column would fail every later request for it."""
    for row in rows:
        row.input_tokens = min(max(row.input_tokens, 0), MAX_TOTAL_TOKENS)
        row.output_tokens = min(max(row.output_tokens, 0), MAX_TOTAL_TOKENS)
        row.cost_usd = min(max(Decimal(row.cost_usd), Decimal(0)), MAX_TOTAL_COST)


def _settle(rows: list[Invocation]) -> None:
    """Name, status, times and completion from what the sender said, else the root step's.

    The root is read only for invocations that still need something from it, and the span of
    all steps only for those that have neither their own times nor a root's.
    """
    needs_root = [
        r.id for r in rows
        if not r.name or not r.reported_status or r.started_at is None or r.ended_at is None
    ]
    roots = {}
    if needs_root:
        for r in (
            Step.objects.filter(invocation_id__in=needs_root, parent_span_id="")
            .order_by("started_at", "seq")
            .values("invocation_id", "status", "started_at", "ended_at", "name")
        ):
            roots.setdefault(r["invocation_id"], r)
    for row in rows:
        root = roots.get(row.id)
        if root and not row.name:
            row.name = (root["name"] or "")[:500]
        if row.reported_status:
            row.status = row.reported_status
        elif root and root["status"] != "running" and root["ended_at"]:
            row.status = root["status"]
        else:
            row.status = "running"
    # Times: what the sender said, else the root step's, else the span of all steps.
    for row in rows:
        root = roots.get(row.id) or {}
        if row.started_at is None and root.get("started_at"):
            row.started_at = root["started_at"]
        if row.ended_at is None and row.status != "running" and root.get("ended_at"):
            row.ended_at = root["ended_at"]
    spans_needed = [
        r.id for r in rows
        if r.started_at is None or (r.ended_at is None and r.status != "running")
    ]
    if spans_needed:
        spans = {
            s["invocation_id"]: s
            for s in Step.objects.filter(invocation_id__in=spans_needed)
            .values("invocation_id")
            .annotate(first=Min("started_at"), last=Max("ended_at"))
        }
        for row in rows:
            s = spans.get(row.id, {})
            if row.started_at is None:
                row.started_at = s.get("first")
            if row.ended_at is None and row.status != "running":
                row.ended_at = s.get("last")
    for row in rows:
        if row.status != "running" and row.completed_at is None:
            row.completed_at = timezone.now()
        elif row.status == "running":
            row.completed_at = None


def enqueue_classification(invocation_ids: list[int]) -> None:
    """Publish the classification of a request's complete invocations. Runs after commit; a broker
    outage must not fail the request.

    One message per request, not per invocation: publishing costs about a millisecond of CPU in
    the web process, as much as storing the invocation's steps.
    """
    from traceview.classify.tasks import classify_invocations

    try:
        classify_invocations.delay(invocation_ids)
    except Exception:  # noqa: BLE001 - any broker failure: the sweep will enqueue them later
        log.warning("could not enqueue classification of invocations %s", invocation_ids,
                    exc_info=True)
        Invocation.objects.filter(id__in=invocation_ids).update(enqueued_version=0)
