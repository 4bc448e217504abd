"""What a recorded scenario is made of: tools with scripted outcomes, budgets, the label.

A `Scenario` is one agent run described independently of any framework: the agent's
instructions and the user's request, its tools (`tool(...)`, real Python functions whose outcome
on each call is scripted: a result, an exception, a real timeout, a huge output, nothing found),
the model's turns (`servers.Call`, `servers.Say`, `servers.RateLimited`), the owners' budgets,
and the label written from /work/shared/CLASSIFICATION.md: the category, the root step as a
logical key that names the same step in every route (`llm(3)`: the third model call;
`tool_call("refund", 1)`: the first call of refund; `limit()`: the deepest step carrying the limit
error), and one line saying which rule gives it.

Failures that the owners' code raises (a budget, a deadline, a sub-agent limit) are
`RunLimitError`s: every framework lets them abort the run. Everything else a tool raises is a
`ToolFailure`, which every framework reports back to the model as that tool's error.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from dataclasses import dataclass, field
from typing import Any

TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}
# List prices (USD per million tokens) the owners' cost guard charges.
PRICES = {"gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60), "gpt-4": (30.0, 60.0),
          "gpt-3.5-turbo": (0.50, 1.50)}


class ToolFailure(Exception):
    """A tool's own failure, reported to the model (subclassed under the name the script gives)."""


class RunLimitError(Exception):
    """A limit the agent's owners enforce; it aborts the run."""


_error_types: dict[tuple[str, type], type] = {}


def error_type(name: str, base: type = ToolFailure) -> type:
    key = (name, base)
    if key not in _error_types:
        bases = (base, TimeoutError) if name.endswith("Timeout") else (base,)
        _error_types[key] = type(name, bases, {"__module__": "scripted_tools"})
    return _error_types[key]


# --- what one call of a tool does ---------------------------------------------------------------


@dataclass
class Ok:
    result: Any
    seconds: float = 0.0  # real time the tool takes


@dataclass
class Fail:
    type: str
    message: str
    seconds: float = 0.0


@dataclass
class Hangs:
    """The tool's backend does not answer; the tool's own timeout fires for real."""

    service: str
    timeout: float = 0.15


def ok(result: Any, seconds: float = 0.0) -> Ok:
    return Ok(result, seconds)


def fail(type_: str, message: str, seconds: float = 0.0) -> Fail:
    return Fail(type_, message, seconds)


def hangs(service: str, timeout: float = 0.15) -> Hangs:
    return Hangs(service, timeout)


@dataclass
class SubAgent:
    """A tool that runs another agent (agents-as-tools): its own instructions, tools, turns."""

    name: str
    instructions: str
    turns: list
    tools: list = field(default_factory=list)
    model: str = "gpt-4o-mini"


@dataclass
class ToolSpec:
    name: str
    description: str
    params: dict[str, str]
    outcomes: list  # one per call; the last one repeats
    agent: SubAgent | None = None
    calls: int = 0

    def outcome(self) -> Any:
        n = min(self.calls, len(self.outcomes) - 1)
        self.calls += 1
        return self.outcomes[n]


def tool(name: str, description: str, /, *outcomes, agent: SubAgent | None = None,
         **params: str) -> ToolSpec:
    return ToolSpec(name, description, params, list(outcomes) or [ok("done")], agent)


# --- the logical root step ----------------------------------------------------------------------


def llm(n: int) -> dict:
    return {"kind": "llm", "ordinal": n}


def tool_call(name: str, n: int = 1) -> dict:
    return {"kind": "tool", "name": name, "ordinal": n}


def limit() -> dict:
    return {"kind": "limit"}


# --- a scenario ---------------------------------------------------------------------------------

ROUTES = ("openai-agents", "openinference-agents", "pydantic-ai", "langgraph", "langfuse")
DEFAULT_ROUTES = ("openai-agents", "openinference-agents", "pydantic-ai", "langgraph")
AGENTS_ROUTES = ("openai-agents", "openinference-agents", "langfuse")


@dataclass
class Scenario:
    key: str
    domain: str
    agent: str
    instructions: str
    prompt: str
    tools: list
    turns: list
    category: str | None  # planning | tool | context | budget | None (did not fail)
    root: dict | None
    why: str
    model: str = "gpt-4o"
    budget: dict = field(default_factory=dict)  # max_turns, max_total_tokens, max_cost_usd,
    #                                             deadline_s, max_subagents
    declare_budget: bool = True  # False: the limit shows only in the error text
    handoffs: dict = field(default_factory=dict)  # agent name -> (instructions, handoff targets)
    trim_to: int | None = None  # the app keeps only the last N messages of the history
    routes: tuple = DEFAULT_ROUTES
    batch: str = "base"  # written, labelled and split apart from the other batches

    def label(self) -> dict:
        label = {"category": self.category, "root": self.root, "why": self.why,
                 "domain": self.domain}
        return label if self.batch == "base" else {**label, "batch": self.batch}


