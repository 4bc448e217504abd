"""Langfuse's ingestion batch (`POST /api/public/ingestion`) and trace export -> invocations.

Pure, no Django. Two entry points:

`langfuse_batch_to_invocations(body) -> (invocations, successes, errors)`
    body is `{"batch": [{id, type, timestamp, body}], "metadata": ...}`. The endpoint answers 207
    with per-event results, so a bad event is an error for that event only:
    successes are `{"id": event id, "status": 201}`, errors `{"id", "status": 400, "message"}`.
    Only a body that is not a batch at all raises `FormatError` (path + reason).

`langfuse_export_to_invocations(data) -> list[InvocationData]`
    the trace export `{"trace": {...}, "observations": [...]}` (the Langfuse UI's JSON export, whose
    observation.metadata holds the raw OTel span attributes as a JSON string). Each step's
    `attributes` is that flat OTel attribute dict, so the OTLP conventions can refine kinds later;
    `otel_attributes(observation)` gives the same dict for one observation.

Mapping (batch):
* trace-create: name -> invocation name and agent, timestamp -> started_at, input/output,
  userId/sessionId -> attributes user_id/conversation_id, tags/release/environment/metadata ->
  attributes, version -> agent_version. Sent again with the same id it updates: fields it leaves
  out stay None, which the store reads as "keep what you have".
* span/generation/event/agent/tool/chain/retriever/evaluator/embedding/guardrail-create,
  span/generation-update (and the legacy observation-create/update): one step per observation id,
  create and update merged field by field within a batch and by the store across batches.
  Kinds: generation/embedding -> llm, agent -> agent, tool -> tool, retriever -> retrieval,
  guardrail -> guardrail, span/chain/evaluator/event -> other, except a span whose metadata carries
  a tool_call_id, which is a tool call. Only llm steps carry tokens (usageDetails, else the older
  usage {input, output} or {promptTokens, completionTokens}) and cost (costDetails.total, else
  usage totalCost or inputCost + outputCost); elsewhere usage stays in attributes.
  level ERROR makes the step failed with statusMessage as the error message; an end time
  otherwise makes it ok. An event is instantaneous (ended when it started).
* score-create: appended to `attributes["scores"]` of its trace ({id, name, value, ...}).
* sdk-log: accepted and dropped.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ingest.formats.conventions import (
    as_decimal,
    as_int,
    map_attributes,
    mcp_result,
    normalize_messages,
    tool_arguments,
    tool_message_content,
    unwrap_call,
)
from ingest.formats.errors import FormatError
from ingest.formats.native import parse_timestamp
from ingest.formats.values import ID_REASON, is_id, nonblank, structured
from traceview.core.trace import InvocationData, StepData, session_of

KIND_BY_OBSERVATION_TYPE = {
    "span": "other",
    "generation": "llm",
    "event": "other",
    "agent": "agent",
    "tool": "tool",
    "chain": "other",
    "retriever": "retrieval",
    "evaluator": "other",
    "embedding": "llm",
    "guardrail": "guardrail",
}
CREATE_TYPES = {f"{t}-create": t for t in KIND_BY_OBSERVATION_TYPE}
UPDATE_TYPES = {"span-update": "span", "generation-update": "generation"}
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")


class EventError(ValueError):
    """One event that cannot be accepted; the rest of the batch still goes through."""


def _time(body: dict, key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise EventError(f"body.{key}: {exc}") from None


def _usage(body: dict) -> tuple[int | None, int | None, Decimal | None]:
    details = body.get("usageDetails") if isinstance(body.get("usageDetails"), dict) else {}
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    inp = as_int(details.get("input"))
    out = as_int(details.get("output"))
    if inp is None:
        inp = as_int(usage.get("input", usage.get("promptTokens")))
    if out is None:
        out = as_int(usage.get("output", usage.get("completionTokens")))
    costs = body.get("costDetails") if isinstance(body.get("costDetails"), dict) else {}
    cost = as_decimal(costs.get("total"))
    if cost is None:
        cost = as_decimal(usage.get("totalCost"))
    if cost is None:
        parts = [as_decimal(usage.get("inputCost")), as_decimal(usage.get("outputCost"))]
        if any(p is not None for p in parts):
            cost = sum((p for p in parts if p is not None), Decimal(0))
    return inp, out, cost


def _observation_step(body: dict, obs_type: str | None, is_create: bool) -> StepData:
    """One observation body -> a step carrying only the fields the body sent."""
    step = StepData(span_id=body["id"])
    step.parent_span_id = nonblank(body.get("parentObservationId"))
    step.name = nonblank(body.get("name"))
    step.started_at = _time(body, "startTime")
    step.ended_at = _time(body, "endTime")
    metadata = structured(body.get("metadata"))
    kind = KIND_BY_OBSERVATION_TYPE.get(obs_type) if obs_type else None
    tool_call_id = metadata.get("tool_call_id") if isinstance(metadata, dict) else None
    if obs_type == "span" and nonblank(tool_call_id):
        kind = "tool"
    if obs_type == "span" and not is_create:
        # An update does not say what the observation is; the create (or the store) decides.
        kind = "tool" if nonblank(tool_call_id) else None
    step.kind = kind
    if obs_type == "event" and step.started_at and step.ended_at is None:
        step.ended_at = step.started_at
    attrs: dict[str, Any] = {}
    if is_create and obs_type:
        attrs["langfuse.observation_type"] = obs_type
    if metadata is not None:
        attrs["metadata"] = metadata
    for key, name in (("modelParameters", "model_parameters"), ("version", "version"),
                      ("environment", "environment"), ("promptName", "prompt_name"),
                      ("promptVersion", "prompt_version")):
        if body.get(key) not in (None, {}, ""):
            attrs[name] = body[key]
    if body.get("completionStartTime") is not None:
        _time(body, "completionStartTime")
        attrs["completion_start_time"] = body["completionStartTime"]
    step.model = nonblank(body.get("model"))
    if kind == "tool":
        step.tool_name = step.name
        step.tool_call_id = nonblank(tool_call_id)
        step.tool_arguments = unwrap_call(body.get("input"))
        step.tool_result = body.get("output")
    elif kind == "llm":
        step.input = _messages_or(unwrap_call(body.get("input")))
        step.output = _messages_or(body.get("output"))
    else:
        step.input = unwrap_call(body.get("input"))
        step.output = body.get("output")
    inp, out, cost = _usage(body)
    if kind == "llm" or obs_type in ("generation", "embedding"):
        step.input_tokens, step.output_tokens, step.cost_usd = inp, out, cost
    else:
        for key in ("usage", "usageDetails", "costDetails"):
            if body.get(key):
                attrs[key] = body[key]
    level = body.get("level")
    if level is not None:
        if level not in LEVELS:
            raise EventError(f"body.level must be one of {', '.join(LEVELS)}")
        attrs["level"] = level
    message = body.get("statusMessage")
    if level == "ERROR":
        step.status = "error"
        step.error_message = message if isinstance(message, str) else None
    else:
        if message is not None:
            attrs["status_message"] = message
        if step.ended_at is not None:
            step.status = "ok"
    step.attributes = attrs or None
    return step


def _messages_or(value: Any) -> Any:
    return normalize_messages(value) or value if value is not None else None


# Span names that say the span runs a tool, whatever its observation type.
_TOOL_SPAN_NAME = re.compile(r"^\s*(execute_tool|running tool|tool)\s*[: ]\s*(\S.*)$",
                             re.IGNORECASE)


def _tool_calls_requested(steps: list[StepData]) -> list[dict]:
    """The tool calls the batch's generations asked for, in order."""
    calls = []
    for step in steps:
        if step.kind == "llm":
            for message in normalize_messages(step.output) or []:
                calls.extend(c for c in message.get("tool_calls", []) if c.get("name"))
    return calls


