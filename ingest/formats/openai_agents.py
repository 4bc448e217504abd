"""The OpenAI Agents SDK's own trace export (`POST /v1/traces/ingest`) -> canonical invocations.

Pure: `parse_openai_agents(body) -> list[InvocationData]`, raising `FormatError` whose `errors`
name each bad field (`{"path": "data[3].span_data.type", "reason": ...}`). No Django here.

The SDK's `BackendSpanExporter` posts `{"data": [...]}` holding two kinds of objects:

* `{"object": "trace", "id", "workflow_name", "group_id", "metadata"}`, sent once at trace start and
  without timestamps: workflow_name becomes the invocation name (and the agent when no agent span
  came with it), group_id `attributes["conversation_id"]`, metadata `attributes["metadata"]`.
* `{"object": "trace.span", "id", "trace_id", "parent_id", "started_at", "ended_at", "span_data",
  "error"}`, sent at span end, children usually before their parents, one trace spread over
  several requests. Each request yields only the steps it carries; the store merges them.

Span types map onto step kinds: agent -> agent, generation/response/transcription/speech -> llm,
function -> tool, handoff -> handoff, guardrail -> guardrail, custom (turn, task ...), mcp_tools,
speech_group and any type the SDK adds later -> other. Only llm steps carry input_tokens and
output_tokens: turn and task spans repeat their children's usage, so theirs stays in
`attributes["usage"]` and totals are not counted twice. Ids are kept exactly as sent
("trace_936e...", "span_c615..."). A span's `error` {message, data} makes the step failed:
error_type is the SDK's message ("Error running tool", ...), error_message the detail in
`data.error` when there is one. An error on an agent span or on a root span means the run itself
failed, so the invocation is reported as failed too; a tool error the agent recovered from does not.
A function span's `mcp_data.server` (a tool served by an MCP server) is kept as
`attributes["traceview.mcp_server"]`, as the OTLP route names MCP servers.

What this export lacks: with the SDK's default model (the Responses API) a `response` span
carries only `response_id` (and sometimes usage): no model, messages or output. That is stored
as it is, a model call with its id. TraceView's `TraceViewProcessor` (sdk/) reads the response
object inside the process instead, and adds the model, the input items, the output, usage and
finish reason to the same step; it reports errors with the same fields as this route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.formats.conventions import as_int
from ingest.formats.errors import FormatError
from ingest.formats.native import parse_timestamp
from ingest.formats.values import ID_REASON, is_id, nonblank
from traceview.core.trace import InvocationData, StepData

KIND_BY_TYPE = {
    "agent": "agent",
    "generation": "llm",
    "response": "llm",
    "transcription": "llm",
    "speech": "llm",
    "function": "tool",
    "handoff": "handoff",
    "guardrail": "guardrail",
}
MAX_ERRORS = 100


class _Errors(list):
    def add(self, path: str, reason: str) -> None:
        if len(self) < MAX_ERRORS:
            self.append({"path": path, "reason": reason})


def _time(raw: dict, key: str, path: str, errors: _Errors) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        errors.add(f"{path}.{key}", str(exc))
        return None


def _usage_tokens(usage: Any) -> tuple[int | None, int | None]:
    if not isinstance(usage, dict):
        return None, None
    inp = usage.get("input_tokens", usage.get("prompt_tokens"))
    out = usage.get("output_tokens", usage.get("completion_tokens"))
    return as_int(inp), as_int(out)


def _without_nulls(value: Any) -> Any:
    # model_config lists every knob as null; keeping only what was set keeps the payload readable.
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def _apply_span_data(step: StepData, data: dict) -> None:
    kind_type = data["type"]
    step.kind = KIND_BY_TYPE.get(kind_type, "other")
    attrs: dict[str, Any] = {"openai_agents.span_type": kind_type}
    name = nonblank(data.get("name"))
    if kind_type == "agent":
        step.name = name or "agent"
        step.agent_name = name
        for key in ("handoffs", "tools", "output_type"):
            if data.get(key) is not None:
                attrs[key] = data[key]
    elif kind_type in ("generation", "transcription", "speech"):
        step.name = kind_type
        step.model = nonblank(data.get("model"))
        step.input = data.get("input")
        step.output = data.get("output")
        if data.get("model_config"):
            attrs["model_config"] = _without_nulls(data["model_config"])
        if kind_type == "speech" and data.get("first_content_at"):
            attrs["first_content_at"] = data["first_content_at"]
        step.input_tokens, step.output_tokens = _usage_tokens(data.get("usage"))
        if data.get("usage") is not None:
            attrs["usage"] = data["usage"]
    elif kind_type == "response":
        step.name = "response"
        if data.get("response_id"):
            attrs["response_id"] = data["response_id"]
        step.input_tokens, step.output_tokens = _usage_tokens(data.get("usage"))
        if data.get("usage") is not None:
            attrs["usage"] = data["usage"]
    elif kind_type == "function":
        step.name = name or "function"
        step.tool_name = name
        step.tool_arguments = data.get("input")
        step.tool_result = data.get("output")
        if data.get("mcp_data") is not None:
            attrs["mcp_data"] = data["mcp_data"]
            server = data["mcp_data"].get("server") if isinstance(data["mcp_data"], dict) else None
            if isinstance(server, str) and server:
                attrs["traceview.mcp_server"] = server
    elif kind_type == "handoff":
        source, target = nonblank(data.get("from_agent")), nonblank(data.get("to_agent"))
        step.name = f"handoff to {target}" if target else "handoff"
        step.agent_name = source
        attrs["from_agent"] = source
        attrs["to_agent"] = target
    elif kind_type == "guardrail":
        step.name = name or "guardrail"
        attrs["triggered"] = bool(data.get("triggered"))
        step.output = {"triggered": bool(data.get("triggered"))}
    elif kind_type == "custom":
        step.name = name or "custom"
        custom = data.get("data")
        if isinstance(custom, dict):
            custom = dict(custom)
            # Turn and task spans repeat the usage of the generations below them: keep it visible
            # in attributes but never as step tokens, which the store sums into totals.
            if "usage" in custom:
                attrs["usage"] = custom.pop("usage")
            if nonblank(custom.get("agent_name")):
                step.agent_name = custom["agent_name"]
            attrs["data"] = custom
        elif custom is not None:
            attrs["data"] = custom
    elif kind_type == "mcp_tools":
        server = nonblank(data.get("server"))
        step.name = f"list MCP tools {server}" if server else "list MCP tools"
        attrs["server"] = server
        step.output = data.get("result")
    else:
        step.name = name or kind_type
        attrs["span_data"] = {k: v for k, v in data.items() if k != "type"}
    step.attributes = attrs


def _parse_span(raw: dict, path: str, errors: _Errors) -> tuple[str, StepData] | None:
    span_id, trace_id = raw.get("id"), raw.get("trace_id")
    ok = True
    if not is_id(span_id):
        errors.add(f"{path}.id", f"is required and {ID_REASON}")
        ok = False
    if not is_id(trace_id):
        errors.add(f"{path}.trace_id", f"is required and {ID_REASON}")
        ok = False
    parent = raw.get("parent_id")
    if parent is not None and not is_id(parent):
        errors.add(f"{path}.parent_id", f"{ID_REASON}, or null")
        ok = False
    data = raw.get("span_data")
    if not isinstance(data, dict):
        errors.add(f"{path}.span_data", "is required and must be an object")
        ok = False
    elif not nonblank(data.get("type")):
        errors.add(f"{path}.span_data.type", "is required and must be a non-empty string")
        ok = False
    error = raw.get("error")
    if error is not None and not isinstance(error, dict):
        errors.add(f"{path}.error", "must be an object {message, data} or null")
        ok = False
    started, ended = _time(raw, "started_at", path, errors), _time(raw, "ended_at", path, errors)
    if started and ended and ended < started:
        errors.add(f"{path}.ended_at", "is before started_at")
        ok = False
    if not ok:
        return None
    step = StepData(span_id=span_id, parent_span_id=parent, started_at=started, ended_at=ended)
    _apply_span_data(step, data)
    if isinstance(raw.get("metadata"), dict) and raw["metadata"]:
        step.attributes["metadata"] = raw["metadata"]
    if error is not None:
        step.status = "error"
        message = nonblank(error.get("message"))
        detail = error.get("data")
        step.error_type = message[:200] if message else "error"
        inner = detail.get("error") if isinstance(detail, dict) else None
        step.error_message = inner if nonblank(inner) else message
        if detail is not None:
            step.attributes["error.data"] = detail
    elif ended is not None:
        step.status = "ok"
    return trace_id, step


def _depths(steps: list[StepData]) -> dict[str, int]:
    """Depth of each step within this request (a parent not in the request counts as a root).
    Each span is walked once: a walk stops at the first ancestor whose depth is known, so a long
    chain of nested spans costs linear time, and a cycle is cut where it closes."""
    parents = {s.span_id: s.parent_span_id for s in steps}
    depths: dict[str, int] = {}
    for span_id in parents:
        path, on_path, current = [], set(), span_id
        while current in parents and current not in depths and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parents[current]
        depth = depths[current] + 1 if current in depths else 0
        for node in reversed(path):
            depths[node] = depth
            depth += 1
    return depths


def _inherit_agent_names(steps: list[StepData], depths: dict[str, int]) -> None:
    # Generations and tool calls do not name their agent; the enclosing agent or turn span does.
    by_id = {s.span_id: s for s in steps}
    for step in sorted(steps, key=lambda s: depths[s.span_id]):
        parent = by_id.get(step.parent_span_id)
        if step.agent_name is None and parent is not None and step.kind != "handoff":
            step.agent_name = parent.agent_name


def _entry_agent(steps: list[StepData], depths: dict[str, int]) -> str | None:
    agents = [s for s in steps if s.kind == "agent" and s.agent_name]
    if not agents:
        return None
    first = min(
        agents,
        key=lambda s: (depths[s.span_id], s.started_at.timestamp() if s.started_at else 1e18),
    )
    return first.agent_name


def parse_openai_agents(body: Any) -> list[InvocationData]:
    """Validate an ingest body and return one InvocationData per trace id it mentions."""
    if not isinstance(body, dict):
        raise FormatError([{"path": "", "reason": 'the body must be an object {"data": [...]}'}])
    items = body.get("data")
    if not isinstance(items, list):
        raise FormatError([{"path": "data", "reason": "is required and must be an array"}])
    errors = _Errors()
    by_trace: dict[str, InvocationData] = {}
    workflow_names: dict[str, str] = {}

    def invocation(trace_id: str) -> InvocationData:
        return by_trace.setdefault(trace_id, InvocationData(trace_id=trace_id))

    for i, raw in enumerate(items):
        path = f"data[{i}]"
        if not isinstance(raw, dict):
            errors.add(path, "must be an object")
            continue
        obj = raw.get("object")
        if obj is None:
            obj = "trace.span" if "span_data" in raw else None
        if obj == "trace":
            trace_id = raw.get("id")
            if not is_id(trace_id):
                errors.add(f"{path}.id", f"is required and {ID_REASON}")
                continue
            inv = invocation(trace_id)
            attrs = inv.attributes or {}
            if nonblank(raw.get("workflow_name")):
                inv.name = raw["workflow_name"]
                workflow_names[trace_id] = raw["workflow_name"]
            if nonblank(raw.get("group_id")):
                attrs["conversation_id"] = raw["group_id"]
            if isinstance(raw.get("metadata"), dict) and raw["metadata"]:
                attrs["metadata"] = raw["metadata"]
            inv.attributes = attrs or None
        elif obj == "trace.span":
            parsed = _parse_span(raw, path, errors)
            if parsed is None:
                continue
            trace_id, step = parsed
            step.seq = i
            inv = invocation(trace_id)
            inv.steps.append(step)
            if step.status == "error" and (step.kind == "agent" or step.parent_span_id is None):
                inv.status = "error"
        else:
            errors.add(f"{path}.object", "must be 'trace' or 'trace.span'")
    if errors:
        raise FormatError(list(errors))
    for trace_id, inv in by_trace.items():
        depths = _depths(inv.steps)
        _inherit_agent_names(inv.steps, depths)
        inv.agent = _entry_agent(inv.steps, depths) or workflow_names.get(trace_id)
    return list(by_trace.values())
