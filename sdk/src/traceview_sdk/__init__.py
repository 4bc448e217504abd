"""TraceView SDK: record AI-agent runs and send them to a TraceView server.

    import traceview_sdk
    traceview_sdk.configure(url="http://localhost:8000", api_key="tv_...")
    with traceview_sdk.invocation(agent="support-bot", version="1.4.0") as inv:
        with inv.step("lookup", kind="tool") as step:
            step.set_tool(arguments={"id": 4411}, result=lookup(4411))

Recording never raises into the agent and never waits on the network; see export.py.
"""

from __future__ import annotations

from typing import Any

from .client import Client, configure, get_client
from .decorators import agent, llm, tool, traced
from .record import Invocation, Step, current_invocation, current_step, propagate
from .redact import MASK, Redactor

__all__ = [
    "Client",
    "Invocation",
    "MASK",
    "Redactor",
    "Step",
    "agent",
    "configure",
    "current_invocation",
    "current_step",
    "flush",
    "get_client",
    "invocation",
    "llm",
    "propagate",
    "shutdown",
    "step",
    "tool",
    "traced",
]


def invocation(
    agent: str | None = None,
    version: str | None = None,
    name: str | None = None,
    budget: dict | None = None,
    trace_id: str | None = None,
    input: Any = None,
    attributes: dict | None = None,
    client: Client | None = None,
) -> Invocation:
    """Start recording one run of an agent; use as a context manager.

    budget (max_tokens, max_cost_usd, max_steps, max_depth, max_subagents, max_duration_s) is
    sent in the invocation's attributes under "budget".
    """
    return (client or get_client()).invocation(
        agent, version, name, budget, trace_id, input, attributes
    )


def step(name: str | None = None, kind: str = "other", **fields: Any) -> Step:
    """A step under the current step; outside any invocation it records nothing."""
    parent = current_step()
    if parent is None:
        return Step(None, name, kind, **fields)
    return parent.step(name, kind, **fields)


def flush(timeout: float | None = None) -> bool:
    """Send everything recorded so far; False if timeout passed first."""
    return get_client().flush(timeout)


def shutdown(timeout: float | None = None) -> bool:
    return get_client().shutdown(timeout)
