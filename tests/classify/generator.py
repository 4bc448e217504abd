# ruff: noqa: E501 -- error wordings and payloads read best on one line each
"""A seeded generator of labelled invocations for measuring the classifier.

Each case is an `InvocationData` with the category and root step a careful engineer would give it
(docs/classifier.md states the decisions, e.g. a loop that ends in a turn limit is planning, rooted
at the loop's first call). Cases vary agent and tool names, span id styles, wording of errors and
answers, the number of ordinary steps around the failure, and the order steps arrive in, so the
corpus does not mirror the rules' literals. Wordings are the kinds runtimes, HTTP stacks and
models really produce.

`generate(seed, per_signal)` returns the same corpus for the same arguments.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from traceview.core.trace import InvocationData, StepData

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

AGENTS = [
    "support-bot",
    "ResearchAgent",
    "travel_planner",
    "code-fixer",
    "billing assistant",
    "triage",
    "SalesCopilot",
    "docs_qa",
    "ops-runner",
    "recipe-helper",
]
MODELS = [
    "gpt-4o",
    "gpt-4o-mini-2024-07-18",
    "claude-3-5-sonnet-20241022",
    "claude-sonnet-4-20250514",
    "gemini-1.5-pro-002",
    "llama-3.1-70b-instruct",
    "gpt-4.1-mini",
    "mistral-large-latest",
]
SMALL_MODELS = [
    ("gpt-4-0613", 8_192),
    ("gpt-3.5-turbo-0125", 16_385),
    ("llama-3-8b-instruct", 8_192),
    ("mixtral-8x7b-instruct", 32_768),
]
TOOLS = {
    "get_weather": lambda r: {"city": r.choice(["Paris", "Oslo", "Lima", "Kyoto", "Austin"])},
    "lookup_order": lambda r: {"order_id": r.randint(1000, 99999)},
    "create_ticket": lambda r: {
        "title": r.choice(["Refund", "Login issue", "Broken link"]),
        "priority": r.choice(["low", "high"]),
    },
    "run_sql": lambda r: {
        "query": f"SELECT * FROM {r.choice(['orders', 'users', 'events'])} LIMIT {r.randint(5, 50)}"
    },
    "send_email": lambda r: {"to": f"user{r.randint(1, 99)}@example.com", "subject": "Update"},
    "read_file": lambda r: {
        "path": r.choice(["src/app.py", "README.md", "config/settings.yaml", "lib/util.ts"])
    },
    "calendar.create_event": lambda r: {
        "day": r.choice(["mon", "tue", "wed"]),
        "hour": r.randint(8, 18),
    },
    "convert_currency": lambda r: {
        "amount": r.randint(1, 900),
        "from": "USD",
        "to": r.choice(["EUR", "JPY", "GBP"]),
    },
    "execute_python": lambda r: {
        "code": r.choice(["print(sum(range(10)))", "import pandas as pd\nprint(pd.__version__)"])
    },
    "update_record": lambda r: {
        "id": r.randint(1, 500),
        "fields": {"status": r.choice(["active", "closed"])},
    },
}
SEARCH_TOOLS = ["web_search", "search_docs", "kb_lookup", "vector_search", "retrieve_passages"]
TOPICS = [
    "refund policy for damaged items",
    "capacity factor of offshore wind",
    "python asyncio cancellation",
    "visa rules for Japan",
    "quarterly revenue 2023",
    "side effects of ibuprofen",
    "kubernetes pod eviction",
]

OK_RESULTS = [
    lambda r: {"status": "ok", "value": r.randint(1, 999)},
    lambda r: {"temp_c": r.randint(-5, 35), "sky": r.choice(["sunny", "cloudy", "rain"])},
    lambda r: f"Found {r.randint(1, 12)} matching rows.",
    lambda r: {
        "id": r.randint(1, 9999),
        "error": None,
        "items": [r.randint(1, 9) for _ in range(3)],
    },
    lambda r: "exit code 0\n" + r.choice(["45", "2.2.1", "done"]),
    lambda r: f"Order shipped on 2026-02-{r.randint(10, 28)} via {r.choice(['UPS', 'DHL'])}.",
]
HTTP_ERRORS = [
    "HTTP/1.1 502 Bad Gateway",
    "500 Internal Server Error",
    "404 Not Found: /v2/orders/{id}",
    "403 Forbidden",
    "HTTP 503 Service Unavailable",
]
EXCEPTIONS = [
    (
        "ConnectionError",
        "HTTPSConnectionPool(host='api.internal', port=443): Max retries exceeded with url: /v1/items",
    ),
    ("KeyError", "'customer_id'"),
    ("PermissionError", "[Errno 13] Permission denied: '/var/data/out.csv'"),
    ("ValueError", "could not convert string to float: 'N/A'"),
    ("RuntimeError", "upstream returned an empty body"),
    ("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.12:5432"),
]
TURN_LIMITS = [
    ("MaxTurnsExceeded", lambda n: f"Max turns ({n}) exceeded"),
    (
        "GraphRecursionError",
        lambda n: (
            f"Recursion limit of {n} reached without hitting a stop condition. You can increase the limit by setting the `recursion_limit` config key."
        ),
    ),
    ("AgentError", lambda n: f"Agent stopped: maximum iterations ({n}) reached"),
    ("LoopLimit", lambda n: f"Reached the maximum number of steps ({n}) for this run"),
    ("StopReason", lambda n: "exit_cost: the run's cost limit was reached"),
]
CONTEXT_ERRORS = [
    lambda n: (
        f"Error code: 400 - {{'error': {{'message': \"This model's maximum context length is {n} tokens. However, your messages resulted in {n + 9312} tokens.\", 'code': 'context_length_exceeded'}}}}"
    ),
    lambda n: f"prompt is too long: {n + 4411} tokens > {n} maximum",
    lambda n: (
        "The input token count exceeds the maximum number of tokens allowed for this model's context window."
    ),
    lambda n: f"Request exceeds the model's context window of {n} tokens",
]
GIVE_UPS = [
    "I'm sorry, but I was unable to find that information.",
    "Unfortunately I couldn't complete the booking.",
    "I cannot determine the answer with the tools I have.",
    "I wasn't able to locate the file you mentioned.",
    "Sorry — I'm not able to finish this request.",
]
CLAIMS = [
    "Done! The ticket has been created and the customer was notified.",
    "I've updated the record successfully.",
    "Your refund was processed; you'll see it in 3-5 days.",
    "All set: the meeting is scheduled for Tuesday at 10.",
    "The email has been sent to the customer.",
]
ANSWERS = [
    "Here is what I found: the order shipped on Monday.",
    "The forecast for tomorrow is 18°C and sunny.",
    "Total revenue for the quarter was $4.2M.",
    "The function returns early when the list is empty; fixed by a guard.",
    "You can cancel within 30 days for a full refund.",
]
THOUGHTS = [
    "Let me check that.",
    "I'll look this up.",
    "Next I need the order details.",
    "Calling the tool now.",
    "I should verify this first.",
    "Let me try a different approach.",
]


@dataclass(slots=True)
class Case:
    signal: str
    invocation: InvocationData
    category: str | None
    root_step: str | None


class Builder:
    """Builds one invocation with randomized ids, timings and ordinary steps."""

    def __init__(self, r: random.Random, status: str = "error", **kw: Any):
        self.r = r
        self.agent = r.choice(AGENTS)
        self.model = r.choice(MODELS)
        self.id_style = r.choice(["hex", "named", "counter"])
        self.t = 0.0
        self.n = 0
        self.inv = InvocationData(
            trace_id=self._id(), agent=self.agent, status=status, started_at=T0, **kw
        )
        self.root = self.add("agent", name=self.agent, status=status)
        self.tools = r.sample(sorted(TOOLS), k=4)
        self._turn = None

    def _id(self) -> str:
        self.n += 1
        if self.id_style == "hex":
            return f"{self.r.getrandbits(64):016x}"
        if self.id_style == "named":
            return f"span-{self.r.choice(['a', 'b', 'c', 'x'])}{self.n}-{self.r.randint(100, 999)}"
        return str(self.n)

    def add(self, kind: str, parent: str | None = None, **kw: Any) -> str:
        span = self._id()
        kw.setdefault("status", "ok")
        start = T0 + timedelta(seconds=self.t)
        self.t += self.r.uniform(0.05, 2.5)
        step = StepData(
            span_id=span,
            parent_span_id=None if not self.inv.steps else (parent or self.root),
            kind=kind,
            started_at=start,
            ended_at=T0 + timedelta(seconds=self.t),
            seq=len(self.inv.steps),
            **kw,
        )
        self.inv.steps.append(step)
        return span

    def llm(self, output: Any = None, **kw: Any) -> str:
        kw.setdefault("model", self.model)
        kw.setdefault("input_tokens", self.r.randint(300, 3_000))
        kw.setdefault("output_tokens", self.r.randint(10, 300))
        kw.setdefault("finish_reason", "stop" if isinstance(output, str) else "tool_calls")
        thinking = output is None
        if thinking:
            output = {"role": "assistant", "content": self.r.choice(THOUGHTS), "tool_calls": []}
        span = self.add("llm", name=f"chat {kw['model']}", output=output, **kw)
        # The tool calls this turn makes are attached by tool(), as a model's output lists them.
        self._turn = self.inv.steps[-1].output if thinking else None
        return span

    def tool(self, name: str, arguments: Any = None, result: Any = None, **kw: Any) -> str:
        if arguments is None:
            arguments = TOOLS.get(name, lambda r: {"q": r.choice(TOPICS)})(self.r)
        if result is None and kw.get("status") != "error":
            result = self.r.choice(OK_RESULTS)(self.r)
        if getattr(self, "_turn", None) is not None:
            self._turn["tool_calls"].append({"name": name, "arguments": arguments})
        return self.add(
            "tool",
            name=name,
            tool_name=name,
            tool_call_id=f"call_{self.r.getrandbits(32):x}",
            tool_arguments=arguments,
            tool_result=result,
            **kw,
        )

    def ordinary(self, k: int | None = None) -> None:
        """k ordinary turns: a model call and a successful call of a tool."""
        for _ in range(self.r.randint(0, 3) if k is None else k):
            self.llm()
            self.tool(self.r.choice(self.tools))

    def answer(self, text: str | None = None) -> str:
        text = text or self.r.choice(ANSWERS)
        self.inv.output = text
        return self.llm(text)

    def step(self, span: str) -> StepData:
        return next(s for s in self.inv.steps if s.span_id == span)

    def done(self, signal: str, category: str | None, root: str | None) -> Case:
        self.inv.ended_at = T0 + timedelta(seconds=self.t)
        self.step(self.root).ended_at = self.inv.ended_at
        if self.r.random() < 0.5:
            # Steps arrive in any order; the classifier orders them by time.
            self.r.shuffle(self.inv.steps)
        return Case(signal, self.inv, category, root)


# --- successes ------------------------------------------------------------------------------
def success_plain(r):
    b = Builder(r, status="ok")
    b.ordinary(r.randint(1, 5))
    b.answer()
    return b.done("success_plain", None, None)


def success_recovered(r):
    b = Builder(r, status="ok")
    b.ordinary()
    name = r.choice(b.tools)
    etype, msg = r.choice(EXCEPTIONS)
    b.llm()
    b.tool(name, status="error", error_type=etype, error_message=msg)
    b.llm()
    b.tool(name)
    b.answer(r.choice(CLAIMS + ANSWERS))
    return b.done("success_recovered", None, None)


def success_polling(r):
    b = Builder(r, status="ok")
    args = {"job_id": f"job-{r.randint(1, 999)}"}
    for state in ["queued", "running", "running", "succeeded"][: r.randint(3, 4)]:
        b.llm()
        b.tool("get_job_status", args, {"state": state, "progress": r.randint(0, 100)})
    b.answer()
    return b.done("success_polling", None, None)


def success_with_budget(r):
    b = Builder(r, status="ok")
    b.ordinary(r.randint(1, 3))
    b.answer()
    steps = len([s for s in b.inv.steps if s.kind != "agent"])
    b.inv.budgets = {
        "max_steps": steps + r.randint(2, 10),
        "max_tokens": 200_000,
        "max_cost_usd": "5.00",
    }
    return b.done("success_with_budget", None, None)


def success_retrieval(r):
    b = Builder(r, status="ok")
    topic = r.choice(TOPICS)
    b.llm()
    b.add(
        "retrieval",
        name=r.choice(SEARCH_TOOLS),
        tool_arguments={"query": topic},
        tool_result=[
            {
                "text": f"Guide: {topic} explained in detail, with examples and caveats.",
                "score": 0.82,
            }
        ],
    )
    b.answer()
    return b.done("success_retrieval", None, None)


def success_tricky(r):
    # Results and answers that mention errors, limits and failures without being any.
    b = Builder(r, status="ok")
    b.llm()
    b.tool(
        r.choice(SEARCH_TOOLS),
        {"query": "how to handle HTTP 429 and timeouts"},
        "Handling rate limits: when an API answers 429 Too Many Requests, back off and retry. "
        "A read timeout usually means the server is slow; raise the timeout or retry later.",
    )
    b.llm()
    b.tool(
        "execute_python",
        {"code": "run_tests()"},
        r.choice(
            [
                "collected 41 items\n41 passed, 0 errors in 2.1s\nexit code 0",
                '{"success": true, "error": null, "stdout": "ok"}',
            ]
        ),
    )
    b.answer(
        r.choice(
            [
                "I couldn't find any issues: all 41 tests pass.",
                "Everything checks out; the retry logic handles errors as expected.",
                "No problems found. The rate limiter is configured correctly.",
            ]
        )
    )
    return b.done("success_tricky", None, None)


# --- tool -----------------------------------------------------------------------------------
def tool_error_status(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    etype, msg = r.choice(EXCEPTIONS)
    bad = b.tool(
        r.choice(b.tools),
        status="error",
        error_type=etype,
        error_message=msg,
        error_traceback=r.choice(
            [None, f'Traceback (most recent call last):\n  File "tool.py", line 12\n{etype}: {msg}']
        ),
    )
    if r.random() < 0.6:
        b.answer(r.choice(GIVE_UPS + ["Something went wrong while I was working on that."]))
    return b.done("tool_error_status", "tool", bad)


def tool_error_result(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    name = r.choice(b.tools)
    kind = r.choice(["http", "prefix", "traceback", "exit", "json"])
    if kind == "http":
        result = r.choice(HTTP_ERRORS) + "\n<html><body>upstream error</body></html>"
    elif kind == "prefix":
        result = r.choice(["Error: ", "ERROR: ", "error - "]) + r.choice(
            [
                "record locked by another process",
                "invalid credentials for service account",
                "upstream returned nothing",
            ]
        )
    elif kind == "traceback":
        etype, msg = r.choice(EXCEPTIONS)
        result = f'Traceback (most recent call last):\n  File "/app/main.py", line {r.randint(3, 300)}, in <module>\n    run()\n{etype}: {msg}'
    elif kind == "exit":
        result = f"$ make build\ncc: fatal error: no input files\nProcess exited with code {r.choice([1, 2, 127])}"
    else:
        result = {
            "error": {
                "code": r.choice(["NOT_AUTHORIZED", "INTERNAL"]),
                "message": "request failed",
            },
            "data": None,
        }
    bad = b.tool(name, result=result)
    b.answer(r.choice(GIVE_UPS + ANSWERS))
    b.inv.status = r.choice(["error", "ok"]) if kind != "json" else "error"
    b.step(b.root).status = b.inv.status
    return b.done(f"tool_error_result_{kind}", "tool", bad)


def tool_schema(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    name = r.choice(b.tools)
    msg = r.choice(
        [
            f"1 validation error for {name}Args\nfield_x\n  Field required [type=missing]",
            f"{name}() got an unexpected keyword argument 'limit'",
            "Invalid arguments: 'amount' is a required property",
            "Input should be a valid integer, unable to parse string as an integer",
        ]
    )
    bad = b.tool(
        name,
        status="error",
        error_type=r.choice(["ValidationError", "TypeError", "ToolInputError"]),
        error_message=msg,
    )
    b.llm()
    return b.done("tool_schema", "tool", bad)


def tool_unknown(r):
    b = Builder(r)
    b.inv.attributes = {"agent.tools": list(b.tools)}
    b.ordinary()
    b.llm()
    ghost = r.choice(["search_flights", "get_stock_price", "translate_text", "fetch_url"])
    if r.random() < 0.5:
        bad = b.tool(ghost, result=f"Tool '{ghost}' not found. Available: {', '.join(b.tools)}")
    else:
        bad = b.tool(
            ghost,
            status="error",
            error_type="ModelBehaviorError",
            error_message=f"Tool {ghost} not found in agent {b.agent}",
        )
    b.answer(r.choice(GIVE_UPS))
    return b.done("tool_unknown", "tool", bad)


def tool_timeout(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    msg = r.choice(
        [
            "Read timed out. (read timeout=30)",
            "deadline exceeded after 60s",
            "504 Gateway Timeout",
            "operation timed out",
        ]
    )
    bad = b.tool(
        r.choice(b.tools),
        status="error",
        error_type=r.choice(["TimeoutError", "ReadTimeout", "ToolError"]),
        error_message=msg,
    )
    return b.done("tool_timeout", "tool", bad)


def tool_rate_limit(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    msg = r.choice(
        [
            "429 Too Many Requests",
            "Rate limit reached for requests. Please retry after 20s.",
            "Quota exceeded for quota metric 'Queries'",
        ]
    )
    bad = b.tool(
        r.choice(b.tools),
        status="error",
        error_type=r.choice(["RateLimitError", "HTTPError", "ResourceExhausted"]),
        error_message=msg,
    )
    if r.random() < 0.5:
        b.llm()
        b.tool(
            b.step(bad).tool_name,
            b.step(bad).tool_arguments,
            status="error",
            error_type="RateLimitError",
            error_message=msg,
        )
    return b.done("tool_rate_limit", "tool", bad)


def planning_false_success(r):
    # The root said OK, but the last call failed and the answer claims it worked: the failure
    # was seen, the claim is the mistake (CLASSIFICATION.md: planning, rooted at the LLM call
    # that produced the answer).
    b = Builder(r, status="ok")
    b.ordinary()
    b.llm()
    etype, msg = r.choice(EXCEPTIONS)
    b.tool(
        r.choice(["send_email", "update_record", "create_ticket"]),
        status="error",
        error_type=etype,
        error_message=msg,
    )
    bad = b.answer(r.choice(CLAIMS))
    return b.done("planning_false_success", "planning", bad)


# --- budget ---------------------------------------------------------------------------------
def budget_turn_limit(r):
    b = Builder(r)
    n = r.randint(3, 8)
    for _k in range(n):
        b.llm()
        b.tool(r.choice(b.tools))
    etype, msg = r.choice(TURN_LIMITS)
    where = r.random()
    if where < 0.5:
        s = b.step(b.root)
        s.error_type, s.error_message = etype, msg(n)
        root = b.root
    else:
        root = b.llm(None, status="error", error_type=etype, error_message=msg(n))
    return b.done("budget_turn_limit", "budget", root)


def budget_crossed(r):
    which = r.choice(
        ["max_steps", "max_tokens", "max_cost_usd", "max_duration_s", "max_subagents", "max_depth"]
    )
    b = Builder(r, status=r.choice(["ok", "error"]))
    crossing = None
    if which in ("max_steps", "max_tokens", "max_cost_usd", "max_duration_s"):
        turns = r.randint(4, 9)
        spans = []
        for _ in range(turns):
            spans.append(
                b.llm(
                    input_tokens=r.randint(2_000, 6_000),
                    output_tokens=r.randint(100, 400),
                    cost_usd=Decimal(str(round(r.uniform(0.01, 0.05), 4))),
                )
            )
            spans.append(b.tool(r.choice(b.tools)))
        steps = [s for s in b.inv.steps if s.kind != "agent"]
        if which in ("max_tokens", "max_cost_usd"):
            # Only model calls use tokens and money: the crossing is always at one of them.
            k = r.choice([i for i, s in enumerate(steps) if s.kind == "llm" and i >= 2])
        else:
            k = r.randint(2, len(steps) - 2)
        if which == "max_steps":
            limit = k
        elif which == "max_tokens":
            limit = sum((s.input_tokens or 0) + (s.output_tokens or 0) for s in steps[: k + 1]) - 1
        elif which == "max_cost_usd":
            limit = sum((s.cost_usd or 0) for s in steps[: k + 1]) - Decimal("0.0001")
        else:
            limit = (steps[k].ended_at - T0).total_seconds() - 0.01
        crossing = steps[k].span_id
        b.answer()
    elif which == "max_subagents":
        limit = r.randint(1, 3)
        for k in range(limit + 2):
            sub = b.add("agent", name=f"worker-{k}")
            b.llm(parent=sub)
            if k == limit and crossing is None:
                crossing = sub
        b.answer()
    else:
        limit = r.randint(1, 2)
        parent = b.root
        for d in range(limit + 1):
            parent = b.add("agent", parent=parent, name=f"delegate-{d}")
            b.llm(parent=parent)
            if d + 2 > limit and crossing is None:
                crossing = parent
        b.answer()
    if r.random() < 0.5:
        b.inv.budgets = {which: limit}
    else:
        b.inv.attributes = {r.choice(["budget.", "traceview.budget."]) + which: limit}
    return b.done(f"budget_{which}", "budget", crossing)


def budget_after_recovered_tool(r):
    # Hard case: a tool error the agent got past, then the run ran out of turns.
    b = Builder(r)
    name = r.choice(b.tools)
    b.llm()
    etype, msg = r.choice(EXCEPTIONS)
    b.tool(name, status="error", error_type=etype, error_message=msg)
    b.llm()
    b.tool(name)
    b.ordinary(r.randint(2, 4))
    etype, msg = r.choice(TURN_LIMITS[:4])
    s = b.step(b.root)
    s.error_type, s.error_message = etype, msg(r.randint(5, 30))
    return b.done("budget_after_recovered_tool", "budget", b.root)


# --- context --------------------------------------------------------------------------------
def context_length_error(r):
    b = Builder(r)
    b.ordinary()
    n = r.choice([8_192, 16_385, 128_000, 200_000])
    bad = b.llm(
        None,
        status="error",
        error_type=r.choice(["BadRequestError", "InvalidRequestError", "APIError"]),
        error_message=r.choice(CONTEXT_ERRORS)(n),
    )
    return b.done("context_length_error", "context", bad)


def context_output_cut(r):
    model, window = r.choice(SMALL_MODELS)
    b = Builder(r)
    b.model = model
    b.ordinary()
    used = int(window * r.uniform(0.9, 0.99))
    bad = b.llm(
        "The report covers the following sections: 1. Background 2. Method 3.",
        input_tokens=used,
        output_tokens=window - used,
        finish_reason="length",
    )
    b.inv.output = None
    return b.done("context_output_cut", "context", bad)


def context_tool_flood(r):
    # Hard case: one huge tool output, then the next model call overflows.
    b = Builder(r)
    b.ordinary()
    b.llm()
    name = r.choice(["read_file", "run_sql", "fetch_url", "list_logs"])
    body = "\n".join(
        f"row {i}: " + "lorem ipsum dolor sit amet " * r.randint(2, 4)
        for i in range(r.randint(4_000, 7_000))
    )
    flood = b.tool(name, {"target": r.choice(["all", "*", "full_dump"])}, body)
    window = 128_000
    b.llm(
        None,
        model="gpt-4o",
        status="error",
        error_type="BadRequestError",
        error_message=r.choice(CONTEXT_ERRORS)(window),
    )
    return b.done("context_tool_flood", "context", flood)


def context_instruction_dropped(r):
    b = Builder(r)
    rule = r.choice(
        ["Always answer in French.", "Never reveal internal ticket ids.", "Only use metric units."]
    )
    system = {"role": "system", "content": f"You are {b.agent}. {rule}"}
    history = [system, {"role": "user", "content": r.choice(TOPICS)}]
    for k in range(r.randint(2, 4)):
        b.llm(input=list(history))
        history.append({"role": "assistant", "content": f"{r.choice(THOUGHTS)} ({k})"})
        b.tool(r.choice(b.tools))
        history.append({"role": "tool", "content": f"result {k}: {r.randint(1, 99)}"})
    truncated = history[r.randint(1, 2) :]
    bad = b.llm(r.choice(ANSWERS), input=truncated)
    b.inv.output = b.step(bad).output
    return b.done("context_instruction_dropped", "context", bad)


def context_retrieval_empty(r):
    b = Builder(r)
    topic = r.choice(TOPICS)
    b.llm()
    result = r.choice(
        [[], {"documents": [], "total": 0}, "No results found.", "0 documents matched your query"]
    )
    kind = r.choice(["retrieval", "tool"])
    name = r.choice(SEARCH_TOOLS)
    if kind == "retrieval":
        bad = b.add(
            "retrieval",
            name=name,
            tool_name=name,
            tool_arguments={"query": topic},
            tool_result=result,
        )
    else:
        bad = b.tool(name, {"query": topic}, result)
    b.answer(r.choice(ANSWERS + GIVE_UPS))
    return b.done("context_retrieval_empty", "context", bad)


# --- planning -------------------------------------------------------------------------------
def planning_loop_turn_limit(r):
    # Hard case: every call succeeds, the agent repeats itself until the turn limit.
    b = Builder(r)
    b.ordinary()
    name = r.choice(b.tools)
    args = TOOLS[name](r)
    result = r.choice(OK_RESULTS)(r)
    first = None
    for _ in range(r.randint(3, 7)):
        b.llm()
        span = b.tool(name, json.loads(json.dumps(args)), result)
        first = first or span
    etype, msg = r.choice(TURN_LIMITS[:4])
    s = b.step(b.root)
    s.error_type, s.error_message = etype, msg(r.randint(8, 20))
    return b.done("planning_loop_turn_limit", "planning", first)


def planning_loop_ok(r):
    # The root says OK but the agent looped on the same call with the same result.
    b = Builder(r, status="ok")
    name = r.choice(b.tools)
    args = TOOLS[name](r)
    result = r.choice(OK_RESULTS)(r)
    first = None
    for _ in range(r.randint(4, 6)):
        b.llm()
        span = b.tool(name, dict(args), result)
        first = first or span
    b.answer()
    return b.done("planning_loop_ok", "planning", first)


def planning_ping_pong(r):
    b = Builder(r)
    a, c = r.sample(b.tools, 2)
    args_a, args_c = TOOLS[a](r), TOOLS[c](r)
    first = None
    for _ in range(r.randint(3, 5)):
        b.llm()
        span = b.tool(a, args_a, {"v": r.randint(1, 9)})
        first = first or span
        b.llm()
        b.tool(c, args_c, {"v": r.randint(1, 9)})
    return b.done("planning_ping_pong", "planning", first)


def planning_no_progress(r):
    b = Builder(r)
    b.ordinary()
    text = r.choice(
        [
            "I need more information about the customer's account before proceeding.",
            "Let me re-check the configuration file for the missing key.",
        ]
    )
    first = None
    for _ in range(r.randint(3, 5)):
        span = b.llm(text, finish_reason="stop")
        first = first or span
    return b.done("planning_no_progress", "planning", first)


def planning_wrong_tool(r):
    b = Builder(r)
    b.ordinary()
    b.llm()
    name = r.choice(["convert_currency", "get_weather", "read_file"])
    bad = b.tool(
        name,
        {"request": "book a flight to Rome"},
        r.choice(
            [
                "This tool only supports ISO currency codes.",
                "Unsupported operation: booking is not available here.",
                "This tool cannot handle write requests.",
            ]
        ),
    )
    b.answer(r.choice(ANSWERS + GIVE_UPS))
    return b.done("planning_wrong_tool", "planning", bad)


def planning_gave_up(r):
    b = Builder(r)
    b.ordinary(r.randint(1, 3))
    bad = b.answer(r.choice(GIVE_UPS))
    return b.done("planning_gave_up", "planning", bad)


def planning_premature(r):
    b = Builder(r)
    b.inv.attributes = {"tools": [{"name": t, "description": "..."} for t in b.tools]}
    bad = b.answer(r.choice(ANSWERS))
    return b.done("planning_premature", "planning", bad)


def planning_deviation(r):
    b = Builder(r)
    t1, t2, t3 = r.sample(b.tools, 3)
    if r.random() < 0.7:
        b.inv.attributes = {"agent.tools": list(b.tools)}
    plan = f"Plan:\n1. Use {t1} to gather the data\n2. Then call {t2} to apply the change\n3. Confirm with the user"
    b.llm(plan, finish_reason="stop")
    b.tool(t1)
    b.llm()
    off = b.tool(t3)
    b.answer()
    return b.done("planning_deviation", "planning", off)


# --- message-only ---------------------------------------------------------------------------
def messages_execution_error(r):
    b = Builder(r)
    experts = r.sample(["Planner", "Coder", "DataAnalyst", "Reviewer", "Verifier"], 3)
    runner = r.choice(["Computer_terminal", "code_executor", "ToolRunner"])
    b.add("llm", agent_name=experts[0], output=f"Task: {r.choice(TOPICS)}. Let's plan the work.")
    author = b.add(
        "llm",
        agent_name=experts[1],
        output="```python\nimport pandas as pd\ndf = pd.read_csv('data.csv')\nprint(df['total'].sum())\n```",
    )
    etype, msg = r.choice(EXCEPTIONS)
    b.add(
        "other",
        agent_name=runner,
        output=f'exitcode: 1 (execution failed)\nCode output: Traceback (most recent call last):\n  File "", line 3\n{etype}: {msg}',
    )
    b.add(
        "llm",
        agent_name=experts[2],
        output=r.choice(
            [
                "The result has been verified. The total is 42. TERMINATE",
                "Great, the analysis is complete and the answer is 17.",
            ]
        ),
    )
    return b.done("messages_execution_error", "tool", author)


def messages_loop(r):
    b = Builder(r)
    a, c = r.sample(["Planner", "Coder", "Critic", "Researcher"], 2)
    text = r.choice(
        [
            "Could you please provide the dataset so I can continue?",
            "Please run the code above and share the output.",
        ]
    )
    first = None
    for _ in range(r.randint(3, 4)):
        span = b.add("llm", agent_name=a, output=text)
        first = first or span
        b.add(
            "llm",
            agent_name=c,
            output=r.choice(["There is no code to execute.", "I have no dataset.", "Noted."]),
        )
    return b.done("messages_loop", "planning", first)


GENERATORS = [
    success_plain,
    success_recovered,
    success_polling,
    success_with_budget,
    success_retrieval,
    success_tricky,
    tool_error_status,
    tool_error_result,
    tool_schema,
    tool_unknown,
    tool_timeout,
    tool_rate_limit,
    planning_false_success,
    budget_turn_limit,
    budget_crossed,
    budget_after_recovered_tool,
    context_length_error,
    context_output_cut,
    context_tool_flood,
    context_instruction_dropped,
    context_retrieval_empty,
    planning_loop_turn_limit,
    planning_loop_ok,
    planning_ping_pong,
    planning_no_progress,
    planning_wrong_tool,
    planning_gave_up,
    planning_premature,
    planning_deviation,
    messages_execution_error,
    messages_loop,
]


def generate(seed: int = 0, per_signal: int = 20) -> list[Case]:
    r = random.Random(seed)
    return [gen(r) for gen in GENERATORS for _ in range(per_signal)]
