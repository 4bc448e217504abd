"""Agent graph: who called whom. Agents, sub-agents and tools are nodes; a call (an agent's tool
call or sub-agent) and a handoff are edges, with counts, error rates and latency. For one run,
and added up over an agent's runs in a time range.

Each step is attributed to its nearest enclosing agent step (walking up parents); steps with no
agent above them belong to the run's agent. The layout is layered (the run's agent on the left,
each callee one column right of its first caller) and drawn as server-side SVG: coordinates are
computed here, the template only writes them out, escaped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import F

from traceview.core.models import Invocation, Step
from traceview.dashboards.stats import percentile

GRAPH_FIELDS = ("invocation_id", "span_id", "parent_span_id", "kind", "name", "tool_name",
                "agent_name", "status", "started_at", "ended_at")
# An agent's graph over a range reads the steps of its latest runs only: enough to show its
# shape and rates, bounded whatever the traffic.
MAX_GRAPH_RUNS = 500
MAX_HOPS = 1000
NODE_W, NODE_H, COL_GAP, ROW_GAP = 190, 54, 120, 22


@dataclass
class Node:
    key: tuple[str, str]  # ("agent" | "tool", name)
    calls: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)
    first_span: str = ""  # the first step of this node, for the replay link of a run's graph
    first_error_span: str = ""
    url: str = ""  # where clicking the node goes (set by the view)
    column: int = 0
    row: int = 0

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def name(self) -> str:
        return self.key[1]

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def p50_s(self) -> float | None:
        return percentile(sorted(self.durations), 0.5) if self.durations else None

    @property
    def x(self) -> int:
        return 20 + self.column * (NODE_W + COL_GAP)

    @property
    def y(self) -> int:
        return 20 + self.row * (NODE_H + ROW_GAP)

    @property
    def cx(self) -> int:
        return self.x + NODE_W // 2

    @property
    def cy(self) -> int:
        return self.y + NODE_H // 2

    @property
    def fill(self) -> str:
        if self.errors == 0:
            return "#eef6f1" if self.kind == "tool" else "#eef2fb"
        return "#fde8e8" if self.error_rate >= 0.25 else "#fff4e5"


@dataclass
class Edge:
    source: Node
    target: Node
    kind: str  # "call" | "handoff" | "sub-agent"
    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)
    lane: int = 0  # among the edges between the same two nodes, so they do not overlap

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def p50_s(self) -> float | None:
        return percentile(sorted(self.durations), 0.5) if self.durations else None

    @property
    def offset(self) -> int:
        """Pixels above or below the line between the nodes' centres: 0, +14, -14, +28 ..."""
        return (self.lane + 1) // 2 * 14 * (1 if self.lane % 2 else -1)

    @property
    def path(self) -> str:
        """A cubic curve from the source's right edge to the target's left edge (or, for an edge
        back to an earlier column, around below)."""
        x1, y1 = self.source.x + NODE_W, self.source.cy + self.offset
        x2, y2 = self.target.x, self.target.cy + self.offset
        if x2 > x1:
            mid = (x1 + x2) // 2
            return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
        low = max(self.source.y, self.target.y) + NODE_H + ROW_GAP // 2
        return f"M{x1},{y1} C{x1 + 60},{low} {x2 - 60},{low} {x2},{y2}"

    @property
    def label_x(self) -> int:
        return (self.source.x + NODE_W + self.target.x) // 2

    @property
    def label_y(self) -> int:
        return (self.source.cy + self.target.cy) // 2 - 4 + self.offset * 2

    @property
    def label(self) -> str:
        parts = [f"{self.count:,}×"]
        if self.errors:
            parts.append(f"{self.error_rate:.0%} err")
        if self.p50_s is not None:
            parts.append(_seconds(self.p50_s))
        return " · ".join(parts)


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    runs: int
    capped: bool
    width: int
    height: int


@dataclass(slots=True)
class GraphRow:
    invocation_id: int
    span_id: str
    parent_span_id: str
    kind: str
    name: str
    tool_name: str
    agent_name: str
    status: str
    start: float | None  # epoch seconds
    end: float | None


def graph_rows(invocation_ids: list[int]) -> dict[int, list[GraphRow]]:
    """The steps of some runs, in time order, with what the graph reads. On PostgreSQL times
    come as epoch seconds (parsing 100,000 timestamps into datetimes costs more than the rest
    of the graph)."""
    by_run: dict[int, list[GraphRow]] = defaultdict(list)
    if not invocation_ids:
        return by_run
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT invocation_id, span_id, parent_span_id, kind, name, tool_name, "
                "agent_name, status, extract(epoch FROM started_at)::float8, "
                "extract(epoch FROM ended_at)::float8 "
                f"FROM {Step._meta.db_table} WHERE invocation_id = ANY(%s) "
                "ORDER BY invocation_id, started_at ASC NULLS LAST, seq, id",
                [list(invocation_ids)],
            )
            for r in cursor.fetchall():
                by_run[r[0]].append(GraphRow(*r))
        return by_run
    for r in (Step.objects.filter(invocation_id__in=invocation_ids)
              .order_by("invocation_id", F("started_at").asc(nulls_last=True), "seq", "id")
              .values_list(*GRAPH_FIELDS)):
        *head, start, end = r
        by_run[r[0]].append(GraphRow(*head, start.timestamp() if start else None,
                                     end.timestamp() if end else None))
    return by_run


