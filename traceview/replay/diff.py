"""Run diff: two invocations side by side, their steps aligned as sequences, not by index.

Each step becomes a key (kind, name, tool, arguments). difflib's matcher (longest matching
blocks, the ratcliff-obershelp cousin of Needleman-Wunsch, linear in practice on runs that share
most of their steps) aligns the two key sequences; inside each stretch that does not match, a
second alignment on the looser key (kind, name, tool) pairs the steps that are the same call made
differently (other arguments), and what is left is a step only one run has. Paired steps are
then compared field by field: result, status and error, model, prompt, tokens, cost.

The first row that differs is the first divergence: where the two runs stopped doing the same
thing. Runs longer than MAX_DIFF_STEPS are compared on their first MAX_DIFF_STEPS steps, and the
page says so.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Q

from traceview.core.models import Invocation, Step

MAX_DIFF_STEPS = 5000
# Arguments and results are compared whole but shown cut to this many characters.
SHOWN_CHARS = 400
DIFF_FIELDS = (
    "id", "span_id", "kind", "name", "status", "tool_name", "model", "error_type",
    "error_message", "input_tokens", "output_tokens", "cost_usd", "started_at", "ended_at",
)


def _canonical(value: Any) -> str:
    """A value as comparable text: JSON with sorted keys, so {"a":1,"b":2} equals {"b":2,"a":1}."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


@dataclass
class DiffStep:
    """One step as the diff reads it: light columns plus arguments, result and model input."""

    id: int
    span_id: str
    kind: str
    name: str
    status: str
    tool: str
    model: str
    error: str
    tokens: int | None
    cost: Decimal | None
    duration_s: float | None
    arguments: str
    result: str
    prompt: str  # an LLM step's input messages, as comparable text

    @property
    def key(self) -> tuple:
        return (self.kind, self.name, self.tool, self.arguments)

    @property
    def loose_key(self) -> tuple:
        return (self.kind, self.name, self.tool)

    @property
    def label(self) -> str:
        return self.name or self.tool or self.span_id

    @property
    def arguments_shown(self) -> str:
        return _shown(self.arguments)

    @property
    def result_shown(self) -> str:
        return _shown(self.result)


@dataclass
class DiffRow:
    op: str  # "same", "changed", "only_a", "only_b"
    a: DiffStep | None
    b: DiffStep | None
    differences: list[str] = field(default_factory=list)
    first: bool = False

    @property
    def differs(self) -> bool:
        return self.op != "same" or bool(self.differences)

    @property
    def sides(self) -> tuple[DiffStep | None, DiffStep | None]:
        return (self.a, self.b)


@dataclass
class SummaryLine:
    label: str
    a: str
    b: str

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass
class RunDiff:
    a: Invocation
    b: Invocation
    rows: list[DiffRow]
    summary: list[SummaryLine]
    first_divergence: int | None  # index into rows
    truncated: bool
    counts: dict[str, int]


def diff_steps(invocation: Invocation, limit: int = MAX_DIFF_STEPS) -> tuple[list[DiffStep], bool]:
    """The first `limit` steps of a run in the order they happened, with what the diff compares
    (one query; payload columns only for tool and model steps)."""
    rows = list(
        Step.objects.filter(invocation=invocation)
        .order_by(F("started_at").asc(nulls_last=True), "seq", "id")
        .values_list(*DIFF_FIELDS, "payload__tool_arguments", "payload__tool_result",
                     "payload__input", "payload__output", named=True)[: limit + 1]
    )
    truncated = len(rows) > limit
    steps = []
    for r in rows[:limit]:
        tokens = None
        if r.input_tokens is not None or r.output_tokens is not None:
            tokens = (r.input_tokens or 0) + (r.output_tokens or 0)
        duration = None
        if r.started_at and r.ended_at:
            duration = (r.ended_at - r.started_at).total_seconds()
        llm = r.kind == "llm"
        result = r.payload__tool_result if r.kind == "tool" else (
            r.payload__output if llm else None)
        steps.append(DiffStep(
            id=r.id, span_id=r.span_id, kind=r.kind, name=r.name, status=r.status,
            tool=r.tool_name, model=r.model,
            error=" ".join(x for x in (r.error_type, r.error_message) if x),
            tokens=tokens, cost=r.cost_usd, duration_s=duration,
            arguments=_canonical(r.payload__tool_arguments),
            result=_canonical(result),
            prompt=_canonical(r.payload__input) if llm else "",
        ))
    return steps, truncated


def _compare(a: DiffStep, b: DiffStep) -> list[str]:
    """What differs between two aligned steps, in words."""
    out = []
    if a.arguments != b.arguments:
        out.append("called with other arguments")
    if a.status != b.status:
        out.append(f"status {a.status} → {b.status}")
    if a.error != b.error and (a.error or b.error):
        out.append("another error" if a.error and b.error else
                   ("failed only in A" if a.error else "failed only in B"))
    if a.result != b.result:
        out.append("another output" if a.kind == "llm" else "another result")
    if a.model != b.model:
        out.append(f"model {a.model or '—'} → {b.model or '—'}")
    if a.kind == "llm" and a.prompt != b.prompt:
        out.append("other input messages")
    if a.tokens != b.tokens and a.tokens is not None and b.tokens is not None:
        out.append(f"tokens {a.tokens:,} → {b.tokens:,}")
    return out