def batch_adder(batch: str, scenarios: list):
    """The `add(**fields)` a batch module writes its scenarios with: each lands in `scenarios`,
    marked as written and split apart from the other batches."""

    def add(**fields) -> None:
        scenarios.append(Scenario(batch=batch, **fields))

    return add


class Guard:
    """The owners' limits for one run, checked where the owners' code can check them: after each
    model call (tokens, cost), before each tool call (deadline), when a sub-agent starts."""

    def __init__(self, scenario: Scenario):
        self.budget = scenario.budget
        self.model = scenario.model
        self.started = time.monotonic()
        self.tokens = 0
        self.cost = 0.0
        self.llm_calls = 0
        self.subagents = 0
        self.fired_at_llm: int | None = None
        self.subruns: list[str] = []  # stub runs of the sub-agents started

    def after_llm(self, prompt: int, completion: int, model: str | None = None) -> None:
        self.llm_calls += 1
        self.tokens += prompt + completion
        price_in, price_out = PRICES[model or self.model]
        self.cost += (prompt * price_in + completion * price_out) / 1_000_000
        limit_tokens = self.budget.get("max_total_tokens")
        if limit_tokens and self.tokens > limit_tokens:
            self.fired_at_llm = self.llm_calls
            raise error_type("TokenBudgetExceeded", RunLimitError)(
                f"token budget exhausted: this run has used {self.tokens} tokens, "
                f"over its limit of {limit_tokens}")
        limit_cost = self.budget.get("max_cost_usd")
        if limit_cost and self.cost > limit_cost:
            self.fired_at_llm = self.llm_calls
            # LiteLLM's wording for a crossed max_budget.
            raise error_type("BudgetExceededError", RunLimitError)(
                f"Budget has been exceeded! Current cost: {self.cost:.4f}, "
                f"Max budget: {limit_cost}")

    def before_tool(self, name: str) -> None:
        deadline = self.budget.get("deadline_s")
        elapsed = time.monotonic() - self.started
        if deadline and elapsed > deadline:
            raise error_type("RunDeadlineExceeded", RunLimitError)(
                f"the run's {deadline:g} s deadline passed ({elapsed:.1f} s elapsed) "
                f"before {name} could start")

    def start_subagent(self, name: str) -> None:
        most = self.budget.get("max_subagents")
        self.subagents += 1
        if most is not None and self.subagents > most:
            raise error_type("SubagentLimitExceeded", RunLimitError)(
                f"refusing to start sub-agent {name!r}: this orchestrator may run at most "
                f"{most} sub-agents per request")


# --- tools as real Python functions --------------------------------------------------------------


def tool_function(spec: ToolSpec, guard: Guard, run_subagent=None):
    """An async function with the tool's typed signature, whose body does what the script says
    for this call. `run_subagent(agent, prompt)` runs a SubAgent in the caller's framework."""

    async def call(**kwargs):
        guard.before_tool(spec.name)
        if spec.agent is not None:
            guard.start_subagent(spec.agent.name)
            return await run_subagent(spec.agent, json.dumps(kwargs))
        outcome = spec.outcome()
        if isinstance(outcome, Hangs):
            try:
                await asyncio.wait_for(asyncio.sleep(30), outcome.timeout)
            except TimeoutError:
                raise error_type("ReadTimeout")(
                    f"{outcome.service} did not answer within {outcome.timeout:g} s") from None
        if outcome.seconds:
            await asyncio.sleep(outcome.seconds)
        if isinstance(outcome, Fail):
            raise error_type(outcome.type)(outcome.message)
        result = outcome.result
        return result if isinstance(result, str) else json.dumps(result)

    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=TYPES[t])
              for n, t in spec.params.items()]
    call.__name__ = spec.name
    call.__qualname__ = spec.name
    call.__doc__ = spec.description
    call.__signature__ = inspect.Signature(params, return_annotation=str)
    call.__annotations__ = {**{n: TYPES[t] for n, t in spec.params.items()}, "return": str}
    return call

def lines(prefix: str, n: int, width: int = 110) -> str:
    """n lines of plain text (no quotes, so JSON does not grow them), each numbered."""
    body = (prefix + " ") * (width // (len(prefix) + 1))
    return "\n".join(f"{i:04d} {body}"[:width] for i in range(n))


def reset(scenario: Scenario) -> None:
    """Tools count their calls; a new run starts from the first outcome again."""
    for spec in scenario.tools:
        spec.calls = 0
        if spec.agent:
            for sub in spec.agent.tools:
                sub.calls = 0
