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

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from traceview.classify import helpers
from traceview.classify.base import SYMPTOM, Finding, TraceView, rule
from traceview.core.trace import BUDGET_FIELDS

_PREFIXES = ("traceview.budget.", "budget.", "budgets.", "agent.budget.", "gen_ai.agent.budget.",
             "limits.", "metadata.budget.", "metadata.")
# What senders call each budget. A bare `max_tokens` is the model's output cap, not a run budget,
# unless it sits under a budget prefix or in a `budget` object.
_ALIASES = {
    "max_turns": "max_turns", "max_iterations": "max_turns", "max_llm_calls": "max_turns",
    "max_requests": "max_turns", "request_limit": "max_turns",
    "max_total_tokens": "max_tokens", "total_tokens_limit": "max_tokens",
    "token_budget": "max_tokens", "token_limit": "max_tokens", "max_tokens_total": "max_tokens",
    "max_cost": "max_cost_usd", "max_budget": "max_cost_usd", "max_budget_usd": "max_cost_usd",
    "cost_budget": "max_cost_usd", "cost_limit": "max_cost_usd", "cost_budget_usd": "max_cost_usd",
    "budget_usd": "max_cost_usd", "max_spend": "max_cost_usd", "max_spend_usd": "max_cost_usd",
    "deadline": "max_duration_s", "deadline_s": "max_duration_s",
    "deadline_seconds": "max_duration_s", "max_duration": "max_duration_s",
    "time_limit_s": "max_duration_s", "time_limit": "max_duration_s",
    "max_runtime_s": "max_duration_s", "max_wall_clock_s": "max_duration_s",
    "wall_clock_limit_s": "max_duration_s", "max_execution_time": "max_duration_s",
    "max_sub_agents": "max_subagents", "subagent_limit": "max_subagents",
    "max_delegations": "max_subagents",
}
_BUDGET_CONTAINERS = ("budget", "budgets", "limits")
# Keys of invocation attributes whose values may carry a limit message.
_STATUS_KEYS = ("error", "exit", "status", "reason", "stop", "termination", "outcome")
# Which budget a limit error is about, for rooting it where that budget was crossed.
_KIND_BUDGETS = {
    "tokens": ("max_tokens",), "cost": ("max_cost_usd",), "deadline": ("max_duration_s",),
    "subagents": ("max_subagents",), "turns": ("max_turns", "max_steps", "max_depth"),
}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def _object(value: Any) -> dict | None:
    # Exporters that only carry strings (OpenInference's `metadata`, LangChain's) send the
    # object as JSON text.
    if isinstance(value, str) and value.strip()[:1] == "{" and len(value) < 20_000:
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _budget_attributes(view: TraceView) -> list[tuple[str, Any, bool]]:
    # Budgets sent with the trace: on the invocation, on its root span (where span-based formats
    # put what describes the whole run), among the OTLP resource attributes, and inside a
    # `metadata` object there (the Agents SDK's trace metadata, OpenInference's `metadata` JSON),
    # possibly under a `budget` object. Later sources win. The flag says the pair sits in a
    # budget object, where every limit name counts.
    sources: list[dict] = []
    if view.root is not None and view.root.attributes:
        sources.append(view.root.attributes)
    sources.append(view.inv.attributes or {})
    pairs: list[tuple[str, Any, bool]] = []
    for attrs in sources:
        layers = [attrs]
        for key in ("otel.resource", "resource", "metadata"):
            inner = _object(attrs.get(key))
            if inner is not None:
                layers.append(inner)
        for layer in layers:
            for key, value in layer.items():
                inner = _object(value) if key.lower() in _BUDGET_CONTAINERS else None
                if inner is not None:
                    pairs += [(k, v, True) for k, v in inner.items()]
                else:
                    pairs.append((key, value, False))
    return pairs


def budgets_of(view: TraceView) -> dict[str, Decimal]:
    """The budgets that apply: the agent's settings, overridden by those sent with the trace."""
    found: dict[str, Decimal] = {}
    for key in BUDGET_FIELDS:
        number = _number((view.inv.budgets or {}).get(key))
        if number is not None:
            found[key] = number
    for key, value, in_budget in _budget_attributes(view):
        name = key.lower()
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                in_budget = in_budget or "budget" in prefix or "limits" in prefix
                break
        if name == "max_tokens" and not in_budget:
            continue
        name = _ALIASES.get(name, name)
        if name in BUDGET_FIELDS or name == "max_turns":
            number = _number(value)
            if number is not None and number > 0:
                found[name] = number
    return found


