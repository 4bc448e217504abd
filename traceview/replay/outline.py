"""Read side of the replay page: an invocation's steps in tree order, the running state at one
step, and what one step shows (the messages the model saw, what changed since the previous model
call, tool arguments and results, retrieved documents, raw attributes).

The outline reads only light columns, so even a 20,000-step invocation loads in tens of
milliseconds; payloads are read one step at a time, when that step is opened.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.db import connection
from django.db.models import F

from traceview.classify.models_context import context_window
from traceview.core.models import Invocation, Step, StepPayload

# What every step contributes to the tree, the charts and the running state; the columns only
# shown in the tree's rows are read for the one page on screen (LABEL_FIELDS).
OUTLINE_FIELDS = (
    "id", "span_id", "parent_span_id", "kind", "name", "status", "started_at", "ended_at",
    "input_tokens", "output_tokens", "cost_usd",
)
LABEL_FIELDS = ("name", "model", "tool_name", "error_type")
# The tree is virtual: the page holds a window of this many rows of the display list (steps, and
# long repeated stretches collapsed into one row each), and fetches the next as it scrolls.
TREE_WINDOW = 200
TREE_ROW_PX = 28
# A stretch of sibling steps repeating a pattern of 1 to MAX_PERIOD steps collapses into one
# row once it is at least MIN_COLLAPSE steps long.
MIN_COLLAPSE = 12
MAX_PERIOD = 4
# Outlines of recently opened invocations, per process: stepping through a large invocation
# reads its 20,000 light rows once, not on every step. Keyed by the invocation's data version,
# which every ingest bumps, so new steps are never hidden.
OUTLINE_CACHE_SIZE = 16
_outlines: OrderedDict[tuple, Outline] = OrderedDict()
_outlines_lock = threading.Lock()
# Text longer than this is cut in the page (the API still returns it whole).
MAX_SHOWN = 20_000


class OutlineRow:
    """A step's light columns as the outline keeps them: times as epoch seconds and cost as a
    float (reading a 100,000-step run, PostgreSQL's timestamps and numerics parsed into
    datetimes and Decimals cost three times the rest), the usual types on demand."""

    __slots__ = ("id", "span_id", "parent_span_id", "kind", "name", "status", "start", "end",
                 "input_tokens", "output_tokens", "cost")

    def __init__(self, id, span_id, parent_span_id, kind, name, status, start, end,
                 input_tokens, output_tokens, cost):
        self.id, self.span_id, self.parent_span_id = id, span_id, parent_span_id
        self.kind, self.name, self.status = kind, name, status
        self.start, self.end = start, end
        self.input_tokens, self.output_tokens, self.cost = input_tokens, output_tokens, cost

    @property
    def started_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.start, UTC) if self.start is not None else None

    @property
    def ended_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.end, UTC) if self.end is not None else None

    @property
    def cost_usd(self) -> Decimal | None:
        return Decimal(f"{self.cost:.6f}") if self.cost is not None else None


def _outline_rows(invocation: Invocation) -> list[OutlineRow]:
    """Every step's light columns in time order, as OutlineRows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, span_id, parent_span_id, kind, name, status, "
                "extract(epoch FROM started_at)::float8, extract(epoch FROM ended_at)::float8, "
                "input_tokens, output_tokens, cost_usd::float8 "
                f"FROM {Step._meta.db_table} WHERE invocation_id = %s "
                "ORDER BY started_at ASC NULLS LAST, seq, id",
                [invocation.pk],
            )
            return [OutlineRow(*r) for r in cursor.fetchall()]
    rows = invocation.steps.order_by(F("started_at").asc(nulls_last=True), "seq", "id")
    return [
        OutlineRow(i, span, parent, kind, name, status,
                   start.timestamp() if start else None, end.timestamp() if end else None,
                   tin, tout, float(cost) if cost is not None else None)
        for i, span, parent, kind, name, status, start, end, tin, tout, cost in rows.values_list(
            *OUTLINE_FIELDS)
    ]


