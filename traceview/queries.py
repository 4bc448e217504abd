"""Read side used by views, the API and the classifier: lists, step trees, canonical loads."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
)

from traceview.models import Invocation, InvocationSearch, Project, Step
from traceview.trace import CATEGORIES, InvocationData, StepData

STEP_LIST_FIELDS = (
    "id", "span_id", "parent_span_id", "kind", "name", "started_at", "ended_at", "status",
    "error_type", "error_message", "model", "input_tokens", "output_tokens", "cost_usd",
    "finish_reason", "tool_name", "agent_name", "seq",
)


class SearchMatch(Func):
    """`to_tsvector(...) @@ websearch_to_tsquery(...)` over some text columns (PostgreSQL).

    The vector expression is identical to the GIN indexes of migration 0002 (the planner uses an
    expression index only for the very same expression), written with compiled column
    references so it stays valid when Django re-aliases the table inside a subquery.
    """

    output_field = BooleanField()

    def __init__(self, *columns, text: str, json: bool = False):
        self.json = json
        super().__init__(*columns, Value(text))

    def as_sql(self, compiler, connection, **extra):
        *columns, query = self.get_source_expressions()
        parts, params = [], []
        for column in columns:
            sql, p = compiler.compile(column)
            parts.append(f"coalesce({sql}::text, '')" if self.json else sql)
            params.extend(p)
        query_sql, query_params = compiler.compile(query)
        joined = " || ' ' || ".join(parts)
        vector = f"to_tsvector('simple'::regconfig, left({joined}, 100000))"
        return (
            f"{vector} @@ websearch_to_tsquery('simple'::regconfig, {query_sql})",
            [*params, *query_params],
        )


# Sort name -> (the value the list is ordered by, descending?). Each one has an index that leads
# with the project, so a page is an index range scan whatever the table size.
LIST_SORTS = {
    "newest": (F("created_at"), True),
    "oldest": (F("created_at"), False),
    "cost": (F("cost_usd"), True),
    "tokens": (F("input_tokens") + F("output_tokens"), True),
}
LIST_PAGE_SIZE = 50


def invocation_list(projects, filters: dict | None = None) -> QuerySet[Invocation]:
    """Invocations of the given projects, newest first, with the list's filters applied.

    Filters (all optional): project, trace_id, agent, agent_version, status, category ("none" for
    no failure), received_after / received_before, model, min_cost, min_tokens, min_duration_s,
    q (free text over names, errors and message content).
    """
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    if project := filters.get("project"):
        allowed = {p.pk if isinstance(p, Project) else p for p in projects}
        pk = project.pk if isinstance(project, Project) else project
        projects = [pk] if pk in allowed else []
    qs = Invocation.objects.filter(project__in=projects).select_related("agent", "project")
    if trace_id := filters.get("trace_id"):
        # OTLP ids are stored in lower case; other senders' ids are kept exactly as sent.
        qs = qs.filter(Q(trace_id=trace_id) | Q(trace_id=trace_id.lower()))
    if agent := filters.get("agent"):
        qs = qs.filter(agent__name=agent)
    if version := filters.get("agent_version"):
        qs = qs.filter(agent_version=version)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if category := filters.get("category"):
        qs = qs.filter(category="" if category == "none" else category)
    if after := filters.get("received_after"):
        qs = qs.filter(created_at__gte=after)
    if before := filters.get("received_before"):
        qs = qs.filter(created_at__lt=before)
    if model := filters.get("model"):
        qs = qs.filter(Exists(Step.objects.filter(invocation=OuterRef("pk"), model=model)))
    if (min_cost := filters.get("min_cost")) is not None:
        qs = qs.filter(cost_usd__gte=min_cost)
    if (min_tokens := filters.get("min_tokens")) is not None:
        qs = qs.alias(tokens=F("input_tokens") + F("output_tokens")).filter(tokens__gte=min_tokens)
    if (min_duration := filters.get("min_duration_s")) is not None:
        duration = ExpressionWrapper(
            F("ended_at") - F("started_at"), output_field=DurationField()
        )
        qs = qs.alias(duration=duration).filter(
            duration__gte=timedelta(seconds=float(min_duration))
        )
    if text := (filters.get("q") or "").strip():
        qs = qs.filter(_search(text))
    return qs.order_by("-created_at", "-id")


SEARCH_CANDIDATES = 5000


def _search(text: str) -> Q:
    """Invocations whose name or trace id, or whose search document (step names, tools, errors,
    messages, arguments and results: traceview.search) match `text`. The document is written at
    classification, so a run's content is searchable seconds after it completes; its name and
    trace id are searchable at once."""
    if connection.vendor == "postgresql":
        named = Invocation.objects.filter(
            SearchMatch(F("name"), F("trace_id"), text=text)
        ).values_list("id", flat=True)
        documents = InvocationSearch.objects.filter(
            SearchMatch(F("document"), text=text)
        ).values_list("invocation_id", flat=True)
        # The planner cannot estimate how many rows a text search matches, and picks one plan for
        # both ends: for a rare word it walks the whole list index testing each row (0.5 s at a
        # million rows); for a common one, that walk is the right plan. So ask the GIN indexes
        # first (milliseconds): a short answer becomes a plain id list, a long one keeps the walk.
        candidates = list(named.union(documents, all=True)[: SEARCH_CANDIDATES + 1])
        if len(candidates) <= SEARCH_CANDIDATES:
            return Q(id__in=set(candidates))
        return Q(id__in=named) | Q(id__in=documents)
    # SQLite (the embedded default) has no full-text index here: substring matching is enough for
    # the data one machine holds.
    documents = InvocationSearch.objects.filter(document__icontains=text)
    return (
        Q(name__icontains=text) | Q(trace_id__icontains=text)
        | Q(id__in=documents.values("invocation_id"))
    )


@dataclass
class InvocationPage:
    rows: list[Invocation]
    sort: str
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def is_first(self) -> bool:
        return self.prev_cursor is None


def invocation_page(
    projects, filters: dict | None, sort: str = "newest", cursor: str | None = None,
    size: int = LIST_PAGE_SIZE,
) -> InvocationPage:
    """One page of the list by keyset: the cursor holds the sort value and id of the row the page
    starts after (or, going back, before), so a page costs the same at row 50 or at row 900,000,
    where OFFSET would read and throw away everything before it."""
    sort = sort if sort in LIST_SORTS else "newest"
    key, descending = LIST_SORTS[sort]
    qs = invocation_list(projects, filters).annotate(sort_key=key)
    direction, value, last_id = _cursor_decode(cursor, sort)
    # Going back ("before" the cursor) walks the other way and reverses the page afterwards.
    walk_desc = descending if direction != "before" else not descending
    if value is not None:
        qs = keyset_after(qs, "sort_key", value, last_id, walk_desc)
    order = ("-sort_key", "-id") if walk_desc else ("sort_key", "id")
    rows = list(qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if direction == "before":
        rows.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = value is not None, more
    return InvocationPage(
        rows=rows,
        sort=sort,
        next_cursor=_cursor_encode("after", rows[-1], sort) if has_next and rows else None,
        prev_cursor=_cursor_encode("before", rows[0], sort) if has_prev and rows else None,
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


def _cursor_encode(direction: str, row: Invocation, sort: str) -> str:
    value = row.sort_key
    value = value.isoformat() if isinstance(value, datetime) else str(value)
    return cursor_pack([direction, value, row.id])


def _cursor_decode(cursor: str | None, sort: str):
    """(direction, sort value, id) from a cursor; a cursor that does not parse means page one."""
    try:
        direction, value, last_id = cursor_unpack(cursor)
        if direction not in ("after", "before") or not isinstance(last_id, int):
            raise ValueError(direction)
        if sort in ("newest", "oldest"):
            value = datetime.fromisoformat(value)
        elif sort == "cost":
            value = Decimal(value)
        else:
            value = int(value)
    except (ValueError, TypeError, ArithmeticError):
        return None, None, None
    return direction, value, last_id


COUNT_CAP = 10_000


def invocation_category_counts(projects, filters: dict | None) -> dict[str, int | None]:
    """How many invocations of each category match the filters other than the category itself,
    so each count is what choosing that category would show. "none" counts those without one.

    With plain column filters each count is an index range that stops at COUNT_CAP (a count of
    a million rows is a scan of a million rows; "10,000+" says as much). A text search or a
    model filter is a subquery that would be evaluated once per count, so those are counted
    exactly in one grouped query instead.
    """
    filters = {**(filters or {}), "category": None}
    qs = invocation_list(projects, filters).order_by()
    if (filters.get("q") or "").strip() or filters.get("model"):
        counts = {c: 0 for c in (*CATEGORIES, "none")}
        for row in qs.values("category").annotate(n=Count("id")):
            counts[row["category"] or "none"] += row["n"]
        return counts
    return {
        c: qs.filter(category="" if c == "none" else c).values("id")[: COUNT_CAP + 1].count()
        for c in (*CATEGORIES, "none")
    }


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
    "span_id", "parent_span_id", "kind", "name", "started_at", "ended_at", "status", "error_type",
    "error_message", "model", "input_tokens", "output_tokens", "cost_usd", "finish_reason",
    "tool_name", "tool_call_id", "agent_name", "seq",
)
_CANONICAL_PAYLOAD_FIELDS = (
    "tool_arguments", "tool_result", "input", "output", "attributes", "events", "error_traceback",
)
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
    rows = (
        Step.objects.filter(invocation_id__in=list(datas))
        .order_by("invocation_id", "started_at", "seq", "id")
        .values_list("invocation_id", *_CANONICAL_STEP_FIELDS,
                     *(f"payload__{f}" for f in _CANONICAL_PAYLOAD_FIELDS))
    )
    names = _CANONICAL_STEP_FIELDS + _CANONICAL_PAYLOAD_FIELDS
    for invocation_id, *row in rows:
        values = dict(zip(names, row, strict=True))
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
    if not user.is_authenticated:
        return Project.objects.none()
    return user.projects.all()
