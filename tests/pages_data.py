"""Invocations for the page tests and the browser tests, stored through the real ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest.store import invocations_store
from traceview.classify.diagnosis import invocation_classify
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, Project, Step, StepPayload

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

SYSTEM = {"role": "system", "content": "You are a support agent. Use tools to look up orders."}
USER = {"role": "user", "content": "Where is my order 4411?"}
CALL = {"role": "assistant", "content": None,
        "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": {"id": 4411}}]}
RESULT = {"role": "tool", "tool_call_id": "call_1", "content": "503 Service Unavailable"}


def store(project: Project, data: InvocationData, classify: bool = True) -> Invocation:
    result = invocations_store(project, [data])
    if classify:
        invocation_classify(result.invocation_ids[0])
    return Invocation.objects.get(id=result.invocation_ids[0])


def support_run(project: Project, trace_id: str = "run-1", name: str = "answer ticket 4411",
                agent: str = "support-bot", status: str = "error", start: datetime = T0,
                **overrides: Any) -> InvocationData:
    """A failed support run: the order lookup fails, the model carries on as if it had not."""

    def at(s: float) -> datetime:
        return start + timedelta(seconds=s)

    steps = [
        StepData("root", kind="agent", name=agent, started_at=at(0), ended_at=at(9),
                 status=status),
        StepData("llm-1", "root", kind="llm", name="chat gpt-4o", model="gpt-4o",
                 started_at=at(0.1), ended_at=at(1.5), status="ok", input_tokens=812,
                 output_tokens=64, cost_usd=Decimal("0.0027"), finish_reason="tool_calls",
                 input=[SYSTEM, USER], output=CALL,
                 attributes={"gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 512}),
        StepData("tool-1", "root", kind="tool", name="lookup_order", tool_name="lookup_order",
                 tool_call_id="call_1", tool_arguments={"id": 4411, "fields": ["status", "eta"]},
                 started_at=at(1.6), ended_at=at(4), status="error", error_type="HTTPError",
                 error_message="503 Service Unavailable",
                 error_traceback="Traceback (most recent call last):\n  File \"shop.py\", line 9"),
        StepData("search-1", "root", kind="retrieval", name="search help center",
                 started_at=at(4.1), ended_at=at(4.5), status="ok",
                 output=[{"id": "kb-12", "content": "Orders ship within 2 days.", "score": 0.91}]),
        StepData("llm-2", "root", kind="llm", name="chat gpt-4o", model="gpt-4o",
                 started_at=at(4.6), ended_at=at(8.9), status="ok", input_tokens=990,
                 output_tokens=120, cost_usd=Decimal("0.0041"), finish_reason="stop",
                 input=[SYSTEM, USER, CALL, RESULT],
                 output={"role": "assistant", "content": "Your order has shipped."}),
    ]
    data = InvocationData(trace_id=trace_id, agent=agent, agent_version="1.4.0", name=name,
                          status=status, started_at=at(0), ended_at=at(9), steps=steps)
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def long_run(project: Project, steps: int, trace_id: str = "long-run") -> Invocation:
    """An invocation with `steps` steps written straight to the tables (ingest takes at most
    10,000 steps per request, and the tests only need the rows)."""
    inv = Invocation.objects.create(
        project=project, trace_id=trace_id, name="long run", status="ok", started_at=T0,
        ended_at=T0 + timedelta(seconds=steps), step_count=steps,
    )
    rows = [Step(invocation=inv, span_id="root", kind="agent", name="looper", status="ok",
                 started_at=T0, ended_at=T0 + timedelta(seconds=steps), seq=0)]
    for i in range(1, steps):
        rows.append(Step(
            invocation=inv, span_id=f"s{i}", parent_span_id="root",
            kind="llm" if i % 2 else "tool", name=f"step {i}", status="ok", seq=i,
            started_at=T0 + timedelta(seconds=i), ended_at=T0 + timedelta(seconds=i + 0.5),
            input_tokens=10 if i % 2 else None, output_tokens=5 if i % 2 else None,
        ))
    Step.objects.bulk_create(rows, batch_size=2000)
    StepPayload.objects.bulk_create(
        [StepPayload(step=s, input=[{"role": "user", "content": f"message {s.seq}"}])
         for s in Step.objects.filter(invocation=inv, kind="llm")],
        batch_size=2000,
    )
    return inv


def repeating_run(project: Project, loops: int, trace_id: str = "loop-run",
                  fail_at: int | None = None) -> Invocation:
    """An agent that plans, then calls search and fetch `loops` times (the call at loop
    `fail_at` failing), then answers: 2 * loops + 3 steps written straight to the tables."""
    steps = 2 * loops + 3
    inv = Invocation.objects.create(
        project=project, trace_id=trace_id, name="looping run", status="error",
        started_at=T0, ended_at=T0 + timedelta(seconds=steps), step_count=steps,
    )

    def at(i):
        return T0 + timedelta(seconds=i)

    rows = [Step(invocation=inv, span_id="root", kind="agent", name="looper", status="error",
                 started_at=at(0), ended_at=at(steps), seq=0),
            Step(invocation=inv, span_id="plan", parent_span_id="root", kind="llm", name="plan",
                 status="ok", started_at=at(1), ended_at=at(1.5), seq=1)]
    for i in range(loops):
        for j, name in enumerate(("search", "fetch")):
            seq = 2 + 2 * i + j
            failed = fail_at == i and name == "fetch"
            rows.append(Step(invocation=inv, span_id=f"{name}-{i}", parent_span_id="root",
                             kind="tool", name=name, tool_name=name, seq=seq,
                             status="error" if failed else "ok",
                             error_type="TimeoutError" if failed else "",
                             started_at=at(seq), ended_at=at(seq + 0.5)))
    rows.append(Step(invocation=inv, span_id="answer", parent_span_id="root", kind="llm",
                     name="answer", status="ok", started_at=at(steps - 1),
                     ended_at=at(steps - 0.5), seq=steps - 1))
    Step.objects.bulk_create(rows, batch_size=5000)
    return inv
