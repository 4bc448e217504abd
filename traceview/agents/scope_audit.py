"""Scope violations in the database: writing an invocation's rows, re-auditing an agent's recent
invocations when its scope changes, and the reads the pages make.

The rules are pure (traceview.agents.scope). Rows are written in two places, through one function
(`scope_violations_write`):

* at classification (traceview.classify.diagnosis.invocation_classify), inside the transaction whose
  conditional UPDATE records the invocation's `scope_violation_count`;
* by `agent_scope_reaudit`, the task run after a scope change, 500 invocations at a time.

An invocation's `scope_violation_count` always equals its number of rows: both writers replace
the rows and set the count in one transaction, and each guards against the other. The re-audit
locks the invocation rows before it reads their counts; the classifier's UPDATE applies only if
the count it read is still the count (else the invocation stays due and the sweep classifies it
again).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from traceview.agents.models import ScopeViolation
from traceview.agents.scope import Violation, scope_audit, scope_patterns
from traceview.core.models import Agent, Invocation, Project, Step
from traceview.core.queries import keyset_after
from traceview.core.trace import StepData

log = logging.getLogger(__name__)

# Invocations re-audited per transaction: one query reads all their steps.
SCOPE_AUDIT_CHUNK = 500


def scope_violation_rows(
    invocation: Invocation, violations: list[Violation]
) -> list[ScopeViolation]:
    """Unsaved rows for an invocation's violations. A call without a start time is dated when
    the invocation arrived, so the page can still order it."""
    now = timezone.now()
    return [
        ScopeViolation(
            project_id=invocation.project_id,
            invocation_id=invocation.id,
            agent_id=invocation.agent_id,
            span_id=v.span_id[:128],
            tool_name=v.tool_name[:200],
            kind=v.kind,
            occurred_at=v.occurred_at or invocation.created_at,
            detected_at=now,
        )
        for v in violations
    ]


def scope_violations_write(replaced: Iterable[int], rows: list[ScopeViolation]) -> None:
    """Replace the rows of the invocations in `replaced` (those that had some) with `rows`.
    Call it inside the transaction that sets the invocations' counts."""
    replaced = list(replaced)
    if replaced:
        ScopeViolation.objects.filter(invocation_id__in=replaced).delete()
    if rows:
        ScopeViolation.objects.bulk_create(rows, ignore_conflicts=True)


# ---------------------------------------------------------------------------------------------
# Re-audit after a scope change


def agent_scope(agent: Agent) -> tuple[list[str], list[str]]:
    return scope_patterns(agent.allowed_tools), scope_patterns(agent.confirm_tools)


def agent_scope_reaudit(agent_id: int, days: int | None = None) -> int:
    """Audit the agent's invocations of the last `days` days (TRACEVIEW_SCOPE_REAUDIT_DAYS)
    against its scope as it is now; returns how many were audited.

    Newest first, by keyset over the (agent, -created_at, -id) index, SCOPE_AUDIT_CHUNK at a
    time. Invocations never classified are left to their classification, which audits them.
    Safe to run twice. If the scope changes while it runs, it stops: the save that changed it
    queued a newer re-audit.
    """
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return 0
    scope = agent_scope(agent)
    days = settings.TRACEVIEW_SCOPE_REAUDIT_DAYS if days is None else days
    recent = Invocation.objects.filter(
        agent_id=agent_id,
        created_at__gte=timezone.now() - timedelta(days=days),
        classified_version__gt=0,
    )
    audited, cursor = 0, None
    while True:
        qs = recent if cursor is None else keyset_after(recent, "created_at", *cursor, True)
        chunk = list(
            qs.order_by("-created_at", "-id").only(
                "id", "project_id", "agent_id", "created_at", "tool_call_count"
            )[:SCOPE_AUDIT_CHUNK]
        )
        if not chunk or not _chunk_audit(agent_id, scope, chunk):
            return audited
        audited += len(chunk)
        if len(chunk) < SCOPE_AUDIT_CHUNK:
            return audited
        cursor = (chunk[-1].created_at, chunk[-1].id)


def _chunk_audit(
    agent_id: int, scope: tuple[list[str], list[str]], chunk: list[Invocation]
) -> bool:
    allowed, confirm = scope
    # Only tool calls can break a scope: invocations without any need no steps read.
    with_tools = [inv.id for inv in chunk if inv.tool_call_count]
    steps = _steps_of(with_tools) if (allowed or confirm) and with_tools else {}
    found = {inv.id: scope_audit(steps.get(inv.id, []), allowed, confirm) for inv in chunk}
    with transaction.atomic():
        # The agent's row lock orders this write after any save of the scope; a scope changed
        # since this task read it makes the rest its successor's work.
        current = (
            Agent.objects.select_for_update()
            .filter(pk=agent_id)
            .values_list("allowed_tools", "confirm_tools")
            .first()
        )
        if current is None or (scope_patterns(current[0]), scope_patterns(current[1])) != scope:
            return False
        had = dict(
            Invocation.objects.select_for_update()
            .filter(id__in=list(found))
            .values_list("id", "scope_violation_count")
        )
        rows = [
            row
            for inv in chunk
            if inv.id in had
            for row in scope_violation_rows(inv, found[inv.id])
        ]
        scope_violations_write((i for i, n in had.items() if n), rows)
        changed = defaultdict(list)
        for inv_id, before in had.items():
            if len(found[inv_id]) != before:
                changed[len(found[inv_id])].append(inv_id)
        for count, ids in changed.items():
            Invocation.objects.filter(id__in=ids).update(scope_violation_count=count)
    return True