@dataclass(slots=True)
class Node:
    """One step of the outline with its place in the tree and in time."""

    row: Any  # a named values_list row with OUTLINE_FIELDS
    index: int  # position in tree (display and navigation) order
    level: int  # nesting below the top level
    agent_depth: int  # agent steps on the path from the top, this one included
    chrono: int = 0  # position in time order
    label: Any = None  # LABEL_FIELDS, read for the nodes on screen (outline_labels)

    @property
    def span_id(self) -> str:
        return self.row.span_id

    @property
    def query(self) -> str:
        """The query string that selects this step: the step's own URL."""
        return "?step=" + quote(self.row.span_id, safe="")


    @property
    def duration_s(self) -> float | None:
        r = self.row
        if r.start is not None and r.end is not None:
            return r.end - r.start
        return None

    @property
    def tokens(self) -> int | None:
        r = self.row
        if r.input_tokens is None and r.output_tokens is None:
            return None
        return (r.input_tokens or 0) + (r.output_tokens or 0)


@dataclass(slots=True)
class Group:
    """A stretch of sibling steps repeating one pattern, shown as one row of the tree."""

    key: int  # its position among the outline's groups
    first: Node
    last: Node
    repeats: int
    pattern: list[str]

    @property
    def steps(self) -> int:
        return self.last.index - self.first.index + 1

    @property
    def label(self) -> str:
        return (f"steps {self.first.index + 1:,}–{self.last.index + 1:,}: {self.repeats:,} × "
                + " → ".join(self.pattern))

    @property
    def level(self) -> int:
        return self.first.level

    @property
    def query(self) -> str:
        return self.first.query


@dataclass
class Outline:
    invocation: Invocation
    nodes: list[Node]  # tree order
    by_span: dict[str, Node]
    chrono: list[Node]  # time order
    start: datetime | None
    groups: list[Group] = field(default_factory=list)
    # Display lists by expanded group (-1: none), built once per outline.
    _displays: dict[int, list] = field(default_factory=dict)
    _totals: list | None = None
    usage: dict | None = None  # the usage chart (replay.charts), made once per outline

    def running_totals(self) -> list[tuple]:
        """Per step in time order, what the run had used up to it (itself included): tokens,
        cost, unpriced model calls (tokens and no cost: no known price), agent depth, tool
        calls, errors. Computed once per outline, so that stepping through a 100,000-step run
        does not add up 100,000 steps each time."""
        if self._totals is None:
            totals, tokens, cost, unpriced, depth, tools, errors = [], 0, 0.0, 0, 0, 0, 0
            for n in self.chrono:
                r = n.row
                tokens += n.tokens or 0
                cost += r.cost or 0.0
                unpriced += r.kind == "llm" and r.cost is None and bool(n.tokens)
                depth = max(depth, n.agent_depth)
                tools += r.kind == "tool"
                errors += r.status == "error"
                totals.append((tokens, cost, unpriced, depth, tools, errors))
            self._totals = totals
        return self._totals

    def group_of(self, node: Node) -> Group | None:
        """The collapsed stretch `node` is in, if any."""
        lo, hi = 0, len(self.groups)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.groups[mid].last.index < node.index:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.groups) and self.groups[lo].first.index <= node.index:
            return self.groups[lo]
        return None

    def tree_key(self, node: Node | None) -> int:
        """The group the tree shows expanded when `node` is the current step: its own."""
        group = self.group_of(node) if node is not None else None
        return group.key if group is not None else -1

    def display(self, key: int = -1) -> list:
        """The tree's rows: steps, and every group other than `key` as one row."""
        rows = self._displays.get(key)
        if rows is None:
            rows, i = [], 0
            for g in self.groups:
                rows.extend(self.nodes[i:g.first.index])
                if g.key == key:
                    rows.extend(self.nodes[g.first.index:g.last.index + 1])
                else:
                    rows.append(g)
                i = g.last.index + 1
            rows.extend(self.nodes[i:])
            self._displays[key] = rows
        return rows

    def display_row(self, node: Node, key: int = -1) -> int:
        """Where `node` (or the group row standing for it) is in display(key)."""
        before = 0
        for g in self.groups:
            if g.first.index > node.index:
                break
            if g.key == key:
                continue
            if g.last.index < node.index:
                before += g.steps - 1
            else:
                return g.first.index - before
        return node.index - before

    def offset_s(self, node: Node) -> float | None:
        if self.start and node.row.start is not None:
            return node.row.start - self.start.timestamp()
        return None