def _spans_that_ran_tools(steps: list[StepData]) -> None:
    """SDK v2 users often record a tool call as a plain `span`. It is a tool step when a
    generation of the batch asked for a tool of its name (its call id is the call with the
    same arguments, else the next unclaimed one), when its name says so (`tool: search`,
    `execute_tool search`), or when its output is a tool message."""
    calls = _tool_calls_requested(steps)
    claimed: set[int] = set()
    for step in steps:
        attrs = step.attributes or {}
        if step.kind != "other" or attrs.get("langfuse.observation_type") != "span":
            continue
        named = _TOOL_SPAN_NAME.match(step.name or "")
        name = named.group(2).strip() if named else step.name
        output = step.output if isinstance(step.output, dict) else {}
        matching = [i for i, c in enumerate(calls) if c["name"] == name and i not in claimed]
        call_id = nonblank(output.get("tool_call_id")) if output.get("role") == "tool" or (
            output.get("type") == "tool") else None
        if not (matching or named or call_id):
            continue
        exact = [i for i in matching if calls[i].get("arguments") == step.input]
        if exact or matching:
            index = (exact or matching)[0]
            claimed.add(index)
            call_id = call_id or calls[index].get("id")
        step.kind, step.tool_name, step.tool_call_id = "tool", name, call_id or step.tool_call_id
        step.tool_arguments, step.input = step.input, None
        step.tool_result = tool_message_content(step.output)
        if isinstance(step.tool_result, dict) and step.tool_result.get("role") == "tool":
            step.tool_result = step.tool_result.get("content")
        step.output = None


