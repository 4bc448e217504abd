"""OTLP logs and metrics exports -> what TraceView keeps of them. Pure: no Django, no database.

Logs: the OpenTelemetry GenAI instrumentations (openai-v2 and others, with
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true) send the messages of a model call as
log events beside its span, not as span attributes:

- `gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`,
  `gen_ai.tool.message`: one message the model was sent, the role in the event's name, the body
  `{"content": ..., "tool_calls": [...], "id": <tool call id>}`;
- `gen_ai.choice`: one answer, body `{"index", "finish_reason", "message": {...}}`;
- `gen_ai.client.inference.operation.details` (the newer conventions): the whole call, with
  `gen_ai.input.messages`, `gen_ai.output.messages` and `gen_ai.system_instructions` attributes.

The event name is the record's `eventName`, or its `event.name` attribute (older SDKs). Each
such record with a trace and span id becomes an event of that span's step carrying its message
in TraceView's canonical shape, `{"name", "time", "time_unix_nano", "attributes", "message",
"slot"}` with slot
"input" or "output" (traceview.core.trace.messages_from_events reads them back). The store joins
a step's events across requests, so messages that arrive before the span, after it, or split
over several exports all end up on the step, in time order.

Other log records (application logs, events of other conventions) are accepted and dropped:
`logs_to_invocations` counts them. A GenAI event without a usable trace or span id is rejected
(`partial_success.rejected_log_records`).

Metrics are accepted, checked to decode, and dropped: TraceView computes token usage and
durations from the spans themselves, and aggregated histograms without trace ids cannot be
attached to a run. `decode_otlp_metrics` returns how many data points were dropped.

Protobuf bodies are decoded into the proto3 JSON mapping and read by the same code as JSON ones.
Unlike trace exports, a protobuf logs body whose strings hold invalid UTF-8 is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ingest.formats.conventions import _message, map_attributes
from ingest.formats.otlp import (
    MAX_MESSAGES,
    OtlpDecodeError,
    UnsupportedContentType,
    _get,
    _InexactId,
    _iso,
    _json_any,
    _json_attributes,
    _json_ns,
    normalize_id,
    otlp_is_protobuf,
)
from ingest.formats.values import nesting_reason, too_deep
from traceview.core.trace import InvocationData, StepData, messages_from_events

INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"


@dataclass
class DecodedLogs:
    invocations: list[InvocationData]
    kept: int = 0
    dropped: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)


def _load(body: bytes, content_type: str | None, message_class, what: str) -> dict:
    """The request as the proto3 JSON mapping, whatever its encoding."""
    binary = otlp_is_protobuf(body, content_type)
    if binary is None:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        raise UnsupportedContentType(
            f"Content-Type {media!r} is not supported; send application/x-protobuf or "
            "application/json"
        )
    if binary:
        try:
            message = message_class.FromString(body)
        except DecodeError as exc:
            raise OtlpDecodeError(f"the body is not a valid protobuf {what} ({exc})") from None
        return json_format.MessageToDict(message)
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OtlpDecodeError(f"the body must be a JSON object (an {what})")
    deep = too_deep(data)
    if deep is not None:
        raise OtlpDecodeError(f"{deep}: {nesting_reason()}")
    return data


def _array(parent: dict, camel: str, snake: str, where: str) -> list:
    value = _get(parent, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpDecodeError(f"{where}{camel} must be an array")
    return value


def _objects(items: list, where: str):
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise OtlpDecodeError(f"{where}[{i}] must be an object")
        yield i, item


# ---------------------------------------------------------------------------------------------
# Logs


def logs_to_invocations(body: bytes, content_type: str | None) -> DecodedLogs:
    """Decode an ExportLogsServiceRequest; its GenAI message events become step events."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    data = _load(body, content_type, ExportLogsServiceRequest, "ExportLogsServiceRequest")
    if data and _get(data, "resourceLogs", "resource_logs") is None:
        hint = ("resourceSpans" in data and " (this is a trace export: send it to /v1/traces)"
                or "resourceMetrics" in data and " (this is a metrics export: send it to "
                "/v1/metrics)" or "")
        raise OtlpDecodeError(f"no resourceLogs in the body; expected an "
                              f"ExportLogsServiceRequest{hint}")
    out = DecodedLogs([])
    by_trace: dict[str, InvocationData] = {}
    steps: dict[tuple[str, str], StepData] = {}
    for ri, rl in _objects(_array(data, "resourceLogs", "resource_logs", ""), "resourceLogs"):
        where_r = f"resourceLogs[{ri}]"
        for si, sl in _objects(_array(rl, "scopeLogs", "scope_logs", f"{where_r}."),
                               f"{where_r}.scopeLogs"):
            where_s = f"{where_r}.scopeLogs[{si}]"
            records = _array(sl, "logRecords", "log_records", f"{where_s}.")
            for li, record in _objects(records, f"{where_s}.logRecords"):
                where = f"{where_s}.logRecords[{li}]"
                attributes = _json_attributes(record.get("attributes"))
                name = _get(record, "eventName", "event_name") or attributes.get("event.name")
                if not isinstance(name, str) or (
                        name not in INPUT_EVENTS and name not in (CHOICE_EVENT, DETAILS_EVENT)):
                    out.dropped += 1
                    continue
                try:
                    trace_id = normalize_id(_get(record, "traceId", "trace_id"), 16)
                    span_id = normalize_id(_get(record, "spanId", "span_id"), 8)
                except ValueError as exc:
                    _reject(out, where, f"{name}: trace or span id {exc}")
                    continue
                except _InexactId:
                    _reject(out, where, f"{name}: a trace or span id is a JSON number too large "
                                        "to read exactly; send ids as hex strings")
                    continue
                if not trace_id or not span_id or not trace_id.strip("0") or not (
                        span_id.strip("0")):
                    _reject(out, where, f"{name}: the record names no trace and span, so it "
                                        "cannot be attached to a step")
                    continue
                events = _events(name, record, attributes)
                if not events:
                    out.dropped += 1
                    continue
                step = steps.get((trace_id, span_id))
                if step is None:
                    step = steps[(trace_id, span_id)] = StepData(span_id=span_id, events=[])
                    inv = by_trace.get(trace_id)
                    if inv is None:
                        inv = by_trace[trace_id] = InvocationData(trace_id=trace_id)
                    inv.steps.append(step)
                step.events.extend(events)
                out.kept += 1
    for step in steps.values():
        for slot, messages in messages_from_events(step.events).items():
            setattr(step, slot, messages)
    out.invocations = list(by_trace.values())
    return out


