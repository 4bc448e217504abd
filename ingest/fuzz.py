"""Mutations of valid ingest requests, for the fuzz suite (tests/ingest/test_native_fuzz.py) and
`manage.py fuzz_ingest`: one valid body per route and encoding, made wrong in the ways senders
and attackers make it wrong. Every case must get an answer below 500.

Pure: `fuzz_case(rng)` returns a FuzzCase (route, content type, encoding, body bytes) from a
`random.Random`, so the test (hypothesis supplying the Random, and shrinking it) and the command
(a seeded Random, for as long as asked) draw from the same cases.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import re
import zlib
from dataclasses import dataclass
from typing import Any

TRACE = "5b8efff798038103d269b633813fc60c"
T0 = "2026-11-24T10:00:00Z"


def _native() -> Any:
    return {"invocations": [{"trace_id": "fuzz-1", "agent": "bot", "status": "error",
                             "input_tokens": 10, "cost_usd": 0.01, "steps": [
        {"span_id": "root", "kind": "agent", "name": "bot", "started_at": T0, "ended_at": T0},
        {"span_id": "llm-1", "parent_span_id": "root", "kind": "llm", "model": "gpt-4o",
         "input_tokens": 812, "output_tokens": 64, "cost_usd": 0.0027,
         "input": [{"role": "user", "content": "hi"}], "output": "hello"},
        {"span_id": "tool-1", "parent_span_id": "root", "kind": "tool", "name": "lookup",
         "tool": {"name": "lookup", "arguments": {"id": 4411}, "result": None},
         "error": {"type": "HTTPError", "message": "503"}}]}]}


def _otlp() -> Any:
    def attr(key, value):
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}
    return {"resourceSpans": [{"resource": {"attributes": [attr("service.name", "bot")]},
                               "scopeSpans": [{"scope": {"name": "fuzz"}, "spans": [
        {"traceId": TRACE, "spanId": "eee19b7ec3c1b174", "name": "chat gpt-4o",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
         "status": {"code": 2, "message": "failed"},
         "attributes": [attr("gen_ai.operation.name", "chat"),
                        attr("gen_ai.request.model", "gpt-4o"),
                        attr("gen_ai.usage.input_tokens", 30),
                        {"key": "nested", "value": {"kvlistValue": {"values": [
                            attr("a", "b")]}}}],
         "events": [{"name": "exception", "timeUnixNano": "1700000000500000000",
                     "attributes": [attr("exception.message", "boom")]}]}]}]}]}


def _agents() -> Any:
    return {"data": [
        {"object": "trace", "id": "trace_fuzz", "workflow_name": "bot"},
        {"object": "trace.span", "id": "span_1", "trace_id": "trace_fuzz", "parent_id": None,
         "started_at": T0, "ended_at": T0,
         "span_data": {"type": "generation", "model": "gpt-4o",
                       "usage": {"input_tokens": 5, "output_tokens": 2},
                       "input": [{"role": "user", "content": "hi"}]}},
        {"object": "trace.span", "id": "span_2", "trace_id": "trace_fuzz", "parent_id": "span_1",
         "span_data": {"type": "function", "name": "lookup", "input": "{}", "output": "x"},
         "error": {"message": "failed", "data": {"error": "boom"}}}]}


def _langfuse() -> Any:
    return {"batch": [
        {"id": "e1", "type": "trace-create", "timestamp": T0,
         "body": {"id": "lf-fuzz", "name": "bot", "metadata": {"k": "v"}}},
        {"id": "e2", "type": "generation-create", "timestamp": T0,
         "body": {"id": "g1", "traceId": "lf-fuzz", "model": "gpt-4o", "startTime": T0,
                  "endTime": T0, "usage": {"input": 30, "output": 5},
                  "input": [{"role": "user", "content": "hi"}]}},
        {"id": "e3", "type": "span-create", "timestamp": T0,
         "body": {"id": "s1", "traceId": "lf-fuzz", "parentObservationId": "g1",
                  "level": "ERROR", "statusMessage": "boom"}}]}


def _langsmith_run() -> Any:
    return {"id": "0191c8a4-0000-7000-8000-000000000001",
            "trace_id": "0191c8a4-0000-7000-8000-000000000001",
            "dotted_order": "20261124T100000000000Z0191c8a4-0000-7000-8000-000000000001",
            "name": "agent", "run_type": "chain", "start_time": T0, "end_time": T0,
            "inputs": {"q": "hi"}, "outputs": {"a": "hello"}, "error": None}


def _otlp_logs() -> Any:
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1700000000200000000", "traceId": TRACE, "spanId": "eee19b7ec3c1b174",
         "eventName": "gen_ai.user.message", "body": {"kvlistValue": {"values": [
             {"key": "content", "value": {"stringValue": "hi"}}]}},
         "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}


def _otlp_metrics() -> Any:
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "gen_ai.client.token.usage", "sum": {"dataPoints": [{"asInt": "5"}]}}]}]}]}


# (route, seed body, content type)
ROUTES: dict[str, tuple[str, Any, str]] = {
    "native": ("/api/v1/traces", _native, "application/json"),
    "otlp-json": ("/v1/traces", _otlp, "application/json"),
    "otlp-protobuf": ("/v1/traces", _otlp, "application/x-protobuf"),
    "langfuse-otel": ("/api/public/otel/v1/traces", _otlp, "application/json"),
    "otlp-logs": ("/v1/logs", _otlp_logs, "application/json"),
    "otlp-metrics": ("/v1/metrics", _otlp_metrics, "application/json"),
    "openai-agents": ("/v1/traces/ingest", _agents, "application/json"),
    "langfuse": ("/api/public/ingestion", _langfuse, "application/json"),
    "langsmith-run": ("/runs", _langsmith_run, "application/json"),
    "langsmith-batch": ("/runs/batch", lambda: {"post": [_langsmith_run()], "patch": []},
                        "application/json"),
}


@dataclass
class FuzzCase:
    route: str
    path: str
    content_type: str
    encoding: str  # "", "gzip" or "deflate"
    body: bytes
    mutation: str


# ---------------------------------------------------------------------------------------------
# Values that have broken parsers: deep nesting, numbers beyond every column, wrong types, NUL,
# lone surrogates, long text.

def _deep(rng: random.Random) -> Any:
    # A placeholder the encoder turns into JSON nested that deep: built as text, because the
    # standard library's encoder (like the readers it tests) would recurse into a real one.
    return f"\x01deep:{rng.choice([150, 600, 1000])}:{rng.choice(['{', '['])}\x01"


_DEEP = re.compile(r'"\\u0001deep:(\d+):([{\[])\\u0001"')


def _deep_text(match: re.Match) -> str:
    depth, kind = int(match.group(1)), match.group(2)
    if kind == "{":
        return '{"a": ' * depth + '"bottom"' + "}" * depth
    return "[" * depth + '"bottom"' + "]" * depth


NASTY = [
    lambda rng: 2**63, lambda rng: 10**30, lambda rng: -1, lambda rng: -(2**70),
    lambda rng: 1e308, lambda rng: 2**62, lambda rng: 0.1, lambda rng: "1e400",
    lambda rng: True, lambda rng: None, lambda rng: [], lambda rng: {}, lambda rng: [[[]]],
    lambda rng: {"x": {"y": 1}}, lambda rng: "", lambda rng: " ", lambda rng: "a\x00b",
    lambda rng: "\ud800", lambda rng: "x" * rng.choice([129, 201, 600, 70_000]),
    lambda rng: "9" * 5000, lambda rng: "2026-13-45T99:99:99Z", lambda rng: "NaN",
    lambda rng: "\u202e\u0000<script>alert(1)</script>", _deep,
]


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if len(path) > 30:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, path + (i,))
    return out


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return root


def _mutate_tree(rng: random.Random, body: Any) -> tuple[Any, str]:
    path = rng.choice(_paths(body))
    name = ".".join(map(str, path)) or "(body)"
    action = rng.random()
    if action < 0.7:
        value = rng.choice(NASTY)(rng)
        return _set(body, path, value), f"{name} = {_describe(value)}"
    if action < 0.85 and path:
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return body, f"del {name}"
    if path:
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, list):
            parent.extend([parent[path[-1]]] * rng.choice([1, 3]))
            return body, f"repeat {name}"
    target = body
    for key in path:
        target = target[key]
    return _set(body, path, [target] if rng.random() < 0.5 else {"x": target}), f"wrap {name}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_protobuf(body: Any) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    json_format.ParseDict(body, message, ignore_unknown_fields=True)
    return message.SerializeToString()


def _encode(body: Any) -> bytes:
    text = _DEEP.sub(_deep_text, json.dumps(body))
    return text.encode()


def _byte_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    choice = rng.randrange(5)
    if choice == 0 and data:
        cut = rng.randrange(len(data))
        return data[:cut], f"truncated at byte {cut}"
    if choice == 1 and data:
        at = rng.randrange(len(data))
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:], f"byte {at} flipped"
    if choice == 2:
        at = data.find(b'"', rng.randrange(max(1, len(data))))
        at = at + 1 if at >= 0 else len(data)
        return data[:at] + b"\xff\xfe\xc3" + data[at:], "invalid UTF-8"
    if choice == 3:
        return data * 2, "body repeated"
    return b"", "empty body"


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"[" * (64 * 1024 * 1024), 9)


def fuzz_case(rng: random.Random) -> FuzzCase:
    """One mutated request for a random route and encoding."""
    route = rng.choice(sorted(ROUTES))
    path, seed, content_type = ROUTES[route]
    body, mutation = seed(), "valid"
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        body, what = _mutate_tree(rng, body)
        mutation = what if mutation == "valid" else f"{mutation}; {what}"
    if content_type == "application/x-protobuf":
        try:
            data = _to_protobuf(body)
        except Exception:  # noqa: BLE001 - a mutation protobuf cannot hold: send it as JSON
            data = _encode(body)
    else:
        data = _encode(body)
    if rng.random() < 0.25:
        data, what = _byte_mutation(rng, data)
        mutation = f"{mutation}; {what}"
    encoding = rng.choice(["", "", "gzip", "deflate"])
    if encoding == "gzip":
        if rng.random() < 0.1:
            # A bomb: small on the wire, far above the body limit once inflated.
            data, mutation = _bomb(), "gzip bomb"
        else:
            data = gzip.compress(data)
            if rng.random() < 0.2:
                data, mutation = data[: max(1, len(data) // 2)], f"{mutation}; truncated gzip"
    elif encoding == "deflate":
        data = zlib.compress(data)
    return FuzzCase(route, path, content_type, encoding, data, mutation)
