"""Write canonical invocations into rows: idempotent upserts, totals, and enqueueing.

`invocations_store(project, invocations)` is the one way data gets in, whatever the wire format.
It runs in one transaction, so a request is committed whole or not at all, and it locks the
invocation rows it touches (in id order, so two requests never deadlock), which makes the
read-merge-write of steps safe when retries and split batches race each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone

from traceview.models import Agent, Invocation, Project, Step, StepPayload
from traceview.trace import InvocationData, StepData

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
)
PAYLOAD_COLUMNS = ("tool_arguments", "tool_result", "input", "output", "error_traceback")
TRUNCATED = "…[truncated by TraceView: {} characters]"
MAX_TEXT = 1024 * 1024


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
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        if len(value) > MAX_TEXT:
            value = value[:MAX_TEXT] + TRUNCATED.format(len(value))
        return value
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def _agents_for(project: Project, names: Iterable[str]) -> dict[str, Agent]:
    names = {n for n in names if n}
    if not names:
        return {}
    Agent.objects.bulk_create(
        [Agent(project=project, name=n) for n in names], ignore_conflicts=True
    )
    return {a.name: a for a in Agent.objects.filter(project=project, name__in=names)}


def _step_row_values(step: StepData) -> dict[str, Any]:
    values = {}
    for col in STEP_COLUMNS:
        v = getattr(step, col)
        if v is not None:
            values[col] = clean(v) if isinstance(v, str) else v
    for col, length in (
        ("name", 500),
        ("error_type", 200),
        ("model", 200),
        ("tool_name", 200),
        ("tool_call_id", 200),
        ("agent_name", 200),
        ("finish_reason", 50),
        ("parent_span_id", 128),
    ):
        if col in values:
            values[col] = values[col][:length]
    return values


def _payload_values(step: StepData) -> dict[str, Any]:
    values = {c: clean(getattr(step, c)) for c in PAYLOAD_COLUMNS if getattr(step, c) is not None}
    if step.attributes:
        values["attributes"] = clean(step.attributes)
    if step.events:
        values["events"] = clean(step.events)
    return values


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
    now = timezone.now()
    with transaction.atomic():
        agents = _agents_for(project, (i.agent for i in invocations))
        trace_ids = [clean(i.trace_id)[:128] for i in invocations]
        Invocation.objects.bulk_create(
            [
                Invocation(project=project, trace_id=t, created_at=now, last_data_at=now)
                for t in trace_ids
            ],
            ignore_conflicts=True,
        )
        rows = {
            inv.trace_id: inv
            for inv in Invocation.objects.select_for_update()
            .filter(project=project, trace_id__in=trace_ids)
            .order_by("id")
        }
        touched: list[Invocation] = []
        for data, trace_id in zip(invocations, trace_ids, strict=True):
            row = rows[trace_id]
            _merge_invocation(row, data, agents)
            row.last_data_at = now
            row.data_version += 1
            touched.append(row)
        step_total = _store_steps(
            [(rows[t], d.steps) for d, t in zip(invocations, trace_ids, strict=True)]
        )
        _recompute(touched)
        Invocation.objects.bulk_update(touched, INVOCATION_WRITE_FIELDS)
        due = [row.id for row in touched if row.completed_at is not None]
        if due:
            Invocation.objects.filter(id__in=due).update(
                enqueued_version=F("data_version"), enqueued_at=now
            )
            transaction.on_commit(partial(enqueue_classification, due))
    return StoreResult(len(touched), step_total, [r.id for r in touched])


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
    "reported_usage",
    "input",
    "output",
    "attributes",
    "last_data_at",
    "completed_at",
    "data_version",
]


def _merge_invocation(row: Invocation, data: InvocationData, agents: dict[str, Agent]) -> None:
    # The first agent named keeps the invocation: later requests of a multi-agent trace often
    # carry only a sub-agent's spans.
    if data.agent and row.agent_id is None:
        row.agent = agents.get(data.agent)
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
    usage = dict(row.reported_usage or {})
    for field in ("input_tokens", "output_tokens"):
        if getattr(data, field) is not None:
            usage[field] = getattr(data, field)
    if data.cost_usd is not None:
        usage["cost_usd"] = str(data.cost_usd)
    row.reported_usage = usage


def _store_steps(batches: list[tuple[Invocation, list[StepData]]]) -> int:
    """Insert new steps and merge into existing ones, for all invocations of a request at once
    (one read, one insert of steps, one of payloads), whatever the number of traces."""
    wanted: dict[tuple[int, str], tuple[Invocation, StepData]] = {}
    for row, steps in batches:
        for s in steps:
            # Within one request a later copy of a span wins, as it would across requests.
            wanted[(row.id, clean(s.span_id)[:128])] = (row, s)
    if not wanted:
        return 0
    existing = {
        (s.invocation_id, s.span_id): s
        for s in Step.objects.filter(
            invocation_id__in={k[0] for k in wanted}, span_id__in={k[1] for k in wanted}
        ).select_related("payload")
        if (s.invocation_id, s.span_id) in wanted
    }
    new_steps, new_payloads = [], []
    changed_steps: dict[int, Step] = {}
    changed_payloads: list[StepPayload] = []
    changed_step_fields: set[str] = set()
    for key, (row, data) in wanted.items():
        values = _step_row_values(data)
        payload = _payload_values(data)
        current = existing.get(key)
        if current is None:
            values.setdefault("kind", "other")
            values.setdefault("status", "ok" if values.get("ended_at") else "running")
            new_steps.append(Step(invocation=row, span_id=key[1], **values))
            new_payloads.append(payload)
            continue
        if "status" in values:
            values["status"] = merge_status(current.status, values["status"])
        for k, v in values.items():
            if getattr(current, k) != v:
                setattr(current, k, v)
                changed_step_fields.add(k)
                changed_steps[current.id] = current
        if payload:
            try:
                p = current.payload
            except StepPayload.DoesNotExist:
                p = StepPayload(step=current)
            for k, v in payload.items():
                if k == "attributes":
                    v = merge_attributes(p.attributes, v)
                setattr(p, k, v)
            changed_payloads.append(p)
    if new_steps:
        Step.objects.bulk_create(new_steps, batch_size=2000)
        StepPayload.objects.bulk_create(
            [StepPayload(step=s, **p) for s, p in zip(new_steps, new_payloads, strict=True)],
            batch_size=2000,
        )
    if changed_steps:
        Step.objects.bulk_update(list(changed_steps.values()), sorted(changed_step_fields))
    for p in changed_payloads:
        p.save()
    return len(wanted)


def _recompute(rows: list[Invocation]) -> None:
    """Totals, status and completion from the steps now stored.

    Usage is summed over LLM steps only: agent, chain and turn spans often repeat their
    children's usage, and counting both would double the totals.
    """
    ids = [r.id for r in rows]
    llm = Q(kind="llm")
    stats = {
        s["invocation_id"]: s
        for s in Step.objects.filter(invocation_id__in=ids)
        .values("invocation_id")
        .annotate(
            n=Count("id"),
            tools=Count("id", filter=Q(kind="tool")),
            errors=Count("id", filter=Q(status="error")),
            in_tok=Sum("input_tokens", filter=llm),
            out_tok=Sum("output_tokens", filter=llm),
            cost=Sum("cost_usd", filter=llm),
            first=Min("started_at"),
            last=Max("ended_at"),
        )
    }
    roots = {}
    for r in (
        Step.objects.filter(invocation_id__in=ids, parent_span_id="")
        .order_by("started_at", "seq")
        .values("invocation_id", "status", "started_at", "ended_at", "name", "agent_name")
    ):
        roots.setdefault(r["invocation_id"], r)
    for row in rows:
        s = stats.get(row.id, {})
        usage = row.reported_usage or {}
        row.step_count = s.get("n", 0)
        row.tool_call_count = s.get("tools", 0)
        row.error_count = s.get("errors", 0)
        row.input_tokens = s.get("in_tok") or usage.get("input_tokens") or 0
        row.output_tokens = s.get("out_tok") or usage.get("output_tokens") or 0
        row.cost_usd = s.get("cost") or usage.get("cost_usd") or 0
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
        if row.started_at is None:
            row.started_at = (root or {}).get("started_at") or s.get("first")
        if row.ended_at is None and row.status != "running":
            row.ended_at = (root or {}).get("ended_at") or s.get("last")
        if row.status != "running" and row.completed_at is None:
            row.completed_at = timezone.now()
        elif row.status == "running":
            row.completed_at = None


def enqueue_classification(invocation_ids: list[int]) -> None:
    """Publish classify tasks. Runs after commit; a broker outage must not fail the request."""
    from traceview.tasks import classify_invocation

    for inv_id in invocation_ids:
        try:
            classify_invocation.delay(inv_id)
        except Exception:  # noqa: BLE001 - any broker failure: the sweep will enqueue it later
            log.warning("could not enqueue classification of invocation %s", inv_id, exc_info=True)
            Invocation.objects.filter(id=inv_id).update(enqueued_version=0)