def _limit_errors(view: TraceView) -> tuple[int, str, re.Match, str] | None:
    """The step where a limit error happened: (position, kind, match, text) of the innermost
    step whose error names one of the owners' limits."""
    carriers: dict[int, tuple[str, re.Match, str]] = {}
    for i in range(len(view.steps)):
        text = view.text(i, "error") or view.events_text(i)
        found = helpers.limit_kind(text)
        if found:
            carriers[i] = (found[0], found[1], text)
    if not carriers:
        return None
    i = view.innermost(list(carriers))
    return (i, *carriers[i])


@rule("budget.limit_error", "budget", version=2)
def limit_error(view: TraceView) -> list[Finding]:
    found = _limit_errors(view)
    if found is not None:
        i, kind, m, text = found
        detail = f"{kind} limit reached: " + helpers.excerpt(text, m)
        crossing = _crossed_by_usage(view, kind, text)
        if crossing is not None:
            # A token or cost budget is where the running total first went over it, which is
            # before the runtime noticed.
            j, name, limit, used = crossing
            detail = (
                f"{name} {_fmt(limit)} crossed at this step ({_fmt(used)} used); the run then "
                "stopped: " + helpers.excerpt(text, m)
            )
            return [view.finding("budget.limit_error", "budget", j, detail, 0.95, role=SYMPTOM)]
        return [view.finding("budget.limit_error", "budget", i, detail, 0.95, role=SYMPTOM)]
    last = len(view.steps) - 1 if view.steps else None
    for key, value in (view.inv.attributes or {}).items():
        if not any(k in key.lower() for k in _STATUS_KEYS):
            continue
        text = helpers.text_of(value, 1_000)
        hit = helpers.limit_kind(text)
        if hit:
            detail = f"invocation attribute {key}: " + helpers.excerpt(text, hit[1])
            return [view.finding("budget.limit_error", "budget", last, detail, 0.9, role=SYMPTOM)]
    answer_pos, answer = view.final_answer()
    tail = answer[-600:]
    m = helpers.TURN_LIMIT.search(tail) or helpers.COST_BUDGET.search(tail)
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


def _crossed_by_usage(
    view: TraceView, kind: str, text: str
) -> tuple[int, str, Decimal, Any] | None:
    """For a token or cost limit error: the step after which the run's usage first went over
    the budget (declared, else the limit the error states)."""
    if kind not in ("tokens", "cost"):
        return None
    name = "max_tokens" if kind == "tokens" else "max_cost_usd"
    limit = budgets_of(view).get(name) or _number(helpers.limit_number(text))
    if not limit:
        return None
    at = _crossing(view, name, limit)
    return (at[0], name, limit, at[1]) if at is not None else None


@rule("budget.crossed", "budget", version=2)
def crossed(view: TraceView) -> list[Finding]:
    budgets = budgets_of(view)
    if not budgets or not view.steps:
        return []
    # A limit error already roots its own budget where the run stopped.
    found = _limit_errors(view)
    covered = _KIND_BUDGETS.get(found[1], ()) if found else ()
    out = []
    for name, limit in budgets.items():
        if name in covered:
            continue
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
        # Model calls carry the usage; spans around them (agent runs, turns) often repeat the
        # sum of their children, so they are counted only when no model call reports any.
        field_of = "input_tokens" if name == "max_tokens" else "cost_usd"
        if any(getattr(steps[i], field_of) is not None for i in view.llm_steps):
            counted = [(i, steps[i]) for i in view.llm_steps]
        else:
            counted = list(enumerate(steps))
        for i, s in counted:
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
            if s.kind == "agent" and s is not view.root and _subagent(view, i):
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


def _subagent(view: TraceView, i: int) -> bool:
    """Whether agent span `i` is a sub-agent: another agent than the one it runs under. Some
    exporters wrap one agent's run in two agent spans of the same name (OpenInference's Agents
    SDK instrumentor), and the outermost agent under a trace span (the Agents SDK's) is the
    run's own agent: neither is a sub-agent."""
    name = view.steps[i].agent_name or view.steps[i].name
    parent = view.steps[i].parent_span_id
    for _ in range(64):
        if parent is None or parent not in view.pos:
            return False
        p = view.steps[view.pos[parent]]
        if p.kind == "agent":
            return (p.agent_name or p.name) != name
        parent = p.parent_span_id
    return True
