"""OpenAI Agents SDK hook: a TracingProcessor that sends traces to TraceView as native records.

    from agents import add_trace_processor
    from traceview_sdk.integrations.openai_agents import TraceViewProcessor
    add_trace_processor(TraceViewProcessor(agent_version="1.4.0"))

A trace becomes an invocation (sent as running when it starts, complete when it ends) and each
span a step, sent when the span ends: agent -> agent, generation and response -> llm,
function -> tool, handoff -> handoff, guardrail -> guardrail, everything else (custom, task,
turn, mcp_tools, speech...) -> other. The invocation's agent is the first agent span's name
unless one is given. Callbacks never raise into the run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from agents.tracing import Span, Trace, TracingProcessor

from ..client import Client
from ..serialize import jsonable
from ._base import HookConfig

logger = logging.getLogger("traceview_sdk")

KINDS = {
    "agent": "agent",
    "generation": "llm",
    "response": "llm",
    "function": "tool",
    "handoff": "handoff",
    "guardrail": "guardrail",
}


class _TraceState:
    __slots__ = ("agent", "agents_by_span", "failed", "trailing_error", "input", "output")

    def __init__(self, agent: str | None):
        self.agent = agent
        self.agents_by_span: dict = {}
        self.failed = False
        # An error the run did not recover from: set by a failed span, cleared by a later
        # successful model call.
        self.trailing_error = False
        self.input: Any = None
        self.output: Any = None


class TraceViewProcessor(HookConfig, TracingProcessor):
    def __init__(self, client: Client | None = None, **config):
        HookConfig.__init__(self, client, **config)
        self._traces: dict[str, _TraceState] = {}
        self._lock = threading.Lock()

    def _state(self, trace_id: str) -> _TraceState:
        state = self._traces.get(trace_id)
        if state is None:
            with self._lock:
                state = self._traces.setdefault(trace_id, _TraceState(self.agent))
        return state

    def on_trace_start(self, trace: Trace) -> None:
        try:
            self._state(trace.trace_id)
            exported = trace.export() or {}
            attributes = dict(self.attributes)
            if exported.get("group_id"):
                attributes["group_id"] = exported["group_id"]
            if exported.get("metadata"):
                attributes["metadata"] = exported["metadata"]
            self.client.submit_invocation(
                {
                    "trace_id": trace.trace_id,
                    "name": trace.name,
                    "agent": self.agent,
                    "agent_version": self.agent_version,
                    "status": "running",
                    "started_at": time.time(),
                    "attributes": attributes or None,
                }
            )
        except Exception:
            logger.debug("traceview_sdk: on_trace_start failed", exc_info=True)

    def on_trace_end(self, trace: Trace) -> None:
        try:
            with self._lock:
                state = self._traces.pop(trace.trace_id, None) or _TraceState(self.agent)
            failed = state.failed or state.trailing_error
            self.client.submit_invocation(
                {
                    "trace_id": trace.trace_id,
                    "agent": state.agent,
                    "status": "error" if failed else "ok",
                    "ended_at": time.time(),
                    "input": state.input,
                    "output": state.output,
                }
            )
        except Exception:
            logger.debug("traceview_sdk: on_trace_end failed", exc_info=True)

    def on_span_start(self, span: Span[Any]) -> None:
        try:
            state = self._state(span.trace_id)
            data = span.span_data
            if data.type == "agent":
                state.agents_by_span[span.span_id] = data.name
                if state.agent is None:
                    state.agent = data.name
                    # Named now rather than at the end, so a run that never ends is attributed.
                    self.client.submit_invocation({"trace_id": span.trace_id, "agent": data.name})
            else:
                state.agents_by_span[span.span_id] = state.agents_by_span.get(span.parent_id)
        except Exception:
            logger.debug("traceview_sdk: on_span_start failed", exc_info=True)

    def on_span_end(self, span: Span[Any]) -> None:
        try:
            state = self._state(span.trace_id)
            record = span_record(span)
            record["agent_name"] = state.agents_by_span.get(span.span_id)
            error = span.error
            if error:
                state.trailing_error = True
                if record["kind"] == "agent" or span.parent_id is None:
                    state.failed = True
            elif record["kind"] == "llm":
                state.trailing_error = False
                if state.input is None:
                    state.input = record.get("input")
                state.output = record.get("output")
            self.client.submit_step(record)
        except Exception:
            logger.debug("traceview_sdk: on_span_end failed", exc_info=True)

    def shutdown(self) -> None:
        self.client.flush(self.client.config.shutdown_timeout)

    def force_flush(self) -> None:
        self.client.flush(self.client.config.shutdown_timeout)


def span_record(span: Span[Any]) -> dict:
    """The native step for one Agents SDK span."""
    data = span.span_data
    span_type = data.type
    kind = KINDS.get(span_type, "other")
    record: dict[str, Any] = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_id,
        "kind": kind,
        "started_at": span.started_at,
        "ended_at": span.ended_at,
        "status": "error" if span.error else "ok",
    }
    attributes: dict[str, Any] = {"openai_agents.span_type": span_type}
    if span_type == "agent":
        record["name"] = data.name
        attributes.update(handoffs=data.handoffs, tools=data.tools, output_type=data.output_type)
    elif span_type == "generation":
        record.update(
            name=f"generation {data.model or ''}".strip(),
            model=data.model,
            input=data.input,
            output=_last(data.output),
        )
        _usage(record, data.usage)
        if data.model_config:
            attributes["model_config"] = data.model_config
        record["finish_reason"] = _chat_finish_reason(data.output)
    elif span_type == "response":
        response = data.response
        record["input"] = data.input
        if response is not None:
            record.update(
                model=getattr(response, "model", None), output=getattr(response, "output", None)
            )
            usage = getattr(response, "usage", None)
            _usage(record, jsonable(usage) if usage is not None else data.usage)
            record["finish_reason"] = _response_finish_reason(response)
            attributes["response_id"] = getattr(response, "id", None)
        else:
            _usage(record, data.usage)
        record["name"] = f"response {record.get('model') or ''}".strip()
    elif span_type == "function":
        record["name"] = data.name
        record["tool"] = {
            "name": data.name,
            "arguments": _maybe_json(data.input),
            "result": _maybe_json(data.output),
        }
        if data.mcp_data:
            attributes["mcp_data"] = data.mcp_data
            server = data.mcp_data.get("server") if isinstance(data.mcp_data, dict) else None
            if server:
                attributes["traceview.mcp_server"] = server
    elif span_type == "handoff":
        record["name"] = f"handoff {data.from_agent} -> {data.to_agent}"
        record["input"] = {"from_agent": data.from_agent}
        record["output"] = {"to_agent": data.to_agent}
    elif span_type == "guardrail":
        record["name"] = data.name
        record["output"] = {"triggered": data.triggered}
        attributes["triggered"] = data.triggered
    else:
        exported = data.export() or {}
        record["name"] = getattr(data, "name", None) or exported.get("name") or span_type
        attributes["data"] = exported.get("data", exported)
    if span.error:
        # The fields TraceView's reader of the SDK's own export gives the same span
        # (ingest/formats/openai_agents.py), so one failure makes one issue whichever route
        # brought it: the SDK's message is the type, the detail in data.error the message.
        message = span.error.get("message") or "error"
        data = span.error.get("data")
        detail = data.get("error") if isinstance(data, dict) else None
        record["error"] = {"type": message[:200],
                           "message": detail if isinstance(detail, str) and detail else message}
        if data:
            attributes["error.data"] = data
    record["attributes"] = {k: v for k, v in attributes.items() if v is not None}
    return record


def _usage(record: dict, usage: Any) -> None:
    if not usage:
        return
    for ours, theirs in (
        ("input_tokens", ("input_tokens", "prompt_tokens")),
        ("output_tokens", ("output_tokens", "completion_tokens")),
    ):
        for key in theirs:
            value = usage.get(key) if isinstance(usage, dict) else getattr(usage, key, None)
            if isinstance(value, int):
                record[ours] = value
                break


def _last(output: Any) -> Any:
    if isinstance(output, (list, tuple)) and len(output) == 1:
        return output[0]
    return output


def _chat_finish_reason(output: Any) -> str | None:
    messages = output if isinstance(output, (list, tuple)) else [output]
    for message in messages:
        if isinstance(message, dict):
            if message.get("finish_reason"):
                return message["finish_reason"]
            # Chat Completions put calls in tool_calls, Responses-style items are function_call.
            if message.get("tool_calls") or message.get("type") == "function_call":
                return "tool_calls"
    return "stop" if output else None


def _response_finish_reason(response: Any) -> str | None:
    items = getattr(response, "output", None) or []
    if any(getattr(item, "type", None) == "function_call" for item in items):
        return "tool_calls"
    details = getattr(response, "incomplete_details", None)
    if details is not None and getattr(details, "reason", None) == "max_output_tokens":
        return "length"
    return "stop" if getattr(response, "status", None) in (None, "completed") else response.status


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