def replay_outline(invocation: Invocation) -> Outline:
    """Every step's light columns, in tree order (nesting by parent) and in time order."""
    key = (invocation.pk, invocation.data_version, invocation.last_data_at, invocation.created_at)
    with _outlines_lock:
        outline = _outlines.get(key)
        if outline is not None:
            _outlines.move_to_end(key)
            outline.invocation = invocation
            return outline
    outline = _outline_load(invocation)
    with _outlines_lock:
        _outlines[key] = outline
        while len(_outlines) > OUTLINE_CACHE_SIZE:
            _outlines.popitem(last=False)
    return outline


def outline_cache_clear() -> None:
    _outlines.clear()


def outline_labels(nodes: list[Node]) -> list[Node]:
    """Read the display columns of `nodes` (one page of the tree) in one query."""
    missing = [n for n in nodes if n.label is None]
    if missing:
        labels = {
            row[0]: row[1:]
            for row in Step.objects.filter(id__in=[n.row.id for n in missing]).values_list(
                "id", *LABEL_FIELDS
            )
        }
        for n in missing:
            n.label = _Label(*labels.get(n.row.id, ("", "", "", "")))
    return nodes


@dataclass(slots=True)
class _Label:
    name: str
    model: str
    tool_name: str
    error_type: str


def _tree_order(rows: list[OutlineRow]) -> list[tuple[int, int, int]]:
    """(row position, level, parent position or -1) in depth-first order: core.queries.step_tree
    over positions instead of rows, which a 100,000-step run notices. Orphans (parent never
    arrived) are at the top level; steps a parent cycle leaves unreachable come last."""
    position = {r.span_id: i for i, r in enumerate(rows)}
    children: dict[int, list[int]] = {}
    roots = []
    for i, r in enumerate(rows):
        p = position.get(r.parent_span_id) if r.parent_span_id else None
        if p is None or p == i:
            roots.append(i)
        else:
            children.setdefault(p, []).append(i)
    out = []
    seen = bytearray(len(rows))
    stack = [(i, 0, -1) for i in reversed(roots)]
    while stack:
        i, level, parent = stack.pop()
        if seen[i]:
            continue
        seen[i] = 1
        out.append((i, level, parent))
        kids = children.get(i)
        if kids:
            stack.extend((k, level + 1, i) for k in reversed(kids))
    out.extend((i, 0, -1) for i in range(len(rows)) if not seen[i])
    return out


def _outline_load(invocation: Invocation) -> Outline:
    rows = _outline_rows(invocation)
    nodes, by_span = [], {}
    chrono: list[Node] = [None] * len(rows)  # type: ignore[list-item]
    for index, (i, level, parent) in enumerate(_tree_order(rows)):
        row = rows[i]
        depth = (chrono[parent].agent_depth if parent >= 0 else 0) + (row.kind == "agent")
        node = Node(row=row, index=index, level=level, agent_depth=depth, chrono=i)
        nodes.append(node)
        chrono[i] = node
        by_span[row.span_id] = node
    starts = [r.start for r in rows if r.start is not None]
    start = invocation.started_at or (datetime.fromtimestamp(min(starts), UTC) if starts else None)
    outline = Outline(invocation=invocation, nodes=nodes, by_span=by_span, chrono=chrono,
                      start=start)
    outline.groups = collapse_groups(nodes, keep={_root_span(invocation)})
    return outline