# What the rules read of each step (agents.scope): the light columns and, from the payload,
# the attributes and the tool's arguments and result.
_AUDIT_FIELDS = (
    "invocation_id",
    "span_id",
    "kind",
    "name",
    "tool_name",
    "status",
    "started_at",
    "seq",
    "payload__attributes",
    "payload__tool_arguments",
    "payload__tool_result",
)


def _steps_of(invocation_ids: list[int]) -> dict[int, list[StepData]]:
    """The steps of several invocations as the audit reads them, in one query."""
    steps: dict[int, list[StepData]] = defaultdict(list)
    rows = Step.objects.filter(invocation_id__in=invocation_ids).values_list(*_AUDIT_FIELDS)
    for inv_id, span, kind, name, tool, status, started, seq, attrs, args, result in rows:
        steps[inv_id].append(
            StepData(
                span_id=span,
                kind=kind,
                name=name or None,
                tool_name=tool or None,
                status=status,
                started_at=started,
                seq=seq,
                attributes=attrs or {},
                tool_arguments=args,
                tool_result=result,
            )
        )
    return steps


# ---------------------------------------------------------------------------------------------
# Reads


def invocation_scope_violations(invocation: Invocation) -> list[ScopeViolation]:
    """The invocation's violations in the order they happened; no query when it has none."""
    if not invocation.scope_violation_count:
        return []
    return list(invocation.scope_violations.order_by("occurred_at", "id"))


COUNT_CAP = 10_000


def agent_scope_violation_count(agent: Agent, days: int = 30) -> int:
    """The agent's violations of the last `days` days, counted up to COUNT_CAP + 1 (an index
    range over (agent, -occurred_at) that stops there)."""
    since = timezone.now() - timedelta(days=days)
    return (
        ScopeViolation.objects.filter(agent=agent, occurred_at__gte=since)
        .values("id")[: COUNT_CAP + 1]
        .count()
    )


PAGE_SIZE = 50


@dataclass
class ScopeViolationPage:
    rows: list[ScopeViolation]
    next_cursor: tuple[datetime, int] | None
    prev_cursor: tuple[datetime, int] | None


def scope_violation_page(
    projects,
    filters: dict | None = None,
    after: tuple[datetime, int] | None = None,
    before: tuple[datetime, int] | None = None,
    size: int = PAGE_SIZE,
) -> ScopeViolationPage:
    """One page of violations of `projects`, newest first, by keyset: `after` (or `before`) is
    the (occurred_at, id) of the row the page starts after (ends before).

    Filters (optional): project, agent, kind, occurred_after, occurred_before. Each project's
    page is a range of the (project, -occurred_at, -id) index that stops after `size` rows; the
    pages of several projects are merged (on PostgreSQL in one UNION ALL query), since one
    `project IN (...)` query would have to sort every matching row. An agent filter reads the
    (agent, -occurred_at, -id) index instead.
    """
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    allowed = [p.pk if isinstance(p, Project) else p for p in projects]
    if project := filters.get("project"):
        pk = project.pk if isinstance(project, Project) else project
        allowed = [pk] if pk in allowed else []
    if not allowed:
        return ScopeViolationPage([], None, None)
    base = ScopeViolation.objects.all()
    if kind := filters.get("kind"):
        base = base.filter(kind=kind)
    if start := filters.get("occurred_after"):
        base = base.filter(occurred_at__gte=start)
    if end := filters.get("occurred_before"):
        base = base.filter(occurred_at__lt=end)
    cursor, descending = (before, False) if before and not after else (after, True)
    if cursor is not None:
        base = keyset_after(base, "occurred_at", *cursor, descending)
    order = ("-occurred_at", "-id") if descending else ("occurred_at", "id")
    if agent := filters.get("agent"):
        parts = [base.filter(agent=agent, project_id__in=allowed)]
    else:
        parts = [base.filter(project_id=pk) for pk in allowed]
    keys = _keyset_merge(parts, order, size + 1, descending)
    more = len(keys) > size
    keys = keys[:size]
    if not descending:
        keys.reverse()
    by_id = {
        v.id: v
        for v in ScopeViolation.objects.filter(id__in=[k[1] for k in keys])
        .select_related("invocation", "agent", "project")
        .only(
            "id",
            "span_id",
            "tool_name",
            "kind",
            "occurred_at",
            "invocation__id",
            "invocation__name",
            "invocation__trace_id",
            "agent__name",
            "project__name",
        )
    }
    rows = [by_id[k[1]] for k in keys if k[1] in by_id]
    has_next = more if descending else True
    has_prev = (cursor is not None) if descending else more
    return ScopeViolationPage(
        rows=rows,
        next_cursor=(rows[-1].occurred_at, rows[-1].id) if has_next and rows else None,
        prev_cursor=(rows[0].occurred_at, rows[0].id) if has_prev and rows else None,
    )


def _keyset_merge(
    parts: list[QuerySet], order: tuple[str, str], limit: int, descending: bool
) -> list[tuple[datetime, int]]:
    """The first `limit` (occurred_at, id) keys over several querysets, each read as an index
    range cut at `limit`."""
    slices = [qs.order_by(*order).values_list("occurred_at", "id")[:limit] for qs in parts]
    if len(slices) == 1:
        keys = list(slices[0])
    elif connection.features.supports_slicing_ordering_in_compound:
        keys = list(slices[0].union(*slices[1:], all=True))
    else:
        # SQLite cannot order the parts of a compound query: one query per project.
        keys = [k for s in slices for k in s]
    keys.sort(reverse=descending)
    return keys[:limit]
