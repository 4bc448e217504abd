"""The invocation list: filters, free-text search, keyset pages and counts per category."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BooleanField,
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

from traceview.core.models import Agent, Invocation, InvocationSearch, Project, Step
from traceview.core.queries import cursor_pack, cursor_unpack, keyset_after
from traceview.core.trace import CATEGORIES


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


class DocumentMatch(Func):
    """`vector @@ websearch_to_tsquery(...)` on InvocationSearch (PostgreSQL): the document's
    tsvector, kept in a column beside it by a trigger and GIN-indexed (migration 0014), so that
    testing one row reads it instead of parsing the document again (milliseconds a run). The
    column is not in the model (SQLite has none): its reference is the compiled document
    column's (`document`, or `search__document` from an invocation) with the column name
    swapped, so it holds under Django's joins and subquery aliases."""

    output_field = BooleanField()

    def __init__(self, text: str, document: str = "document"):
        super().__init__(F(document), Value(text))

    def as_sql(self, compiler, connection, **extra):
        document, query = self.get_source_expressions()
        document_sql, _ = compiler.compile(document)
        query_sql, query_params = compiler.compile(query)
        vector = document_sql.rsplit(".", 1)[0] + '."vector"'
        return f"{vector} @@ websearch_to_tsquery('simple'::regconfig, {query_sql})", query_params


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

    Filters (all optional): project, trace_id, session, agent, agent_version, status, category
    ("none" for no failure), received_after / received_before, model, min_cost, min_tokens,
    min_duration_s, q (free text over names, errors and message content).
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
    if session := filters.get("session"):
        qs = qs.filter(session_id=session)
    if agent := filters.get("agent"):
        # The agent's ids (one per project that has one of that name) rather than a join on the
        # name: the planner estimates literal ids from the column's statistics, and with a good
        # estimate walks the list's index for a page instead of collecting every match of the
        # agent and the other filters and sorting them (a cost that grows with the table).
        ids = Agent.objects.filter(project__in=projects, name=agent).values_list("id", flat=True)
        qs = qs.filter(agent_id__in=list(ids))
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


def _estimated_rows(qs: QuerySet) -> float:
    """The planner's estimate of the rows `qs` returns (EXPLAIN, no execution)."""
    plan = json.loads(qs.explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"]


def _search(text: str) -> Q:
    """Invocations whose name or trace id, or whose search document (step names, tools, errors,
    messages, arguments and results: traceview.core.search) match `text`. The document is written at
    classification, so a run's content is searchable seconds after it completes; its name and
    trace id are searchable at once."""
    if connection.vendor == "postgresql":
        named = SearchMatch(F("name"), F("trace_id"), text=text)
        by_name = Invocation.objects.filter(named).values_list("id", flat=True)
        by_document = InvocationSearch.objects.filter(DocumentMatch(text)).values_list(
            "invocation_id", flat=True)
        # A rare word is an id list from the GIN indexes (milliseconds), then a page of those;
        # a common one (a word in 40 % of a million runs) is the list's walk in its index order,
        # testing each row it meets (its stored vector, by primary key) until a
        # page is full. The planner picks either for the single query with the wrong guess half
        # the time, and a wrong pick costs seconds: a walk of the whole index for a rare word, a
        # hash of every match (hundreds of thousands of rows and their vectors) for a common
        # one. The vector column's statistics (lexeme frequencies) tell which one this is, and
        # an id list longer than expected still becomes the walk.
        if max(_estimated_rows(by_name), _estimated_rows(by_document)) <= SEARCH_CANDIDATES:
            candidates = list(by_name.union(by_document, all=True)[: SEARCH_CANDIDATES + 1])
            if len(candidates) <= SEARCH_CANDIDATES:
                return Q(id__in=set(candidates))
        # A run's document holds its name and trace id: the name itself (parsed per row) is
        # only read for runs not classified yet.
        return Q(DocumentMatch(text, "search__document")) | Q(search__isnull=True) & Q(named)
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
SAMPLE_CAP = 500
# Filters a category's count can stop at COUNT_CAP on: an index range of (project, category,
# created_at) holds them, so counting reads at most COUNT_CAP + 1 entries whatever the table.
INDEXED_COUNT_FILTERS = {"project", "received_after", "received_before"}


@dataclass
class CategoryCounts:
    """Matches per category (and "none"), each exact up to `cap`. When `sampled`, the counts
    are of the newest `cap` matches only: each is a lower bound, and so is their sum."""

    counts: dict[str, int]
    cap: int
    sampled: bool


def invocation_category_counts(projects, filters: dict | None) -> CategoryCounts:
    """How many invocations of each category match the filters other than the category itself,
    so each count is what choosing that category would show. "none" counts those without one.

    With no filter but the project and the time range, each count is an index range that stops
    at COUNT_CAP (a count of a million rows is a scan of a million rows; "10,000+" says as
    much). Any other filter (status, agent, a text search, a model...) is tested on each row: a
    count per category under the cap would read every row of that category (all the runs
    without a failure, to find that none is an error), a cost that grows with the table. So the
    newest SAMPLE_CAP + 1 matches are read once, in the list's order (a walk that stops), and
    counted per category: exact up to SAMPLE_CAP matches, past it those of the newest
    SAMPLE_CAP, lower bounds, which the page says.
    """
    filters = {**(filters or {}), "category": None}
    qs = invocation_list(projects, filters)
    active = {k for k, v in filters.items() if v not in (None, "") and (k != "q" or v.strip())}
    if active - INDEXED_COUNT_FILTERS:
        counts = {c: 0 for c in (*CATEGORIES, "none")}
        sample = list(qs.values_list("category", flat=True)[: SAMPLE_CAP + 1])
        sampled = len(sample) > SAMPLE_CAP
        for category in sample[:SAMPLE_CAP]:
            counts[category or "none"] += 1
        return CategoryCounts(counts, SAMPLE_CAP, sampled)
    qs = qs.order_by()
    counts = {
        c: qs.filter(category="" if c == "none" else c).values("id")[: COUNT_CAP + 1].count()
        for c in (*CATEGORIES, "none")
    }
    return CategoryCounts(counts, COUNT_CAP, False)
