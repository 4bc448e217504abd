"""OTLP/HTTP trace exports -> canonical invocations. Pure: no Django, no database.

The endpoint (`POST /v1/traces`, `POST /api/public/otel/v1/traces`) decompresses the body, then:

    invocations, rejected, messages = otlp_to_invocations(body, content_type)

- `body` is the decompressed ExportTraceServiceRequest, `content_type` the request's
  Content-Type (`application/x-protobuf` / `application/protobuf`, or `application/json`;
  parameters such as `; charset=utf-8` are ignored).
- It raises `OtlpDecodeError` (a ValueError; `.reason` is a sentence for the client) when the
  body as a whole cannot be decoded: answer 400. `UnsupportedContentType` is the subclass for a
  content type that is neither protobuf nor JSON: answer 415.
- Otherwise `invocations` holds the good spans grouped by trace id, `rejected` counts the spans
  that could not be used (no span id, a malformed trace id ...) and `messages` says why, ready
  for `partial_success.rejected_spans` and `partial_success.error_message` (join with "; ").

The two halves are usable on their own: `decode_otlp_traces(body, content_type) ->
DecodedTraces(spans, rejected, messages)` gives `OtlpSpan` records, and
`spans_to_invocations(spans)` maps them. `readable_spans_to_invocations(data)` does the same for
OpenTelemetry SDK ReadableSpan dumps (the JSON `span.to_json()` writes, as any-agent saves them:
decimal ids, `context`/`parent`, `status.status_code`), which `import_traces` reads.

What the JSON decoder tolerates beyond the OTLP/JSON spec, because real senders emit it:
snake_case keys, enum names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, or just `ERROR`),
upper-case hex, base64 ids (the proto3 JSON mapping of bytes), decimal ids (numbers or digit
strings), `0x`-prefixed and UUID-formatted ids, `attributes` as a plain object, 64-bit integers as
strings or numbers, and the pre-1.0 `instrumentationLibrarySpans`. Ids come out as lower-case hex:
32 characters for trace ids, 16 for span ids. Protobuf strings with invalid UTF-8 are decoded with
replacement characters instead of failing the batch.

Attribute mapping (kinds, models, usage, messages, tools, errors) is conventions.py. Each step
also keeps its span's raw attributes, except that an attribute whose value became the step's
input, output, tool arguments or tool result (`gen_ai.input.messages`, `gen_ai.tool.call.result`
...) says so (`"[kept as the step's input]"`) instead of holding a second copy; plus what
TraceView adds under keys that real conventions do not use: `otel.resource` (resource
attributes), `otel.scope` ({name, version, attributes}), `otel.span_kind`,
`otel.dropped_attributes_count`, `otel.links`, and `traceview.mcp_server` (the MCP server a tool
call went to, when the span names it). String values longer than MAX_VALUE_CHARS are cut there
with a visible "…[truncated by TraceView: N characters]" marker.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

import orjson
from google.protobuf.message import DecodeError

from ingest.formats.conventions import SpanFields, map_attributes
from ingest.formats.values import nesting_reason, nonblank, too_deep
from traceview.core.trace import MAX_VALUE_CHARS, InvocationData, StepData, truncate

# One reply names the first problems; a flood of identical reasons helps nobody.
MAX_MESSAGES = 20
# What a raw attribute says once its value is kept as one of the step's fields (messages,
# tool arguments and results): storing both doubled what a model call's span costs.
KEPT_MARKER = "[kept as the step's {}]"

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_SPAN_KIND_NAMES = {name: i for i, name in enumerate(SPAN_KINDS)}
_STATUS_NAMES = {"unset": 0, "ok": 1, "error": 2}


class OtlpDecodeError(ValueError):
    """The body as a whole cannot be decoded; `reason` says why, in words for the sender."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class UnsupportedContentType(OtlpDecodeError):
    """The Content-Type is neither OTLP protobuf nor OTLP JSON."""


@dataclass(slots=True)
class OtlpSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str | None = None
    kind: int = 0
    start_ns: int | None = None
    end_ns: int | None = None
    status_code: int = 0
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] | None = None
    dropped_attributes_count: int = 0


class DecodedTraces(NamedTuple):
    spans: list[OtlpSpan]
    rejected: int
    messages: list[str]