def align(a: list[DiffStep], b: list[DiffStep]) -> list[DiffRow]:
    """The two step sequences aligned (see the module docstring)."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, [s.key for s in a], [s.key for s in b],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for x, y in zip(a[i1:i2], b[j1:j2], strict=True):
                rows.append(DiffRow("same", x, y, _compare(x, y)))
            continue
        rows.extend(_align_loose(a[i1:i2], b[j1:j2]))
    for row in rows:
        if row.op == "same" and row.differences:
            row.op = "changed"
    return rows


def _align_loose(a: list[DiffStep], b: list[DiffStep]) -> list[DiffRow]:
    """A stretch that differs: the same calls made differently are paired, the rest stand alone."""
    rows = []
    matcher = difflib.SequenceMatcher(None, [s.loose_key for s in a], [s.loose_key for s in b],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(DiffRow("changed", x, y, _compare(x, y))
                        for x, y in zip(a[i1:i2], b[j1:j2], strict=True))
            continue
        rows.extend(DiffRow("only_a", x, None, ["only in A"]) for x in a[i1:i2])
        rows.extend(DiffRow("only_b", None, y, ["only in B"]) for y in b[j1:j2])
    return rows


def _money(inv: Invocation) -> str:
    if inv.unpriced_calls and not inv.cost_usd:
        return "unknown"
    prefix = "≥ " if inv.unpriced_calls else ""
    return f"{prefix}${inv.cost_usd:.4f}"


def _duration(inv: Invocation) -> str:
    return f"{inv.duration_s:.2f} s" if inv.duration_s is not None else "—"


def _models(steps: list[DiffStep]) -> str:
    return ", ".join(sorted({s.model for s in steps if s.model})) or "—"


def _first_prompt(steps: list[DiffStep]) -> str:
    return next((s.prompt for s in steps if s.kind == "llm" and s.prompt), "")


def run_diff(a: Invocation, b: Invocation) -> RunDiff:
    """Two runs compared: the run-level summary and the aligned steps."""
    steps_a, cut_a = diff_steps(a)
    steps_b, cut_b = diff_steps(b)
    rows = align(steps_a, steps_b)
    # An agent step is a container: its status and totals follow from its children, so the
    # divergence is where the children first differ.
    first = next((i for i, r in enumerate(rows) if r.differs and not (
        r.op == "changed" and r.a.kind == "agent" and r.b.kind == "agent")), None)
    if first is not None:
        rows[first].first = True
    prompt_a, prompt_b = _first_prompt(steps_a), _first_prompt(steps_b)
    summary = [
        SummaryLine("Status", a.status, b.status),
        SummaryLine("Category", a.category or "—", b.category or "—"),
        SummaryLine("Version", a.agent_version or "—", b.agent_version or "—"),
        SummaryLine("Models", _models(steps_a), _models(steps_b)),
        SummaryLine("First prompt", "same" if prompt_a == prompt_b else "differs",
                    "same" if prompt_a == prompt_b else "differs"),
        SummaryLine("Steps", f"{a.step_count:,}", f"{b.step_count:,}"),
        SummaryLine("Tool calls", f"{a.tool_call_count:,}", f"{b.tool_call_count:,}"),
        SummaryLine("Errors", f"{a.error_count:,}", f"{b.error_count:,}"),
        SummaryLine("Tokens", f"{a.total_tokens:,}", f"{b.total_tokens:,}"),
        SummaryLine("Cost", _money(a), _money(b)),
        SummaryLine("Duration", _duration(a), _duration(b)),
    ]
    if prompt_a != prompt_b:
        # Marked as a difference on both sides.
        summary[4] = SummaryLine("First prompt", "differs", "differs (see the model steps)")
    counts = {op: sum(1 for r in rows if r.op == op)
              for op in ("same", "changed", "only_a", "only_b")}
    return RunDiff(a=a, b=b, rows=rows, summary=summary, first_divergence=first,
                   truncated=cut_a or cut_b, counts=counts)


def diff_baseline(invocation: Invocation) -> Invocation | None:
    """The run to compare a failed run with: the last successful run of the same agent on the
    same task (same name or same input) when there is one, else the agent's last successful run
    before it (or, failing that, after it)."""
    if invocation.agent_id is None:
        return None
    ok = (
        Invocation.objects.filter(project_id=invocation.project_id, agent_id=invocation.agent_id,
                                  status="ok", category="")
        .exclude(pk=invocation.pk).select_related("agent", "project")
    )
    task = Q()
    if invocation.name:
        task |= Q(name=invocation.name)
    if invocation.input is not None:
        task |= Q(input=invocation.input)
    before = ok.filter(created_at__lte=invocation.created_at).order_by("-created_at", "-id")
    if task:
        same = ok.filter(task).order_by("-created_at", "-id").first()
        if same is not None:
            return same
    return before.first() or ok.order_by("created_at", "id").first()


def version_run_pair(agent_id: int, a: str, b: str, start, end) -> tuple[int, int] | None:
    """Two runs worth diffing between versions `a` and `b` of an agent in [start, end): the
    latest finished run of B, and the latest of A on the same task (same name) when there is
    one, else A's latest. None when either version has no finished run in the range."""
    runs = Invocation.objects.filter(
        agent_id=agent_id, created_at__gte=start, created_at__lt=end
    ).exclude(status="running").order_by("-created_at", "-id")
    run_b = runs.filter(agent_version=b).values("id", "name").first()
    if run_b is None or a == b:
        return None
    of_a = runs.filter(agent_version=a)
    run_a = (of_a.filter(name=run_b["name"]).values("id").first() if run_b["name"] else None) \
        or of_a.values("id").first()
    return (run_a["id"], run_b["id"]) if run_a else None
