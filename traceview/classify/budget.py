"""Budget failures: the run hit a turn, recursion, iteration, cost or time limit, or crossed one of
its agent's budgets.

Two rules:
- `budget.limit_error`: a runtime said so (MaxTurnsExceeded, GraphRecursionError, "maximum
  iterations reached", SWE-agent's exit_cost ...), in a step's error or exception event, in the
  invocation's error/exit/stop attributes, or in the final answer. The root is the step that
  carries it (the last step when only the invocation says so).
- `budget.crossed`: the agent's budgets (`InvocationData.budgets`, filled from the Agent's
  settings) or budgets sent in the trace's attributes (`max_tokens`, `budget.max_tokens`,
  `traceview.budget.max_steps`, `max_turns` ...), checked step by step, naming the step at
  which each one was crossed:
  - max_steps: steps other than agent spans, in order; max_turns: LLM calls;
  - max_tokens / max_cost_usd: running sum of step usage (run-level usage, when no step reports
    any, is charged to the last step);
  - max_depth: nesting of agent spans (the root agent is depth 1);
  - max_subagents: agent spans below the root agent;
  - max_duration_s: the first step that ends after the limit, counted from the run's start.

Both are symptoms: when an earlier cause explains them (the agent looped), the engine names that
cause instead.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from traceview.classify import helpers
from traceview.classify.base import SYMPTOM, Finding, TraceView, rule
from traceview.core.trace import BUDGET_FIELDS

_PREFIXES = ("traceview.budget.", "budget.", "agent.budget.", "gen_ai.agent.budget.")
_ALIASES = {"max_turns": "max_turns", "max_iterations": "max_turns", "max_llm_calls": "max_turns"}
# Keys of invocation attributes whose values may carry a limit message.
_STATUS_KEYS = ("error", "exit", "status", "reason", "stop", "termination", "outcome")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def _budget_attributes(view: TraceView) -> list[tuple[str, Any]]:
    # Budgets sent with the trace: on the invocation, or on its root span where span-based
    # formats (OTLP, the OpenAI Agents SDK) carry what describes the whole run, and inside a
    # `metadata` object there (the Agents SDK's trace and span metadata). Later sources win.
    sources = [view.inv.attributes or {}]
    if view.root is not None and view.root.attributes:
        sources.insert(0, view.root.attributes)
    pairs: list[tuple[str, Any]] = []
    for attrs in sources:
        meta = attrs.get("metadata")
        if isinstance(meta, dict):
            pairs += list(meta.items())
        pairs += list(attrs.items())
    return pairs


def budgets_of(view: TraceView) -> dict[str, Decimal]:
    """The budgets that apply: the agent's settings, overridden by those sent with the trace."""
    found: dict[str, Decimal] = {}
    for key in BUDGET_FIELDS:
        number = _number((view.inv.budgets or {}).get(key))
        if number is not None:
            found[key] = number
    for key, value in _budget_attributes(view):
        name = key.lower()
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        else:
            # Bare names only count on the invocation itself when they are budget names;
            # `max_tokens` bare is a model parameter (the output cap), not a run budget.
            if name == "max_tokens":
                continue
        name = _ALIASES.get(name, name)
        if name in BUDGET_FIELDS or name == "max_turns":
            number = _number(value)
            if number is not None:
                found[name] = number
    return found


