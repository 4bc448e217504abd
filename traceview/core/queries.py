"""Reads shared by the pages and the classifier: the user's projects and their members, step
trees, canonical loads, and the keyset and cursor pieces every paginated list uses."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

import orjson
from django.contrib.auth import get_user_model
from django.db.models import (
    FilteredRelation,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast

from traceview.core.models import Invocation, Project, Step
from traceview.core.trace import InvocationData, StepData

STEP_LIST_FIELDS = (
    "id", "span_id", "parent_span_id", "kind", "name", "started_at", "ended_at", "status",
    "error_type", "error_message", "model", "input_tokens", "output_tokens", "cost_usd",
    "finish_reason", "tool_name", "agent_name", "seq",
)


def cursor_pack(values: list) -> str:
    """A page cursor: JSON values in URL-safe base64, opaque to the user and short in a URL."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def cursor_unpack(cursor: str | None) -> list | None:
    """The values of a cursor, or None when it does not parse (the caller shows page one)."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return None
    return values if isinstance(values, list) else None


def step_list(invocation: Invocation) -> QuerySet[Step]:
    """The light columns of an invocation's steps, in the order they happened."""
    return invocation.steps.only(*STEP_LIST_FIELDS).order_by("started_at", "seq", "id")


def step_tree(steps: list[Step]) -> list[tuple[Step, int]]:
    """Steps in depth-first order with their nesting level; orphans (parent never arrived) are
    shown at the top level rather than hidden."""
    by_span = {s.span_id: s for s in steps}
    children: dict[str, list[Step]] = {}
    roots = []
    for s in steps:
        if s.parent_span_id and s.parent_span_id in by_span and s.parent_span_id != s.span_id:
            children.setdefault(s.parent_span_id, []).append(s)
        else:
            roots.append(s)
    out: list[tuple[Step, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(roots)]
    while stack:
        step, level = stack.pop()
        if step.span_id in seen:
            continue
        seen.add(step.span_id)
        out.append((step, level))
        for child in reversed(children.get(step.span_id, [])):
            stack.append((child, level + 1))
    # A parent cycle leaves steps unreachable from any root; list them rather than drop them.
    out.extend((s, 0) for s in steps if s.span_id not in seen)
    return out


def agent_depth(steps: list[StepData]) -> int:
    """How deeply agents are nested: 1 for a single agent, 2 when it calls a sub-agent, ..."""
    by_span = {s.span_id: s for s in steps}
    best = 0
    for s in steps:
        if s.kind != "agent":
            continue
        depth, cur, hops = 0, s, 0
        while cur is not None and hops < 10_000:
            if cur.kind == "agent":
                depth += 1
            cur = by_span.get(cur.parent_span_id) if cur.parent_span_id else None
            hops += 1
        best = max(best, depth)
    return best or (1 if steps else 0)


_CANONICAL_STEP_FIELDS = (
    "span_id", "parent_span_id", "kind", "name", "status", "error_type", "error_message", "model",
    "input_tokens", "output_tokens", "cost_usd", "finish_reason", "tool_name", "tool_call_id",
    "agent_name", "seq",
)
_CANONICAL_TIME_FIELDS = ("started_at", "ended_at")
_CANONICAL_JSON_FIELDS = ("tool_arguments", "tool_result", "input", "output", "attributes",
                          "events")


def _json(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # What orjson refuses and the column can still hold (integers beyond 64 bits).
        return json.loads(text)


def _time(text: str | None) -> datetime | None:
    # PostgreSQL writes ISO 8601 with the session's zone, UTC (psycopg reads timestamps only in
    # the ISO DateStyle anyway); SQLite keeps UTC without a zone.
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
# Columns stored as "" for "not sent", which the canonical trace spells None.
_BLANK_IS_NONE = {
    "parent_span_id", "error_type", "error_message", "model", "finish_reason", "tool_name",
    "tool_call_id", "agent_name", "error_traceback",
}


def invocation_canonical(invocation: Invocation) -> InvocationData:
    """Load an invocation with every step and payload as the classifier reads it."""
    return invocations_canonical([invocation])[invocation.id]


def keyset_after(qs: QuerySet, field: str, value, last_id: int, descending: bool) -> QuerySet:
    """The rows after (value, last_id) in (field, id) order, descending or ascending: the
    keyset step of a paginated list."""
    op = "lt" if descending else "gt"
    # The redundant `<=` (or `>=`) gives the planner a plain range on the index; the OR alone
    # would not be an index condition.
    return qs.filter(**{f"{field}__{op}e": value}).filter(
        Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": last_id})
    )


def invocations_canonical(invocations: list[Invocation]) -> dict[int, InvocationData]:
    """Load invocations (with their agents) and every step and payload of theirs as the
    classifier reads them: one query for all, plain rows (the worker does this for every
    invocation, so no model instances)."""
    datas = {}
    for invocation in invocations:
        datas[invocation.id] = InvocationData(
            trace_id=invocation.trace_id,
            agent=invocation.agent.name if invocation.agent else None,
            agent_version=invocation.agent_version or None,
            name=invocation.name or None,
            status=invocation.status,
            started_at=invocation.started_at,
            ended_at=invocation.ended_at,
            input=invocation.input,
            output=invocation.output,
            attributes=invocation.attributes or {},
            input_tokens=invocation.input_tokens,
            output_tokens=invocation.output_tokens,
            cost_usd=invocation.cost_usd,
            budgets=invocation.agent.budgets() if invocation.agent else {},
        )
    if not datas:
        return datas
    # The JSON payloads come back as their text and are decoded here with orjson: the
    # JSONField's json.loads was most of the time this load takes, and the worker loads every
    # step of every invocation it classifies. The timestamps come back as text too, for
    # datetime.fromisoformat: the loader Django installs for them parses in Python, and was
    # two fifths of what was left.
    #
    # Steps and payloads are partitioned by their invocation's created_at on PostgreSQL
    # (core.partitions): naming the keys prunes the other periods' partitions from the plan, for
    # the steps and for the payloads joined to them (the join's condition carries the keys too).
    # Without them every partition was probed, and with a year of them the planner read every
    # payload row to hash-join a batch's.
    keys = list({invocation.created_at for invocation in invocations})
    payload = FilteredRelation("payload", condition=Q(payload__invocation_created_at__in=keys))
    as_text = {f"_{f}": Cast(f"keyed_payload__{f}", TextField()) for f in _CANONICAL_JSON_FIELDS}
    as_text |= {f"_{f}": Cast(f, TextField()) for f in _CANONICAL_TIME_FIELDS}
    rows = (
        Step.objects.filter(invocation_id__in=list(datas), invocation_created_at__in=keys)
        .annotate(keyed_payload=payload)
        .order_by("invocation_id", "started_at", "seq", "id")
        .annotate(**as_text)
        .values_list("invocation_id", *_CANONICAL_STEP_FIELDS, "keyed_payload__error_traceback",
                     *as_text)
    )
    names = (_CANONICAL_STEP_FIELDS + ("error_traceback",) + _CANONICAL_JSON_FIELDS
             + _CANONICAL_TIME_FIELDS)
    for invocation_id, *row in rows:
        values = dict(zip(names, row, strict=True))
        for key in _CANONICAL_JSON_FIELDS:
            if values[key] is not None:
                values[key] = _json(values[key])
        for key in _CANONICAL_TIME_FIELDS:
            values[key] = _time(values[key])
        for key in _BLANK_IS_NONE:
            if not values[key]:
                values[key] = None
        values["attributes"] = values["attributes"] or {}
        values["events"] = values["events"] or []
        datas[invocation_id].steps.append(StepData(**values))
    return datas


def project_members(projects) -> QuerySet:
    """The users of any of `projects` (rows or ids), by user name: the people an issue can be
    assigned to, or an agent owned by."""
    return (
        get_user_model().objects.filter(projects__in=projects).distinct().order_by("username")
    )


def projects_for_user(user) -> QuerySet[Project]:
    """The projects a user may see: those they are a member of, and every project for a
    superuser (who can make themselves a member in /admin/ anyway; a project created by
    `create_api_key` should not 404 for them until they do)."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return user.projects.all()