def _merge_step(old: StepData, new: StepData) -> StepData:
    """A later event about the same observation wins for every field it sent."""
    # An update that only ends an ERROR observation (no level of its own) must not make it ok.
    keep_error = old.status == "error" and new.status == "ok" and "level" not in (
        new.attributes or {}
    )
    for name in StepData.__slots__:
        value = getattr(new, name)
        if name == "attributes" and value and old.attributes:
            value = {**old.attributes, **value}
        if value is not None:
            setattr(old, name, value)
    if keep_error:
        old.status = "error"
    return old


def _trace_fields(inv: InvocationData, body: dict) -> None:
    started_at = _time(body, "timestamp")  # first, so a bad trace changes nothing
    inv.started_at = started_at or inv.started_at
    if nonblank(body.get("name")):
        inv.name = inv.agent = body["name"]
    for key in ("input", "output"):
        if body.get(key) is not None:
            setattr(inv, key, body[key])
    if body.get("version") is not None:
        inv.agent_version = str(body["version"])
    attrs = dict(inv.attributes or {})
    for key, name in (("userId", "user_id"), ("sessionId", "conversation_id"), ("tags", "tags"),
                      ("release", "release"), ("environment", "environment")):
        if body.get(key) not in (None, "", []):
            attrs[name] = body[key]
    metadata = structured(body.get("metadata"))
    if metadata not in (None, {}, ""):
        attrs["metadata"] = metadata
    inv.attributes = attrs or None


def _score(body: dict) -> dict[str, Any]:
    score = {k: body[k] for k in ("id", "name", "value", "stringValue", "dataType", "comment",
                                  "observationId", "source", "configId") if body.get(k) is not None}
    if "name" not in score:
        raise EventError("body.name is required for a score")
    if "value" not in score and "stringValue" not in score:
        raise EventError("body.value is required for a score")
    return score


def langfuse_batch_to_invocations(
    body: Any,
) -> tuple[list[InvocationData], list[dict[str, Any]], list[dict[str, Any]]]:
    """Split an ingestion batch into invocations plus per-event successes and errors."""
    if not isinstance(body, dict):
        raise FormatError([{"path": "", "reason": 'the body must be an object {"batch": [...]}'}])
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise FormatError([{"path": "batch", "reason": "is required and must be an array"}])
    invocations: dict[str, InvocationData] = {}
    steps: dict[tuple[str, str], StepData] = {}
    successes: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []

    def invocation(trace_id: str) -> InvocationData:
        return invocations.setdefault(trace_id, InvocationData(trace_id=trace_id))

    for i, event in enumerate(batch):
        event_id = event.get("id") if isinstance(event, dict) else None
        if not nonblank(event_id):
            event_id = f"batch[{i}]"
        try:
            if not isinstance(event, dict):
                raise EventError("the event must be an object {id, type, timestamp, body}")
            kind, payload = event.get("type"), event.get("body")
            if not isinstance(kind, str):
                raise EventError("type is required and must be a string such as trace-create")
            if not isinstance(payload, dict):
                raise EventError("body is required and must be an object")
            for key in ("id", "traceId", "parentObservationId"):
                if kind != "sdk-log" and payload.get(key) not in (None, "") and not is_id(
                    payload[key]
                ):
                    raise EventError(f"body.{key} {ID_REASON}")
            if kind == "sdk-log":
                pass
            elif kind == "trace-create":
                if not nonblank(payload.get("id")):
                    raise EventError("body.id is required")
                _trace_fields(invocation(payload["id"]), payload)
            elif kind == "score-create":
                score = _score(payload)
                trace_id = nonblank(payload.get("traceId"))
                # Scores of sessions or dataset runs have no trace here to attach to.
                if trace_id:
                    inv = invocation(trace_id)
                    attrs = dict(inv.attributes or {})
                    attrs["scores"] = [*attrs.get("scores", []), score]
                    inv.attributes = attrs
            elif kind in CREATE_TYPES or kind in UPDATE_TYPES or kind in (
                "observation-create", "observation-update"
            ):
                if kind.startswith("observation-"):
                    raw_type = payload.get("type")
                    obs_type = raw_type.lower() if isinstance(raw_type, str) else None
                    if kind == "observation-create" and obs_type not in KIND_BY_OBSERVATION_TYPE:
                        raise EventError("body.type must be an observation type such as SPAN")
                else:
                    obs_type = CREATE_TYPES.get(kind) or UPDATE_TYPES[kind]
                if not nonblank(payload.get("id")):
                    raise EventError("body.id is required")
                trace_id = nonblank(payload.get("traceId"))
                if not trace_id:
                    raise EventError("body.traceId is required")
                step = _observation_step(payload, obs_type, is_create=kind.endswith("-create"))
                key = (trace_id, step.span_id)
                if key in steps:
                    _merge_step(steps[key], step)
                else:
                    step.seq = i
                    steps[key] = step
                    invocation(trace_id).steps.append(step)
            else:
                raise EventError(f"unknown event type {kind!r}")
        except EventError as exc:
            errors.append({"id": event_id, "status": 400, "message": str(exc)})
            continue
        successes.append({"id": event_id, "status": 201})
    for inv in invocations.values():
        _spans_that_ran_tools(inv.steps)
    return list(invocations.values()), successes, errors