def _reject(out: DecodedLogs, where: str, reason: str) -> None:
    out.rejected += 1
    if len(out.messages) < MAX_MESSAGES:
        out.messages.append(f"{where}: {reason}")


def _events(name: str, record: dict, attributes: dict) -> list[dict[str, Any]]:
    """The step events one GenAI log record makes: one per message it carries."""
    ns = (_json_ns(_get(record, "timeUnixNano", "time_unix_nano"))
          or _json_ns(_get(record, "observedTimeUnixNano", "observed_time_unix_nano")))
    body = _json_any(record.get("body")) if record.get("body") is not None else None
    kept = {k: v for k, v in attributes.items() if k != "event.name"}
    found: list[tuple[str, dict]] = []
    if name in INPUT_EVENTS:
        raw = dict(body) if isinstance(body, dict) else {"content": body}
        raw.setdefault("role", INPUT_EVENTS[name])
        if INPUT_EVENTS[name] == "tool" and raw.get("id") and not raw.get("tool_call_id"):
            raw["tool_call_id"] = raw["id"]
        found.append(("input", raw))
    elif name == CHOICE_EVENT:
        raw = body.get("message") if isinstance(body, dict) else None
        raw = dict(raw) if isinstance(raw, dict) else {}
        if isinstance(body, dict) and "tool_calls" in body and "tool_calls" not in raw:
            raw["tool_calls"] = body["tool_calls"]
        raw["role"] = raw.get("role") or "assistant"
        found.append(("output", raw))
    else:
        fields = map_attributes(attributes)
        found += [("input", m) for m in fields.input or [] if isinstance(m, dict)]
        found += [("output", m) for m in fields.output or [] if isinstance(m, dict)]
        for key in ("gen_ai.input.messages", "gen_ai.output.messages",
                    "gen_ai.system_instructions"):
            kept.pop(key, None)
    events = []
    for slot, raw in found:
        message = _message(raw)
        if message is None:
            continue
        events.append({"name": name, "time": _iso(ns), "time_unix_nano": ns,
                       "attributes": kept, "message": message, "slot": slot})
    return events


# ---------------------------------------------------------------------------------------------
# Metrics


def decode_otlp_metrics(body: bytes, content_type: str | None) -> int:
    """Check an ExportMetricsServiceRequest decodes; the number of data points it holds."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    data = _load(body, content_type, ExportMetricsServiceRequest, "ExportMetricsServiceRequest")
    if data and _get(data, "resourceMetrics", "resource_metrics") is None:
        raise OtlpDecodeError("no resourceMetrics in the body; expected an "
                              "ExportMetricsServiceRequest")
    points = 0
    for ri, rm in _objects(_array(data, "resourceMetrics", "resource_metrics", ""),
                           "resourceMetrics"):
        for si, sm in _objects(_array(rm, "scopeMetrics", "scope_metrics",
                                      f"resourceMetrics[{ri}]."),
                               f"resourceMetrics[{ri}].scopeMetrics"):
            for _, metric in _objects(_array(sm, "metrics", "metrics",
                                             f"resourceMetrics[{ri}].scopeMetrics[{si}]."),
                                      f"resourceMetrics[{ri}].scopeMetrics[{si}].metrics"):
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                    shape = metric.get(kind)
                    if isinstance(shape, dict) and isinstance(shape.get("dataPoints"), list):
                        points += len(shape["dataPoints"])
    return points


__all__ = ["DecodedLogs", "decode_otlp_metrics", "logs_to_invocations"]