def _duration(row) -> float | None:
    if row.start is not None and row.end is not None:
        return max(0.0, row.end - row.start)
    return None


def graph_build(rows_by_run: dict[int, list], run_agents: dict[int, str]) -> Graph:
    """The graph of some runs' steps (named rows with GRAPH_FIELDS), each run's top-level steps
    belonging to the agent in `run_agents`."""
    nodes: dict[tuple[str, str], Node] = {}
    edges: dict[tuple, Edge] = {}

    def node(kind: str, name: str, row=None) -> Node:
        n = nodes.get((kind, name))
        if n is None:
            n = nodes[(kind, name)] = Node((kind, name))
        if row is not None:
            n.calls += 1
            if row.status == "error":
                n.errors += 1
                n.first_error_span = n.first_error_span or row.span_id
            n.first_span = n.first_span or row.span_id
            if (d := _duration(row)) is not None:
                n.durations.append(d)
        return n

    def edge(source: Node, target: Node, kind: str, row) -> None:
        e = edges.get((source.key, target.key, kind))
        if e is None:
            e = edges[(source.key, target.key, kind)] = Edge(source, target, kind)
        e.count += 1
        e.errors += row.status == "error"
        if (d := _duration(row)) is not None:
            e.durations.append(d)

    for run_id, rows in rows_by_run.items():
        by_span = {r.span_id: r for r in rows}
        top = run_agents.get(run_id) or "(run)"
        node("agent", top)

        for row in rows:
            if row.kind == "agent":
                this = node("agent", row.name or row.agent_name or top, row)
                parent = node("agent", _caller(row, by_span, top))
                if this is not parent and row.parent_span_id in by_span:
                    edge(parent, this, "sub-agent", row)
            elif row.kind == "tool":
                name = row.tool_name or row.name or "(unnamed tool)"
                edge(node("agent", _caller(row, by_span, top)), node("tool", name, row), "call",
                     row)
            elif row.kind == "handoff":
                target = (row.name or "").removeprefix("handoff to ").strip()
                if target and target != "handoff":
                    source = row.agent_name or _caller(row, by_span, top)
                    edge(node("agent", source), node("agent", target), "handoff", row)
    lanes: dict[tuple, int] = defaultdict(int)
    for e in edges.values():
        pair = tuple(sorted((e.source.key, e.target.key)))
        e.lane = lanes[pair]
        lanes[pair] += 1
    _layout(list(nodes.values()), list(edges.values()), roots={
        ("agent", run_agents.get(r) or "(run)") for r in rows_by_run})
    ordered = sorted(nodes.values(), key=lambda n: (n.column, n.row))
    width = max((n.x + NODE_W for n in ordered), default=0) + 20
    height = max((n.y + NODE_H for n in ordered), default=0) + 40
    return Graph(nodes=ordered, edges=sorted(edges.values(), key=lambda e: -e.count),
                 runs=len(rows_by_run), capped=False, width=width, height=height)


def _caller(row, by_span: dict, top: str) -> str:
    """The name of the nearest agent step above `row`, else the run's agent."""
    cur, hops = by_span.get(row.parent_span_id), 0
    while cur is not None and hops < MAX_HOPS:
        if cur.kind == "agent":
            return cur.name or cur.agent_name or top
        cur = by_span.get(cur.parent_span_id) if cur.parent_span_id else None
        hops += 1
    return top


def _layout(nodes: list[Node], edges: list[Edge], roots: set) -> None:
    """Columns by distance from the runs' agents along edges (breadth first); rows in order of
    how much each node was called, most first."""
    out = defaultdict(list)
    for e in edges:
        out[e.source.key].append(e.target)
    by_key = {n.key: n for n in nodes}
    column = {k: 0 for k in roots if k in by_key}
    queue = list(column)
    while queue:
        key = queue.pop(0)
        for target in out[key]:
            if target.key not in column:
                column[target.key] = column[key] + 1
                queue.append(target.key)
    for n in nodes:
        n.column = column.get(n.key, 0)
    rows = defaultdict(int)
    for n in sorted(nodes, key=lambda n: (n.column, n.kind != "agent", -n.calls, n.name)):
        n.row = rows[n.column]
        rows[n.column] += 1


def run_graph(invocation: Invocation) -> Graph:
    agent = invocation.agent.name if invocation.agent else (invocation.name or "(run)")
    rows = graph_rows([invocation.id]).get(invocation.id, [])
    return graph_build({invocation.id: rows}, {invocation.id: agent})


def agent_graph(agent, start: datetime, end: datetime) -> Graph:
    """The graph added up over the agent's latest MAX_GRAPH_RUNS runs received in [start, end)."""
    run_ids = list(
        Invocation.objects.filter(agent=agent, created_at__gte=start, created_at__lt=end)
        .order_by("-created_at", "-id").values_list("id", flat=True)[: MAX_GRAPH_RUNS + 1]
    )
    capped = len(run_ids) > MAX_GRAPH_RUNS
    rows_by_run = graph_rows(run_ids[:MAX_GRAPH_RUNS])
    graph = graph_build(dict(rows_by_run), {r: agent.name for r in rows_by_run})
    graph.capped = capped
    return graph
