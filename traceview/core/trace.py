"""The canonical trace: plain dataclasses that every wire format becomes and the classifier reads.

No Django here. Ingest formats produce `InvocationData` with `StepData` children; the store turns
them into rows; the classifier reads them back as the same dataclasses.

A field left at None means "not sent": the store keeps whatever it already had for that field, so
an invocation or a step can arrive in pieces (started now, completed later) without one request
erasing what an earlier one said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

STEP_KINDS = ("agent", "llm", "tool", "retrieval", "handoff", "guardrail", "other")
STATUSES = ("running", "ok", "error")
CATEGORIES = ("planning", "tool", "context", "budget")
AGENT_CATEGORIES = ("workflow", "bounded", "open")
# A tool outside the agent's allowed tools; a tool needing confirmation called without approval.
SCOPE_VIOLATION_KINDS = ("not_allowed", "unconfirmed")
SCOPE_VIOLATION_LABELS = {
    "not_allowed": "outside the allowed tools",
    "unconfirmed": "called without a preceding human approval",
}
# The longest string value kept whole; longer ones keep their head and this visible marker, which
# names the original length. Parsers may cut first (to bound memory); the store cuts what is left.
MAX_VALUE_CHARS = 1024 * 1024
TRUNCATION_MARKER = "…[truncated by TraceView: {} characters]"
# The longest trace or span id kept: the columns' length. A longer id is refused, never cut, so
# two ids that share their first MAX_ID characters are never merged into one.
MAX_ID = 128
# The largest token count and cost one step or one run may report. No model call comes near them
# (a context window of 10 million tokens is 1 % of MAX_TOKENS), and they keep the sums far inside
# their columns: billions of steps at MAX_TOKENS fit a 64-bit total, and an invocation's cost
# column (below 10^8) holds 9,999 steps at MAX_COST_USD; the store holds a total above a
# column's largest value at that value rather than fail the request.
MAX_TOKENS = 10**9
MAX_COST_USD = Decimal(10**4)


def truncate(value: str) -> str:
    """Cut a string over MAX_VALUE_CHARS, once: a value that already carries the marker is kept,
    so the marker keeps naming the length the sender sent."""
    if len(value) <= MAX_VALUE_CHARS:
        return value
    tail = value[MAX_VALUE_CHARS:]
    if len(tail) < 80 and tail.startswith("…[truncated by TraceView: "):
        return value
    return value[:MAX_VALUE_CHARS] + TRUNCATION_MARKER.format(len(value))


BUDGET_FIELDS = (
    "max_tokens",
    "max_cost_usd",
    "max_steps",
    "max_depth",
    "max_subagents",
    "max_duration_s",
)


@dataclass(slots=True)
class StepData:
    span_id: str
    parent_span_id: str | None = None
    kind: str | None = None
    name: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    status: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: Decimal | None = None
    finish_reason: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_arguments: Any = None
    tool_result: Any = None
    input: Any = None
    output: Any = None
    attributes: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None
    agent_name: str | None = None
    # Order of the step within its source when timestamps are missing (trajectory files).
    seq: int | None = None
    # Values the project's redaction rules removed from this step at ingest (core.redaction).
    redactions: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == "error"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


@dataclass(slots=True)
class InvocationData:
    trace_id: str
    agent: str | None = None
    agent_version: str | None = None
    name: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    input: Any = None
    output: Any = None
    attributes: dict[str, Any] | None = None
    # Run-level usage a sender reports when it has no per-step usage (SWE-agent, say).
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: Decimal | None = None
    steps: list[StepData] = field(default_factory=list)
    # Filled when read back for classification: the agent's budgets (see BUDGET_FIELDS).
    budgets: dict[str, Any] = field(default_factory=dict)

    def ordered_steps(self) -> list[StepData]:
        """Steps in the order they happened: by start time, then by their sequence number."""
        return sorted(self.steps, key=step_order_key)


def events_join(stored: list[dict] | None, new: list[dict]) -> list[dict]:
    """A step's events across requests: those stored, then the new ones not among them, in time
    order (events without a time last, in arrival order). Events only ever add up: a re-sent
    span repeats its events, and log events for the span arrive in exports of their own."""
    joined = list(stored or [])
    joined += [event for event in new if event not in joined]
    # Log events also carry their time in nanoseconds: messages emitted within one microsecond
    # keep their order even when they arrive in separate exports.
    return sorted(joined, key=lambda e: (e.get("time") is None, e.get("time") or "",
                                         e.get("time_unix_nano") or 0))


def messages_from_events(events: list[dict] | None) -> dict[str, list[dict]]:
    """The messages that a step's events carry, by slot: {"input": [...], "output": [...]}.

    Events that carry a message (`{"message": {...}, "slot": "input" | "output"}`) are the GenAI
    message events that instrumentations export as logs (ingest/formats/otlp_logs.py); a slot
    is present only when some event fills it.
    """
    found: dict[str, list[dict]] = {}
    for event in events or ():
        message, slot = event.get("message"), event.get("slot")
        if isinstance(message, dict) and slot in ("input", "output"):
            found.setdefault(slot, []).append(message)
    return found


def step_order_key(step: StepData) -> tuple:
    # Steps without a start time (trajectory files) sort after timed ones, by their sequence.
    ts = step.started_at.timestamp() if step.started_at else float("inf")
    return (ts, step.seq if step.seq is not None else 0, step.span_id)


# Where the conventions put the id of the conversation a run is a turn of, as the wire formats
# keep them in the run's attributes (OTLP `session.id` and `gen_ai.conversation.id`, Langfuse
# `sessionId`, the Agents SDK's `group_id` all arrive as one of these), first match wins.
SESSION_KEYS = ("session_id", "conversation_id", "thread_id", "group_id", "session.id",
                "gen_ai.conversation.id", "langfuse.session.id")
# LangChain and LangGraph put theirs in a metadata map (sometimes JSON text) on every span.
SESSION_METADATA_KEYS = ("thread_id", "session_id", "langfuse_session_id", "conversation_id")


def session_of(attributes: dict | None, step_attributes: list[dict | None] = ()) -> str | None:
    """The session or conversation id a run names, from its attributes, else from the first of
    its steps' metadata that names one (LangGraph's `thread_id`). Pure; None when none does."""
    for attrs in (attributes, *step_attributes):
        if not attrs:
            continue
        if attrs is attributes:
            for key in SESSION_KEYS:
                value = attrs.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
                    return str(value)
        metadata = attrs.get("metadata")
        if isinstance(metadata, str) and any(k in metadata for k in SESSION_METADATA_KEYS):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = None
        if isinstance(metadata, dict):
            for key in SESSION_METADATA_KEYS:
                value = metadata.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
                    return str(value)
    return None
