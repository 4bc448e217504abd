"""Failed runs for the triage tests (plain data, used by tests/triage and the browser tests)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.pages_data import T0
from traceview.core.trace import InvocationData, StepData


def tool_failure(trace_id: str, *, agent: str = "support-bot", version: str = "1.4.0",
                 tool: str = "lookup_order", error_type: str = "HTTPError",
                 message: str = "503 Service Unavailable for order 4411", start=T0,
                 status: str = "error") -> InvocationData:
    """A run whose tool call fails and whose agent gives up on it."""

    def at(s: float):
        return start + timedelta(seconds=s)

    ok = status == "ok"
    steps = [
        StepData("root", kind="agent", name=agent, started_at=at(0), ended_at=at(5),
                 status=status),
        StepData("llm-1", "root", kind="llm", name="chat", model="gpt-4o", started_at=at(0.1),
                 ended_at=at(1), status="ok", input_tokens=100, output_tokens=10,
                 cost_usd=Decimal("0.001"),
                 output={"role": "assistant",
                         "tool_calls": [{"name": tool, "arguments": {"id": 4411}}]}),
        StepData("tool-1", "root", kind="tool", name=tool, tool_name=tool,
                 tool_arguments={"id": 4411}, started_at=at(1), ended_at=at(2),
                 status="ok" if ok else "error",
                 error_type=None if ok else error_type, error_message=None if ok else message,
                 tool_result={"status": "shipped"} if ok else None),
        StepData("llm-2", "root", kind="llm", name="chat", model="gpt-4o", started_at=at(2.1),
                 ended_at=at(5), status="ok", input_tokens=150, output_tokens=20,
                 output={"role": "assistant", "content": "Your order has shipped."}),
    ]
    return InvocationData(trace_id=trace_id, agent=agent, agent_version=version, name=trace_id,
                          status=status, started_at=at(0), ended_at=at(5), steps=steps)