def _root_span(invocation: Invocation) -> str:
    try:
        return invocation.diagnosis.root_span_id
    except Exception:  # noqa: BLE001 - no diagnosis (yet): nothing to keep apart
        return ""


def collapse_groups(nodes: list[Node], keep: set[str] = frozenset()) -> list[Group]:
    """Long stretches of sibling leaf steps that repeat a pattern of up to MAX_PERIOD steps, by
    kind, name and failure (a failed step, or one in `keep` such as the root cause, is never
    hidden in a stretch): "steps 120–4,800: 2,340 × search → fetch"."""
    parent_of: dict[str, int] = {}
    has_children = set()
    for n in nodes:
        parent_of[n.span_id] = n.index
    siblings: dict[int | None, list[Node]] = {}
    for n in nodes:
        parent = parent_of.get(n.row.parent_span_id) if n.level else None
        if parent is not None:
            has_children.add(parent)
        siblings.setdefault(parent, []).append(n)
    groups: list[Group] = []
    for run in siblings.values():
        keys = [
            None if (n.index in has_children or n.row.status == "error" or n.span_id in keep)
            else (n.row.kind, n.row.name)
            for n in run
        ]
        j = 0
        while j < len(run):
            if keys[j] is None:
                j += 1
                continue
            best_len, best_p = 0, 1
            for p in range(1, MAX_PERIOD + 1):
                if j + p > len(run) or None in keys[j:j + p] or len(set(keys[j:j + p])) < p:
                    continue
                k = j + p
                while k < len(run) and keys[k] is not None and keys[k] == keys[k - p]:
                    k += 1
                if k - j > best_len:
                    best_len, best_p = k - j, p
            # Whole repeats only: the steps leading into whatever broke the pattern stay shown.
            best_len -= best_len % best_p
            if best_len >= max(MIN_COLLAPSE, 3 * best_p):
                first, last = run[j], run[j + best_len - 1]
                groups.append(Group(
                    key=0, first=first, last=last, repeats=best_len // best_p,
                    pattern=[run[j + i].row.name or run[j + i].row.kind for i in range(best_p)],
                ))
                j += best_len
            else:
                j += 1
    groups.sort(key=lambda g: g.first.index)
    for i, g in enumerate(groups):
        g.key = i
    return groups


@dataclass
class Gauge:
    """One line of the running state: a value so far, against a budget when the agent has one."""

    label: str
    value: Any
    shown: str
    limit: Any = None
    limit_shown: str = ""

    @property
    def percent(self) -> float | None:
        if self.limit in (None, 0) or self.value is None:
            return None
        return float(self.value) / float(self.limit) * 100

    @property
    def over(self) -> bool:
        return self.percent is not None and self.percent > 100


def running_state(outline: Outline, node: Node) -> list[Gauge]:
    """What the run had used when this step happened (itself included), against the budgets."""
    totals = outline.running_totals()[node.chrono]
    tokens, cost_f, unpriced, depth, tool_calls, errors = totals
    cost = Decimal(f"{cost_f:.6f}")
    steps = node.chrono + 1
    agent = outline.invocation.agent
    budgets = agent.budgets() if agent else {}
    elapsed = None
    end = node.row.end if node.row.end is not None else node.row.start
    if outline.start and end is not None:
        elapsed = max(0.0, end - outline.start.timestamp())

    def limit(name, fmt):
        value = budgets.get(name)
        return value, (fmt(value) if value is not None else "")

    gauges = [
        Gauge("Tokens", tokens, f"{tokens:,}", *limit("max_tokens", lambda v: f"{v:,}")),
        Gauge("Cost", cost, f"${cost:.4f}" + (f" + {unpriced} unpriced" if unpriced else ""),
              *limit("max_cost_usd", lambda v: f"${v:.4f}")),
        Gauge("Steps", steps, f"{steps:,}", *limit("max_steps", lambda v: f"{v:,}")),
        Gauge("Depth", depth, str(depth), *limit("max_depth", str)),
        Gauge(
            "Elapsed", elapsed, f"{elapsed:.2f} s" if elapsed is not None else "—",
            *limit("max_duration_s", lambda v: f"{v:g} s"),
        ),
        Gauge("Tool calls", tool_calls, ""),
        Gauge("Errors", errors, ""),
    ]
    for g in gauges[-2:]:
        g.shown = f"{g.value:,}"
    return gauges