def otel_attributes(observation: dict) -> dict[str, Any]:
    """The raw OTel span attributes an exported observation keeps in its metadata."""
    metadata = structured(observation.get("metadata"))
    if isinstance(metadata, dict) and isinstance(metadata.get("attributes"), dict):
        return dict(metadata["attributes"])
    return {}


def _refine_with_conventions(step: StepData, attrs: dict[str, Any]) -> None:
    """Let the span's own OTel attributes decide the kind and the tool fields.

    The observation type is Langfuse's guess from those attributes, and it guesses wrong where
    it matters: it calls Vercel's outer `ai.generateText` (the tool loop, whose usage repeats its
    children's) a generation, which would count its tokens twice; and it names a tool step after
    the span ("execute_tool say_hello") rather than the tool. A kind of "other" from the
    conventions means they did not recognise the span, so Langfuse's type stands.
    """
    fields = map_attributes(attrs, step.name)
    kind = fields.kind if fields.kind != "other" else step.kind
    if kind == "tool" and step.kind != "tool":
        step.tool_arguments, step.tool_result = step.input, step.output
        step.input = step.output = None
    if kind == "llm":
        for name in ("input_tokens", "output_tokens", "cost_usd"):
            if getattr(step, name) is None:
                setattr(step, name, getattr(fields, name))
    else:
        step.input_tokens = step.output_tokens = step.cost_usd = None
    if kind in ("tool", "handoff"):
        step.tool_name = fields.tool_name or step.tool_name or step.name
        step.tool_call_id = fields.tool_call_id or step.tool_call_id
        step.tool_arguments = tool_arguments(step.tool_arguments)
        step.tool_result, error = mcp_result(step.tool_result)
        if error is not None:
            step.status, step.error_type, step.error_message = "error", "MCP tool error", error
    step.model = step.model or fields.model
    step.agent_name = step.agent_name or fields.agent_name
    step.kind = kind


def langfuse_export_to_invocations(data: Any) -> list[InvocationData]:
    """A Langfuse trace export {trace, observations} -> one invocation."""
    if not isinstance(data, dict) or not isinstance(data.get("trace"), dict):
        raise FormatError([{"path": "trace", "reason": "is required and must be an object"}])
    trace = data["trace"]
    observations = data.get("observations", [])
    if not isinstance(observations, list):
        raise FormatError([{"path": "observations", "reason": "must be an array"}])
    problems = []
    if not nonblank(trace.get("id")):
        problems.append({"path": "trace.id", "reason": "is required"})
    inv = InvocationData(trace_id=trace.get("id") or "")
    try:
        _trace_fields(inv, trace)
    except EventError as exc:
        problems.append({"path": "trace", "reason": str(exc)})
    scores = structured(trace.get("scores"))
    if isinstance(scores, list) and scores:
        inv.attributes = {**(inv.attributes or {}), "scores": scores}
    for i, obs in enumerate(observations):
        path = f"observations[{i}]"
        if not isinstance(obs, dict) or not nonblank(obs.get("id")):
            problems.append({"path": f"{path}.id", "reason": "is required"})
            continue
        raw_type = obs.get("type")
        obs_type = raw_type.lower() if isinstance(raw_type, str) else "span"
        body = {k: v for k, v in obs.items() if k != "metadata"}
        try:
            step = _observation_step(body, obs_type, is_create=True)
        except EventError as exc:
            problems.append({"path": path, "reason": str(exc)})
            continue
        attrs = step.attributes or {}
        raw_attributes = otel_attributes(obs)
        if raw_attributes:
            _refine_with_conventions(step, raw_attributes)
        step.attributes = {**raw_attributes, **{
            f"langfuse.{k}": v for k, v in attrs.items() if k != "langfuse.observation_type"
        }, "langfuse.observation_type": obs_type}
        step.seq = i
        inv.steps.append(step)
    if problems:
        raise FormatError(problems)
    if session_of(inv.attributes) is None:
        # LangGraph keeps its thread id in each observation's metadata, which the steps do not
        # keep whole: the run is a turn of that thread.
        thread = session_of(None, [{"metadata": o.get("metadata")} for o in observations
                                   if isinstance(o, dict)])
        if thread is not None:
            inv.attributes = {**(inv.attributes or {}), "thread_id": thread}
    return [inv]
