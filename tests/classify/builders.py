"""Small builders of canonical invocations for the classifier's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from traceview.core.trace import InvocationData, StepData

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Run:
    """An invocation under construction: a root agent span and children added in order."""

    def __init__(self, status: str = "error", agent: str = "agent", **kw: Any):
        self.inv = InvocationData(trace_id="run-1", agent=agent, status=status, started_at=T0, **kw)
        self.root = self.add("agent", name=agent, status=status)

    def add(self, kind: str, parent: str | None = None, **kw: Any) -> str:
        n = len(self.inv.steps)
        span = f"s{n}"
        kw.setdefault("status", "ok")
        step = StepData(
            span_id=span,
            parent_span_id=None if n == 0 else (parent or "s0"),
            kind=kind,
            started_at=T0 + timedelta(seconds=n),
            ended_at=T0 + timedelta(seconds=n + 0.5),
            seq=n,
            **kw,
        )
        self.inv.steps.append(step)
        return span

    def llm(self, output: Any = "thinking", **kw: Any) -> str:
        kw.setdefault("model", "gpt-4o")
        return self.add("llm", output=output, **kw)

    def tool(self, name: str, arguments: Any = None, result: Any = "ok", **kw: Any) -> str:
        return self.add(
            "tool", name=name, tool_name=name, tool_arguments=arguments, tool_result=result, **kw
        )

    def step(self, span: str) -> StepData:
        return next(s for s in self.inv.steps if s.span_id == span)