# ---------------------------------------------------------------------------------------------
# One step's content


@dataclass
class Message:
    role: str
    text: str
    name: str = ""
    tool_calls: str = ""
    tool_call_id: str = ""

    def signature(self) -> tuple:
        return (self.role, self.name, self.text, self.tool_calls, self.tool_call_id)


@dataclass
class DiffBlock:
    op: str  # "same", "added", "removed"
    messages: list[Message] = field(default_factory=list)
    count: int = 0


@dataclass
class Document:
    title: str
    score: str
    text: str
    rest: str


@dataclass
class StepDetail:
    step: Step
    payload: StepPayload
    node: Node
    messages: list[Message]
    output: list[Message]
    parameters: list[tuple[str, str]]
    context_window: int | None
    context_share: float | None
    diff: list[DiffBlock] | None
    previous_llm: Node | None
    tool_arguments: str
    tool_result: str
    documents: list[Document]
    input_json: str
    output_json: str
    attributes_json: str
    events_json: str
    running: list[Gauge]
    first: Node | None
    previous: Node | None
    next: Node | None
    last: Node | None


def step_detail(outline: Outline, node: Node) -> StepDetail:
    """Everything the detail panel shows for one step: one query for the step and its payload,
    one more for the previous model call's messages when this step is a model call."""
    step = Step.objects.select_related("payload").get(id=node.row.id)
    try:
        payload = step.payload
    except StepPayload.DoesNotExist:
        payload = StepPayload()
    messages = messages_of(payload.input) if step.kind == "llm" else []
    previous_llm, diff = None, None
    if step.kind == "llm":
        previous_llm = next(
            (n for n in reversed(outline.chrono[: node.chrono]) if n.row.kind == "llm"), None
        )
        if previous_llm is not None:
            before = StepPayload.objects.filter(step_id=previous_llm.row.id).values_list(
                "input", flat=True
            ).first()
            diff = messages_diff(messages_of(before), messages)
    window = context_window(step.model) if step.model else None
    share = None
    if window and step.input_tokens is not None:
        share = (step.input_tokens + (step.output_tokens or 0)) / window * 100
    documents = documents_of(payload.output, payload.attributes) if step.kind == "retrieval" else []
    nodes = outline.nodes
    return StepDetail(
        step=step,
        payload=payload,
        node=node,
        messages=messages,
        output=messages_of(payload.output, default_role="output") if step.kind == "llm" else [],
        parameters=parameters_of(payload.attributes or {}),
        context_window=window,
        context_share=share,
        diff=diff,
        previous_llm=previous_llm,
        tool_arguments=pretty(payload.tool_arguments),
        tool_result=pretty(payload.tool_result),
        documents=documents,
        input_json=pretty(payload.input) if step.kind != "llm" else "",
        output_json=pretty(payload.output) if step.kind not in ("llm", "retrieval") else "",
        attributes_json=pretty(payload.attributes) if payload.attributes else "",
        events_json=pretty(payload.events) if payload.events else "",
        running=running_state(outline, node),
        first=nodes[0] if node.index > 0 else None,
        previous=nodes[node.index - 1] if node.index > 0 else None,
        next=nodes[node.index + 1] if node.index + 1 < len(nodes) else None,
        last=nodes[-1] if node.index + 1 < len(nodes) else None,
    )


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n…[{len(text) - limit:,} more characters not shown]"