class _Rejects:
    def __init__(self):
        self.count = 0
        self.messages: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(f"{where}: {reason}")
        elif len(self.messages) == MAX_MESSAGES:
            self.messages.append("further rejected spans not listed")


# ---------------------------------------------------------------------------------------------
# Values


def _finite(value: float) -> float | str:
    # JSON (and PostgreSQL jsonb) has no NaN or infinities; keep them visible as text.
    return value if math.isfinite(value) else str(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ns: int | None) -> datetime | None:
    if not ns or ns <= 0:
        return None
    try:
        # A quarter of the cost of fromtimestamp(...).replace(microsecond=...), twice a span.
        return _EPOCH + timedelta(microseconds=ns // 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(ns: int | None) -> str | None:
    dt = ns_to_datetime(ns)
    return dt.isoformat() if dt else None


# ---------------------------------------------------------------------------------------------
# Protobuf


def _pb_value(v) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return truncate(v.string_value)
    if which == "int_value":
        return v.int_value
    if which == "bool_value":
        return v.bool_value
    if which == "double_value":
        return _finite(v.double_value)
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _pb_attributes(kvs) -> dict[str, Any]:
    """A KeyValue list as a dict. Most values are strings: they are read here without a call to
    _pb_value each (the dict is built for every span, event and link of every request)."""
    out = {}
    for kv in kvs:
        v = kv.value
        if v.WhichOneof("value") == "string_value":
            text = v.string_value
            out[kv.key] = text if len(text) <= MAX_VALUE_CHARS else truncate(text)
        else:
            out[kv.key] = _pb_value(v)
    return out


def _pb_attributes_lossy(kvs) -> dict[str, Any]:
    return {_text(kv.key): _pb_value_lossy(kv.value) for kv in kvs}


def _pb_value_lossy(v) -> Any:
    # The same for the bytes-typed clone used when a string field held invalid UTF-8.
    which = v.WhichOneof("value")
    if which == "string_value":
        return truncate(v.string_value.decode("utf-8", "replace"))
    if which == "array_value":
        return [_pb_value_lossy(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {_text(kv.key): _pb_value_lossy(kv.value) for kv in v.kvlist_value.values}
    return _pb_value(v)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@cache
def _lossy_request_class():
    """ExportTraceServiceRequest with every string field typed as bytes.

    upb refuses a message whose string fields hold invalid UTF-8; senders do emit that (truncated
    multi-byte characters), and one bad character must not cost the batch. Parsing the same bytes
    with this clone and decoding with errors="replace" keeps everything else.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    pool = descriptor_pool.DescriptorPool()
    order = []

    def collect(fd):
        for dep in fd.dependencies:
            collect(dep)
        if fd not in order:
            order.append(fd)

    collect(trace_service_pb2.DESCRIPTOR)
    for fd in order:
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        for msg in _all_messages(proto.message_type):
            for f in msg.field:
                if f.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                    f.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
    )


def _all_messages(messages):
    for m in messages:
        yield m
        yield from _all_messages(m.nested_type)


def _wrong_signal_hint(body: bytes) -> str:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    parsed = []
    for cls, signal, path in ((ExportLogsServiceRequest, "logs", "/v1/logs"),
                              (ExportMetricsServiceRequest, "metrics", "/v1/metrics")):
        try:
            message = cls.FromString(body)
        except DecodeError:
            continue
        parsed.append((_unknown_anywhere(message), signal, path))
    if not parsed:
        return ""
    # Logs and metrics share field numbers, so a metrics body often parses as logs too, but
    # only the right one parses without fields it does not know.
    _, signal, path = min(parsed, key=lambda p: p[0])
    return f"; it parses as an OTLP {signal} export ({path}), but this endpoint takes traces only"


def _unknown_anywhere(message) -> bool:
    if _has_unknown_fields(message):
        return True
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if kind is None or kind.GetOptions().map_entry:
            continue
        if any(_unknown_anywhere(v) for v in (value if descriptor.is_repeated else [value])):
            return True
    return False


def _decode_protobuf(body: bytes) -> DecodedTraces:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    lossy = False
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        if "MaxDepth" in str(exc):
            raise OtlpDecodeError(
                "an attribute value is nested deeper than the protobuf parser's limit of 100 "
                "message levels (about 30 nested AnyValues); flatten it or send it as a string"
            ) from None
        try:
            request = _lossy_request_class().FromString(body)
            lossy = True
        except DecodeError:
            raise OtlpDecodeError(
                f"the body is not a valid protobuf ExportTraceServiceRequest ({exc})"
                + _wrong_signal_hint(body)
            ) from None
    attributes = _pb_attributes_lossy if lossy else _pb_attributes
    text = _text if lossy else str
    rejects = _Rejects()
    spans: list[OtlpSpan] = []
    foreign = False
    for ri, rs in enumerate(request.resource_spans):
        resource = attributes(rs.resource.attributes)
        for si, ss in enumerate(rs.scope_spans):
            sc = ss.scope
            scope = {"name": text(sc.name), "version": text(sc.version)}
            if sc.attributes:
                scope["attributes"] = attributes(sc.attributes)
            for pi, s in enumerate(ss.spans):
                where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                if len(s.trace_id) != 16 or not any(s.trace_id):
                    rejects.add(where, "traceId must be 16 bytes, not all zero")
                    foreign = foreign or _has_unknown_fields(s)
                    continue
                if len(s.span_id) != 8 or not any(s.span_id):
                    rejects.add(where, "spanId must be 8 bytes, not all zero")
                    foreign = foreign or _has_unknown_fields(s)
                    continue
                parent = s.parent_span_id.hex() if len(s.parent_span_id) == 8 and any(
                    s.parent_span_id) else None
                span = OtlpSpan(
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_span_id=parent,
                    name=text(s.name) or None,
                    kind=s.kind,
                    start_ns=s.start_time_unix_nano or None,
                    end_ns=s.end_time_unix_nano or None,
                    status_code=s.status.code,
                    status_message=text(s.status.message) or None,
                    attributes=attributes(s.attributes),
                    resource=resource,
                    scope=scope,
                    dropped_attributes_count=s.dropped_attributes_count,
                )
                for e in s.events:
                    span.events.append({
                        "name": text(e.name),
                        "time_ns": e.time_unix_nano or None,
                        "attributes": attributes(e.attributes),
                    })
                for link in s.links:
                    span.links.append({
                        "trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                        "attributes": attributes(link.attributes),
                    })
                spans.append(span)
    if foreign and not spans:
        # Logs and metrics share the envelope's field numbers, so they parse as "spans" with
        # fields a span does not have: say what was posted instead of rejecting every "span".
        hint = _wrong_signal_hint(body)
        if hint:
            raise OtlpDecodeError("the body holds no valid spans" + hint)
    return DecodedTraces(spans, rejects.count, rejects.messages)


def _has_unknown_fields(message) -> bool:
    from google.protobuf import unknown_fields

    return len(unknown_fields.UnknownFieldSet(message)) > 0


# ---------------------------------------------------------------------------------------------
# JSON


def _get(obj: Mapping, camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


_ANY_VALUE_KEYS = {
    "stringValue", "string_value", "intValue", "int_value", "boolValue", "bool_value",
    "doubleValue", "double_value", "arrayValue", "array_value", "kvlistValue", "kvlist_value",
    "bytesValue", "bytes_value",
}


def _json_any(v: Any) -> Any:
    """An OTLP/JSON AnyValue -> a plain value."""
    if not isinstance(v, dict):
        return _json_plain(v)
    if not v:
        return None
    for key, raw in v.items():
        if key in ("stringValue", "string_value"):
            return truncate(raw) if isinstance(raw, str) else _json_plain(raw)
        if key in ("intValue", "int_value"):
            try:
                return int(raw)
            except (TypeError, ValueError):
                return _json_plain(raw)
        if key in ("boolValue", "bool_value"):
            return raw if isinstance(raw, bool) else str(raw).lower() == "true"
        if key in ("doubleValue", "double_value"):
            try:
                return _finite(float(raw))
            except (TypeError, ValueError):
                return _json_plain(raw)
        if key in ("arrayValue", "array_value"):
            values = raw.get("values") if isinstance(raw, dict) else raw
            return [_json_any(x) for x in _json_list(values)]
        if key in ("kvlistValue", "kvlist_value"):
            values = raw.get("values") if isinstance(raw, dict) else raw
            return _json_attributes(values)
        if key in ("bytesValue", "bytes_value"):
            return raw
    return _json_plain(v)


def _json_plain(v: Any) -> Any:
    if isinstance(v, str):
        return truncate(v)
    if isinstance(v, float):
        return _finite(v)
    if isinstance(v, list):
        return [_json_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_plain(x) for k, x in v.items()}
    return v


def _json_attributes(raw: Any) -> dict[str, Any]:
    """A KeyValue list, or (as some senders do) a plain object of values or AnyValues."""
    if not raw:
        return {}
    if isinstance(raw, dict):
        return {
            str(k): _json_any(v) if isinstance(v, dict) and len(v) == 1
            and next(iter(v)) in _ANY_VALUE_KEYS else _json_plain(v)
            for k, v in raw.items()
        }
    out = {}
    if isinstance(raw, list):
        for kv in raw:
            if isinstance(kv, dict) and kv.get("key") is not None:
                out[str(kv["key"])] = _json_any(kv.get("value"))
    return out


def normalize_id(value: Any, nbytes: int) -> str | None:
    """An id in any form real senders use -> lower-case hex of `nbytes` bytes, or None.

    Hex (any case, optional 0x, UUID dashes), base64 (proto3 JSON bytes), or decimal (a JSON
    number, or a digit string that is not already a full-width hex id). Raises ValueError for a
    value that is present but unusable.
    """
    width = nbytes * 2
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise _InexactId()
    if isinstance(value, bool):
        raise ValueError("must be a hex string")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        if len(text) == 36 and text.count("-") == 4:
            text = text.replace("-", "")
        if text.isdigit() and len(text) != width:
            number = int(text)
        elif len(text) <= width and _is_hex(text):
            return text.lower().rjust(width, "0")
        else:
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"is not a {width}-character hex id") from None
            if len(raw) != nbytes:
                raise ValueError(f"is not a {width}-character hex id")
            return raw.hex()
    else:
        raise ValueError("must be a hex string")
    if number < 0 or number >= 1 << (nbytes * 8):
        raise ValueError(f"decimal id does not fit in {nbytes} bytes")
    return format(number, f"0{width}x")


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return "_" not in text and " " not in text and "+" not in text and "-" not in text


def _json_ns(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        ns = int(value)
    except (TypeError, ValueError):
        try:
            ns = int(float(value))
        except (TypeError, ValueError, OverflowError):
            return None
    return ns if ns > 0 else None


def _json_list(value: Any) -> list:
    """A span's events or links, an array's values: an array, else (a number, an object)
    nothing."""
    return value if isinstance(value, list) else []


def _enum(value: Any, names: dict[str, int], prefix: str) -> int:
    if isinstance(value, bool):
        return 0
    # Span kinds and status codes are small numbers; any other number means nothing known.
    if isinstance(value, int):
        return value if 0 <= value <= 100 else 0
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text) if len(text) <= 3 else 0
        return names.get(text.lower().removeprefix(prefix), 0)
    return 0


class _InexactId(Exception):
    """An id arrived as a JSON number too big for orjson's 64-bit integers (parsed as float)."""


def _decode_json(body: bytes) -> DecodedTraces:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"the body is not valid JSON: {exc}") from None
    deep = too_deep(data)
    if deep is not None:
        raise OtlpDecodeError(f"{deep}: {nesting_reason()}")
    try:
        return _decode_json_data(data)
    except _InexactId:
        # Decimal 128-bit trace ids as numbers: the standard library keeps them exact.
        try:
            return _decode_json_data(json.loads(body))
        except ValueError as exc:  # a number of more digits than Python converts
            raise OtlpDecodeError(f"the body is not valid JSON: {exc}") from None
        except _InexactId:
            # Still a float: the id was written with a fraction or an exponent.
            raise OtlpDecodeError(
                "an id is a JSON number with a fraction or an exponent; send ids as hex strings"
            ) from None


def _decode_json_data(data: Any) -> DecodedTraces:
    if not isinstance(data, dict):
        raise OtlpDecodeError("the body must be a JSON object (an ExportTraceServiceRequest)")
    resource_spans = _get(data, "resourceSpans", "resource_spans")
    if resource_spans is None:
        for key, signal, path in (("resourceLogs", "logs", "/v1/logs"),
                                  ("resource_logs", "logs", "/v1/logs"),
                                  ("resourceMetrics", "metrics", "/v1/metrics"),
                                  ("resource_metrics", "metrics", "/v1/metrics")):
            if key in data:
                raise OtlpDecodeError(
                    f"this is an OTLP {signal} export ({key}); send it to {path}. "
                    "This endpoint takes traces (resourceSpans)"
                )
        if data:
            raise OtlpDecodeError("no resourceSpans in the body; expected an "
                                  "ExportTraceServiceRequest")
        return DecodedTraces([], 0, [])
    if not isinstance(resource_spans, list):
        raise OtlpDecodeError("resourceSpans must be an array")
    rejects = _Rejects()
    spans: list[OtlpSpan] = []
    for ri, rs in enumerate(resource_spans):
        if not isinstance(rs, dict):
            raise OtlpDecodeError(f"resourceSpans[{ri}] must be an object")
        res = rs.get("resource") or {}
        resource = _json_attributes(res.get("attributes") if isinstance(res, dict) else None)
        scope_spans = _get(rs, "scopeSpans", "scope_spans")
        if scope_spans is None:
            scope_spans = _get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
        if not isinstance(scope_spans or [], list):
            raise OtlpDecodeError(f"resourceSpans[{ri}].scopeSpans must be an array")
        for si, ss in enumerate(scope_spans or []):
            if not isinstance(ss, dict):
                raise OtlpDecodeError(f"resourceSpans[{ri}].scopeSpans[{si}] must be an object")
            sc = ss.get("scope") or _get(ss, "instrumentationLibrary",
                                         "instrumentation_library") or {}
            scope = None
            if isinstance(sc, dict):
                scope = {"name": sc.get("name") or "", "version": sc.get("version") or ""}
                if sc.get("attributes"):
                    scope["attributes"] = _json_attributes(sc["attributes"])
            raw_spans = ss.get("spans") or []
            if not isinstance(raw_spans, list):
                raise OtlpDecodeError(
                    f"resourceSpans[{ri}].scopeSpans[{si}].spans must be an array")
            for pi, s in enumerate(raw_spans):
                where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                span = _json_span(s, where, rejects)
                if span is not None:
                    span.resource = resource
                    span.scope = scope
                    spans.append(span)
    return DecodedTraces(spans, rejects.count, rejects.messages)


def _json_span(s: Any, where: str, rejects: _Rejects) -> OtlpSpan | None:
    if not isinstance(s, dict):
        rejects.add(where, "a span must be an object")
        return None
    try:
        trace_id = normalize_id(_get(s, "traceId", "trace_id"), 16)
    except ValueError as exc:
        rejects.add(where, f"traceId {exc}")
        return None
    try:
        span_id = normalize_id(_get(s, "spanId", "span_id"), 8)
    except ValueError as exc:
        rejects.add(where, f"spanId {exc}")
        return None
    if not trace_id or trace_id.strip("0") == "":
        rejects.add(where, "traceId is missing")
        return None
    if not span_id or span_id.strip("0") == "":
        rejects.add(where, "spanId is missing")
        return None
    try:
        parent = normalize_id(_get(s, "parentSpanId", "parent_span_id"), 8)
    except ValueError as exc:
        rejects.add(where, f"parentSpanId {exc}")
        return None
    if parent and parent.strip("0") == "":
        parent = None
    status = s.get("status") if isinstance(s.get("status"), dict) else {}
    name = s.get("name")
    span = OtlpSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=truncate(name) if isinstance(name, str) and name else None,
        kind=_enum(s.get("kind"), _SPAN_KIND_NAMES, "span_kind_"),
        start_ns=_json_ns(_get(s, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns=_json_ns(_get(s, "endTimeUnixNano", "end_time_unix_nano")),
        status_code=_enum(status.get("code"), _STATUS_NAMES, "status_code_"),
        status_message=status.get("message") or None,
        attributes=_json_attributes(s.get("attributes")),
        dropped_attributes_count=_json_ns(
            _get(s, "droppedAttributesCount", "dropped_attributes_count")) or 0,
    )
    for e in _json_list(s.get("events")):
        if isinstance(e, dict):
            span.events.append({
                "name": e.get("name") or "",
                "time_ns": _json_ns(_get(e, "timeUnixNano", "time_unix_nano")),
                "attributes": _json_attributes(e.get("attributes")),
            })
    for link in _json_list(s.get("links")):
        if isinstance(link, dict):
            try:
                link_ids = (normalize_id(_get(link, "traceId", "trace_id"), 16),
                            normalize_id(_get(link, "spanId", "span_id"), 8))
            except ValueError:
                continue
            span.links.append({"trace_id": link_ids[0], "span_id": link_ids[1],
                               "attributes": _json_attributes(link.get("attributes"))})
    return span


# ---------------------------------------------------------------------------------------------
# Entry points


PROTOBUF_MEDIA = ("application/x-protobuf", "application/protobuf",
                  "application/vnd.google.protobuf", "application/octet-stream")


def otlp_is_protobuf(body: bytes, content_type: str | None) -> bool | None:
    """Whether a request body is protobuf (True) or JSON (False) by its Content-Type, None
    for a type that is neither. Without a Content-Type the first byte tells: a protobuf request
    starts with field 1 (0x0a), a JSON one with "{" after optional whitespace. The reply uses
    the same encoding."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in PROTOBUF_MEDIA:
        return True
    if media == "application/json" or media.endswith("+json"):
        return False
    if not media:
        return body.lstrip()[:1] != b"{"
    return None


def decode_otlp_traces(body: bytes, content_type: str | None) -> DecodedTraces:
    """Decode an ExportTraceServiceRequest body (already decompressed) into OtlpSpan records."""
    binary = otlp_is_protobuf(body, content_type)
    if binary is not None:
        return _decode_protobuf(body) if binary else _decode_json(body)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    raise UnsupportedContentType(
        f"Content-Type {media!r} is not supported; send application/x-protobuf or "
        "application/json"
    )


def otlp_to_invocations(
    body: bytes, content_type: str | None
) -> tuple[list[InvocationData], int, list[str]]:
    """Decode and map an OTLP trace export: (invocations, rejected span count, messages)."""
    decoded = decode_otlp_traces(body, content_type)
    return spans_to_invocations(decoded.spans), decoded.rejected, decoded.messages


def span_to_step(span: OtlpSpan) -> tuple[StepData, SpanFields]:
    """One span -> its step, and what its attributes said (for invocation-level fields)."""
    fields = map_attributes(span.attributes, span.name)
    attributes = dict(span.attributes)
    if fields.kept_as:
        for key, field_name in fields.kept_as.items():
            attributes[key] = KEPT_MARKER.format(field_name)
    if span.resource:
        attributes["otel.resource"] = span.resource
    if span.scope and (span.scope.get("name") or span.scope.get("attributes")):
        attributes["otel.scope"] = span.scope
    if span.kind:
        attributes["otel.span_kind"] = SPAN_KINDS[span.kind] if 0 <= span.kind < 6 else span.kind
    if span.dropped_attributes_count:
        attributes["otel.dropped_attributes_count"] = span.dropped_attributes_count
    if span.links:
        attributes["otel.links"] = span.links
    if fields.mcp_server:
        attributes["traceview.mcp_server"] = fields.mcp_server
    llm = fields.kind == "llm"
    step = StepData(
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        kind=fields.kind,
        name=span.name,
        started_at=ns_to_datetime(span.start_ns),
        ended_at=ns_to_datetime(span.end_ns),
        model=fields.model,
        input_tokens=fields.input_tokens if llm else None,
        output_tokens=fields.output_tokens if llm else None,
        cost_usd=fields.cost_usd if llm else None,
        finish_reason=fields.finish_reason,
        tool_name=fields.tool_name,
        tool_call_id=fields.tool_call_id,
        tool_arguments=fields.tool_arguments,
        tool_result=fields.tool_result,
        input=fields.input,
        output=fields.output,
        attributes=attributes,
        events=[
            {"name": e["name"], "time": _iso(e.get("time_ns")), "attributes": e["attributes"]}
            for e in span.events
        ] or None,
        agent_name=fields.agent_name,
    )
    failed = span.status_code == 2 or fields.failed
    if failed:
        step.status = "error"
        _set_error(step, span, fields)
    elif step.ended_at is not None:
        step.status = "ok"
    return step, fields


def _set_error(step: StepData, span: OtlpSpan, fields: SpanFields) -> None:
    # The last exception event is the one that ended the span.
    exc = next((e["attributes"] for e in reversed(span.events) if e["name"] == "exception"), {})
    step.error_type = _short(exc.get("exception.type")) or fields.error_type
    step.error_message = (nonblank(exc.get("exception.message")) or fields.error_message
                          or span.status_message)
    step.error_traceback = nonblank(exc.get("exception.stacktrace")) or fields.error_traceback
    if step.error_type is None and fields.error_type is None and step.error_message is None:
        step.error_message = "the span ended with status ERROR"


def _short(value: Any) -> str | None:
    text = nonblank(value)
    return text[:200] if text else None


def spans_to_invocations(spans: Iterable[OtlpSpan]) -> list[InvocationData]:
    """Group spans by trace id into invocations, one step per span, in arrival order."""
    by_trace: dict[str, InvocationData] = {}
    roots: dict[str, tuple[StepData, SpanFields, OtlpSpan]] = {}
    for seq, span in enumerate(spans):
        step, fields = span_to_step(span)
        step.seq = seq
        inv = by_trace.get(span.trace_id)
        if inv is None:
            inv = by_trace[span.trace_id] = InvocationData(trace_id=span.trace_id)
        inv.steps.append(step)
        _collect_invocation_attributes(inv, span, fields)
        if span.parent_span_id is None:
            roots.setdefault(span.trace_id, (step, fields, span))
    for trace_id, inv in by_trace.items():
        root = roots.get(trace_id)
        if root is not None:
            _apply_root(inv, *root)
        elif inv.agent is None:
            # Without the root, what every span carries: the service, else the trace's name
            # (Langfuse's, which _collect_invocation_attributes made the invocation's name).
            service = _service_name(inv.steps[0].attributes.get("otel.resource") or {})
            inv.agent = service or inv.name
    return list(by_trace.values())


def _service_name(resource: Mapping[str, Any]) -> str | None:
    name = resource.get("service.name")
    if not isinstance(name, str) or not name or name.startswith("unknown_service"):
        return None
    if name == "langsmith" and resource.get("langsmith.internal_provider"):
        return None  # LangSmith's OTel mode names its own provider, not the user's service
    return name[:200]


def _names_its_agent(step: StepData, span: OtlpSpan) -> bool:
    """Whether a root step's name is what users see as the agent: an agent step, or the root
    of a tool that names traces by their root (LangSmith's root run, Langfuse's observation)."""
    return step.kind == "agent" or any(
        k.startswith(("langsmith.", "langfuse.")) for k in span.attributes)


def _collect_invocation_attributes(inv: InvocationData, span: OtlpSpan, fields: SpanFields):
    attrs = inv.attributes if inv.attributes is not None else {}
    for key, value in (("session_id", fields.session_id),
                       ("conversation_id", fields.conversation_id),
                       ("user_id", fields.user_id),
                       ("service_name", _service_name(span.resource))):
        if value is not None and key not in attrs:
            attrs[key] = value
    if attrs:
        inv.attributes = attrs
    if fields.trace_name and inv.name is None:
        inv.name = fields.trace_name[:500]
    if fields.trace_input is not None and inv.input is None:
        inv.input = fields.trace_input
    if fields.trace_output is not None and inv.output is None:
        inv.output = fields.trace_output


def _apply_root(inv: InvocationData, step: StepData, fields: SpanFields, span: OtlpSpan):
    # Only what the sender named: a span-name fallback would differ between the batch that
    # holds the root and the batches that do not (those use service.name).
    if step.kind == "other" and span.attributes.get("langsmith.span.kind") == "chain":
        # LangSmith's root run is the agent, as its runs API and TraceView's callback record it.
        step.kind = "agent"
        step.agent_name = step.agent_name or step.name
    named = span.attributes.get("gen_ai.agent.name") or span.attributes.get("agent.name")
    bracketed = fields.agent_name if step.kind != "agent" else None  # ADK's "invocation [app]"
    agent = named if isinstance(named, str) and named else (
        _service_name(span.resource) or fields.trace_name or bracketed
        or (step.agent_name or step.name if _names_its_agent(step, span) else None))
    if agent:
        inv.agent = agent[:200]
    if inv.name is None and step.name:
        inv.name = step.name[:500]
    if fields.version and inv.agent_version is None:
        inv.agent_version = fields.version[:100]
    inv.started_at = step.started_at
    inv.ended_at = step.ended_at
    if step.status in ("ok", "error"):
        inv.status = step.status
    if inv.input is None:
        inv.input = step.input
    if inv.output is None:
        inv.output = step.output


# ---------------------------------------------------------------------------------------------
# OpenTelemetry SDK ReadableSpan dumps (span.to_json(), any-agent traces, JS span dumps)


def readable_spans_to_invocations(data: Any) -> list[InvocationData]:
    """ReadableSpan dicts (a list, or {"spans": [...]}) -> invocations.

    Python's `span.to_json()` shape: `context` / `parent` with trace_id/span_id (hex strings
    "0x..." or, as any-agent saves them, decimal integers), `start_time`/`end_time` in ns,
    `status.status_code` "OK"/"ERROR"/"UNSET", `kind` "SpanKind.INTERNAL", attributes as an
    object, `resource.attributes`. JS dumps (`spanContext`, `parentSpanId`, `[sec, nanos]` times)
    are read too. Raises OtlpDecodeError when `data` is not a list of spans.
    """
    raw = data.get("spans") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise OtlpDecodeError("expected a list of spans or an object with 'spans'")
    rejects = _Rejects()
    spans = []
    for i, s in enumerate(raw):
        span = _readable_span(s, f"spans[{i}]", rejects)
        if span is not None:
            spans.append(span)
    return spans_to_invocations(spans)


def _readable_span(s: Any, where: str, rejects: _Rejects) -> OtlpSpan | None:
    if not isinstance(s, dict):
        rejects.add(where, "a span must be an object")
        return None
    ctx = s.get("context") or s.get("spanContext") or {}
    parent = s.get("parent") or {}
    try:
        trace_id = normalize_id(_get(ctx, "traceId", "trace_id"), 16)
        span_id = normalize_id(_get(ctx, "spanId", "span_id"), 8)
        parent_id = normalize_id(
            _get(parent, "spanId", "span_id") if isinstance(parent, dict) else None, 8
        ) or normalize_id(_get(s, "parentSpanId", "parent_id"), 8)
    except _InexactId:
        rejects.add(where, "id is a number too large to be exact; send it as a string")
        return None
    except ValueError as exc:
        rejects.add(where, f"id {exc}")
        return None
    if not trace_id or not span_id:
        rejects.add(where, "trace or span id is missing")
        return None
    status = s.get("status") or {}
    code = status.get("status_code", status.get("code")) if isinstance(status, dict) else None
    if isinstance(code, str):
        code = code.lower().removeprefix("statuscode.")
    kind = s.get("kind")
    if isinstance(kind, str):
        kind = kind.lower().removeprefix("spankind.")
    resource = s.get("resource") or {}
    return OtlpSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id if parent_id and parent_id.strip("0") else None,
        name=s.get("name") or None,
        kind=_enum(kind, _SPAN_KIND_NAMES, "span_kind_"),
        start_ns=_readable_time(s.get("start_time", s.get("startTime"))),
        end_ns=_readable_time(s.get("end_time", s.get("endTime"))),
        status_code=_enum(code, _STATUS_NAMES, "status_code_"),
        status_message=(status.get("description") or status.get("message") or None)
        if isinstance(status, dict) else None,
        attributes=_json_attributes(s.get("attributes")),
        events=[
            {"name": e.get("name") or "", "time_ns": _readable_time(e.get("timestamp",
                                                                          e.get("time"))),
             "attributes": _json_attributes(e.get("attributes"))}
            for e in _json_list(s.get("events")) if isinstance(e, dict)
        ],
        resource=_json_attributes(resource.get("attributes")) if isinstance(resource, dict)
        else {},
    )


def _readable_time(value: Any) -> int | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        return _json_ns(int(value[0]) * 1_000_000_000 + int(value[1]))
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1_000_000) * 1000
    return _json_ns(value)


__all__ = [
    "DecodedTraces", "OtlpDecodeError", "OtlpSpan", "UnsupportedContentType",
    "decode_otlp_traces", "normalize_id", "otlp_to_invocations", "readable_spans_to_invocations",
    "span_to_step", "spans_to_invocations",
]