@rule("budget.limit_error", "budget")
def limit_error(view: TraceView) -> list[Finding]:
    out = []
    for i, _s in enumerate(view.steps):
        text = view.text(i, "error") or view.events_text(i)
        if not text:
            continue
        m = helpers.TURN_LIMIT.search(text) or helpers.COST_LIMIT.search(text)
        if m:
            out.append(
                view.finding(
                    "budget.limit_error",
                    "budget",
                    i,
                    "limit reached: " + helpers.excerpt(text, m),
                    0.95,
                    role=SYMPTOM,
                )
            )
            break
    if out:
        return out
    last = len(view.steps) - 1 if view.steps else None
    for key, value in (view.inv.attributes or {}).items():
        if not any(k in key.lower() for k in _STATUS_KEYS):
            continue
        text = helpers.text_of(value, 1_000)
        m = helpers.TURN_LIMIT.search(text) or helpers.COST_LIMIT.search(text)
        if m:
            detail = f"invocation attribute {key}: " + helpers.excerpt(text, m)
            return [view.finding("budget.limit_error", "budget", last, detail, 0.9, role=SYMPTOM)]
    answer_pos, answer = view.final_answer()
    tail = answer[-600:]
    m = helpers.TURN_LIMIT.search(tail) or helpers.COST_LIMIT.search(tail)
    if m:
        at = answer_pos if answer_pos is not None else last
        return [
            view.finding(
                "budget.limit_error",
                "budget",
                at,
                "final output: " + helpers.excerpt(tail, m),
                0.85,
                role=SYMPTOM,
            )
        ]
    return []


@rule("budget.crossed", "budget")
def crossed(view: TraceView) -> list[Finding]:
    budgets = budgets_of(view)
    if not budgets or not view.steps:
        return []
    out = []
    for name, limit in budgets.items():
        at = _crossing(view, name, limit)
        if at is not None:
            i, used = at
            out.append(
                view.finding(
                    "budget.crossed",
                    "budget",
                    i,
                    f"{name} {_fmt(limit)} crossed at this step ({_fmt(used)} used)",
                    0.85,
                    role=SYMPTOM,
                )
            )
    return out


def _fmt(number: Decimal | float | int) -> str:
    return f"{number:f}".rstrip("0").rstrip(".") if isinstance(number, Decimal) else str(number)


def _crossing(view: TraceView, name: str, limit: Decimal) -> tuple[int, Any] | None:
    steps = view.steps
    if name in ("max_steps", "max_turns"):
        count = 0
        for i, s in enumerate(steps):
            if (s.kind != "agent") if name == "max_steps" else (s.kind == "llm"):
                count += 1
                if count > limit:
                    return i, count
        return None
    if name in ("max_tokens", "max_cost_usd"):
        total = Decimal(0)
        reported = False
        for i, s in enumerate(steps):
            if name == "max_tokens":
                used = (s.input_tokens or 0) + (s.output_tokens or 0)
                reported |= s.input_tokens is not None or s.output_tokens is not None
            else:
                used = s.cost_usd or 0
                reported |= s.cost_usd is not None
            total += Decimal(str(used))
            if total > limit:
                return i, total
        if not reported:
            inv = view.inv
            if name == "max_tokens":
                run = (inv.input_tokens or 0) + (inv.output_tokens or 0)
            else:
                run = inv.cost_usd or 0
            if Decimal(str(run)) > limit:
                return len(steps) - 1, run
        return None
    if name == "max_depth":
        depth: dict[str, int] = {}
        for i, s in enumerate(steps):
            parent = depth.get(s.parent_span_id or "", 0)
            d = parent + (1 if s.kind == "agent" else 0)
            depth[s.span_id] = d
            if s.kind == "agent" and d > limit:
                return i, d
        return None
    if name == "max_subagents":
        count = 0
        for i, s in enumerate(steps):
            if s.kind == "agent" and s is not view.root:
                count += 1
                if count > limit:
                    return i, count
        return None
    if name == "max_duration_s":
        start = view.inv.started_at or next((s.started_at for s in steps if s.started_at), None)
        if start is None:
            return None
        for i, s in enumerate(steps):
            # An agent span ends when its children do: only its start says when it ran.
            end = s.started_at if s.kind == "agent" else (s.ended_at or s.started_at)
            if end is not None and (end - start).total_seconds() > limit:
                return i, round((end - start).total_seconds(), 3)
        if view.inv.ended_at and (view.inv.ended_at - start).total_seconds() > limit:
            return len(steps) - 1, round((view.inv.ended_at - start).total_seconds(), 3)
        return None
    return None