def pretty(value: Any) -> str:
    """JSON for reading: indented, non-ASCII kept, cut when huge. Strings are shown as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clip(value)
    return clip(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return clip(content)
    if isinstance(content, list):
        # Content parts: text parts read as text, anything else (images, tool use) as JSON.
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            else:
                parts.append(json.dumps(part, indent=2, ensure_ascii=False, default=str))
        return clip("\n".join(parts))
    return pretty(content)


def _message(item: Any, default_role: str) -> Message:
    if isinstance(item, dict) and ("role" in item or "content" in item or "tool_calls" in item):
        calls = item.get("tool_calls")
        return Message(
            role=str(item.get("role") or default_role),
            text=_text_of(item.get("content")),
            name=str(item.get("name") or ""),
            tool_calls=pretty(calls) if calls else "",
            tool_call_id=str(item.get("tool_call_id") or ""),
        )
    return Message(role=default_role, text=_text_of(item))


def messages_of(value: Any, default_role: str = "input") -> list[Message]:
    """The messages of an LLM step's input or output, whatever shape they were stored in."""
    if value is None:
        return []
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list):
        return [_message(item, default_role) for item in value]
    return [_message(value, default_role)]


def messages_diff(before: list[Message], after: list[Message]) -> list[DiffBlock]:
    """What changed in the context between two model calls, message by message: usually a few
    messages appended; a truncated or summarised history shows as removed messages."""
    matcher = difflib.SequenceMatcher(
        None, [m.signature() for m in before], [m.signature() for m in after], autojunk=False
    )
    blocks = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            blocks.append(DiffBlock("same", count=i2 - i1))
            continue
        if op in ("delete", "replace"):
            blocks.append(DiffBlock("removed", before[i1:i2], i2 - i1))
        if op in ("insert", "replace"):
            blocks.append(DiffBlock("added", after[j1:j2], j2 - j1))
    return blocks


_PARAMETER = re.compile(
    r"(?:^|[._])(temperature|top_p|top_k|max_tokens|max_output_tokens|max_completion_tokens|"
    r"stop|stop_sequences|seed|frequency_penalty|presence_penalty|response_format|tool_choice|"
    r"reasoning_effort|parallel_tool_calls|n|stream)$"
)
_PARAMETER_BAGS = ("llm.invocation_parameters", "model_parameters", "invocation_parameters",
                   "parameters")


def parameters_of(attributes: dict) -> list[tuple[str, str]]:
    """The request parameters among a step's raw attributes, whichever convention sent them."""
    found: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in _PARAMETER_BAGS:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            if isinstance(value, dict):
                found.update(value)
            else:
                found[key] = value
        elif key.startswith("gen_ai.request.") and key != "gen_ai.request.model":
            found[key.removeprefix("gen_ai.request.")] = value
        elif _PARAMETER.search(key) and not key.startswith(("gen_ai.usage", "llm.token_count")):
            found[key] = value
    return [
        (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
        for k, v in found.items()
    ]


def documents_of(output: Any, attributes: dict | None) -> list[Document]:
    """A retrieval step's documents: its output when that is a list, else the OpenInference
    `retrieval.documents` attribute."""
    docs = output
    if isinstance(docs, dict) and isinstance(docs.get("documents"), list):
        docs = docs["documents"]
    if not isinstance(docs, list):
        docs = (attributes or {}).get("retrieval.documents")
    if not isinstance(docs, list):
        return []
    out = []
    for i, doc in enumerate(docs[:200]):
        if not isinstance(doc, dict):
            out.append(Document(f"#{i + 1}", "", _text_of(doc), ""))
            continue
        rest = dict(doc)
        text = next(
            (rest.pop(k) for k in ("content", "page_content", "text") if k in rest), ""
        )
        title = next((str(rest.pop(k)) for k in ("id", "title", "source") if k in rest), "")
        score = rest.pop("score", "")
        out.append(Document(title or f"#{i + 1}", str(score), _text_of(text), pretty(rest) if rest
                            else ""))
    return out
