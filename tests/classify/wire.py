"""Serialise generated labelled invocations into wire formats, to read them back with ingest.

Each serialiser turns one canonical invocation into the payload a real sender would post, in the
idiom of its convention (not a dump of our dataclasses), and returns it with the map from our
span ids to the ids on the wire (OTLP and the OpenAI Agents SDK have their own id shapes), so a
case's labelled root step can be followed:

- `to_native`: the native JSON format (docs/native-format.md);
- `to_otlp_genai`: OTLP JSON with the OpenTelemetry GenAI semantic conventions;
- `to_otlp_openinference`: OTLP JSON with OpenInference attributes;
- `to_openai_agents`: the OpenAI Agents SDK's trace export (`{"data": [...]}`).

Budgets from the agent's settings are not part of any wire format (the store fills them from the
Agent row), so `roundtrip` copies them over, as reading an invocation back from the store does.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import orjson

from ingest.formats.native import parse_native
from ingest.formats.openai_agents import parse_openai_agents
from ingest.formats.otlp import otlp_to_invocations
from traceview.core.trace import InvocationData, StepData

FORMATS = ("native", "otlp-genai", "otlp-openinference", "openai-agents")


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def _ns(dt) -> str | None:
    return str(int(dt.timestamp() * 1_000_000) * 1000) if dt else None


def _hex(seed: str, nbytes: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[: nbytes * 2]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _num(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _messages(value: Any, role: str = "assistant") -> list[dict] | None:
    """A step's input/output as chat messages, the shape every convention's messages take."""
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    if isinstance(value, dict) and "role" in value:
        return [value]
    return [{"role": role, "content": value if isinstance(value, str) else _json(value)}]


# --- native --------------------------------------------------------------------------------


def to_native(inv: InvocationData) -> tuple[dict, dict[str, str]]:
    steps = []
    for s in inv.steps:
        raw: dict[str, Any] = {"span_id": s.span_id, "parent_span_id": s.parent_span_id,
                               "kind": s.kind, "name": s.name, "status": s.status,
                               "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at)}
        if s.error_type or s.error_message or s.error_traceback:
            raw["error"] = {"type": s.error_type, "message": s.error_message,
                            "traceback": s.error_traceback}
        for key in ("model", "input_tokens", "output_tokens", "finish_reason", "input", "output",
                    "agent_name", "attributes", "events"):
            if getattr(s, key) is not None:
                raw[key] = getattr(s, key)
        if s.cost_usd is not None:
            raw["cost_usd"] = float(s.cost_usd)
        if s.tool_name or s.tool_arguments is not None or s.tool_result is not None:
            raw["tool"] = {"name": s.tool_name, "call_id": s.tool_call_id,
                           "arguments": s.tool_arguments, "result": s.tool_result}
        steps.append({k: v for k, v in raw.items() if v is not None})
    body = {"trace_id": inv.trace_id, "agent": inv.agent, "status": inv.status,
            "started_at": _iso(inv.started_at), "ended_at": _iso(inv.ended_at),
            "input": inv.input, "output": inv.output, "attributes": inv.attributes,
            "steps": steps}
    body = {k: v for k, v in body.items() if v is not None}
    return {"invocations": [json.loads(json.dumps(body, default=str))]}, {
        s.span_id: s.span_id for s in inv.steps}


# --- OTLP ----------------------------------------------------------------------------------


def _any(value: Any) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float | Decimal):
        return {"doubleValue": float(value)}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {"arrayValue": {"values": [{"stringValue": v} for v in value]}}
    return {"stringValue": value if isinstance(value, str) else _json(value)}


def _kv(attrs: dict) -> list[dict]:
    return [{"key": k, "value": _any(v)} for k, v in attrs.items() if v is not None]


def _otlp(inv: InvocationData, attributes_of) -> tuple[dict, dict[str, str]]:
    trace_id = _hex(inv.trace_id, 16)
    ids = {s.span_id: _hex(inv.trace_id + "/" + s.span_id, 8) for s in inv.steps}
    spans = []
    for s in inv.steps:
        attrs = attributes_of(inv, s)
        span: dict[str, Any] = {
            "traceId": trace_id, "spanId": ids[s.span_id], "name": s.name or s.kind,
            "kind": 3 if s.kind in ("llm", "tool", "retrieval") else 1,
            "startTimeUnixNano": _ns(s.started_at), "endTimeUnixNano": _ns(s.ended_at),
            "attributes": _kv(attrs),
        }
        if s.parent_span_id:
            span["parentSpanId"] = ids.get(s.parent_span_id, _hex(s.parent_span_id, 8))
        events = []
        if s.status == "error":
            span["status"] = {"code": 2, "message": s.error_message or ""}
            if s.error_type or s.error_message:
                events.append({"name": "exception", "timeUnixNano": _ns(s.ended_at),
                               "attributes": _kv({"exception.type": s.error_type,
                                                  "exception.message": s.error_message,
                                                  "exception.stacktrace": s.error_traceback})})
        elif s.ended_at:
            span["status"] = {"code": 1}
        for ev in s.events or []:
            events.append({"name": ev.get("name", ""), "attributes": _kv(ev.get("attributes", {}))})
        if events:
            span["events"] = events
        spans.append({k: v for k, v in span.items() if v is not None})
    body = {"resourceSpans": [{
        "resource": {"attributes": _kv({"service.name": inv.agent or "agent"})},
        "scopeSpans": [{"scope": {"name": "tests.classify.wire"}, "spans": spans}],
    }]}
    return body, ids


def _root_extras(inv: InvocationData, s: StepData) -> dict:
    # What the invocation carries besides its steps rides on the root span: the run's own
    # attributes (declared tools, budgets) and its final output.
    if s.parent_span_id is not None:
        return {}
    return dict(inv.attributes or {})


def _genai_attributes(inv: InvocationData, s: StepData) -> dict:
    a: dict[str, Any] = {}
    if s.kind == "agent":
        a["gen_ai.operation.name"] = "invoke_agent"
        a["gen_ai.agent.name"] = s.name
        if s.parent_span_id is None and inv.output is not None:
            a["gen_ai.output.messages"] = _json(_messages(inv.output))
    elif s.kind == "llm":
        a["gen_ai.operation.name"] = "chat"
        a["gen_ai.request.model"] = s.model
        a["gen_ai.usage.input_tokens"] = s.input_tokens
        a["gen_ai.usage.output_tokens"] = s.output_tokens
        a["gen_ai.usage.cost"] = _num(s.cost_usd)
        if s.finish_reason:
            a["gen_ai.response.finish_reasons"] = [s.finish_reason]
        if s.input is not None:
            a["gen_ai.input.messages"] = _json(_messages(s.input, "user"))
        if s.output is not None:
            a["gen_ai.output.messages"] = _json(_messages(s.output))
    elif s.kind in ("tool", "retrieval"):
        a["gen_ai.operation.name"] = "execute_tool" if s.kind == "tool" else "retrieval"
        a["gen_ai.tool.name"] = s.tool_name or s.name
        a["gen_ai.tool.call.id"] = s.tool_call_id
        if s.tool_arguments is not None:
            a["gen_ai.tool.call.arguments"] = _json(s.tool_arguments)
        if s.tool_result is not None:
            a["gen_ai.tool.call.result"] = _json(s.tool_result)
    else:
        if s.output is not None:
            a["gen_ai.output"] = _json(s.output)
    a["gen_ai.agent.name"] = a.get("gen_ai.agent.name") or s.agent_name
    a.update(_root_extras(inv, s))
    return a


def _oi_messages(prefix: str, messages: list[dict] | None) -> dict:
    out: dict[str, Any] = {}
    for n, m in enumerate(messages or []):
        p = f"{prefix}.{n}.message"
        out[f"{p}.role"] = m.get("role")
        content = m.get("content")
        if content is not None:
            out[f"{p}.content"] = content if isinstance(content, str) else _json(content)
        for k, call in enumerate(m.get("tool_calls") or []):
            out[f"{p}.tool_calls.{k}.tool_call.function.name"] = call.get("name")
            out[f"{p}.tool_calls.{k}.tool_call.function.arguments"] = _json(
                call.get("arguments"))
    return out


def _openinference_attributes(inv: InvocationData, s: StepData) -> dict:
    kinds = {"agent": "AGENT", "llm": "LLM", "tool": "TOOL", "retrieval": "RETRIEVER"}
    a: dict[str, Any] = {"openinference.span.kind": kinds.get(s.kind, "CHAIN")}
    if s.kind == "agent":
        a["agent.name"] = s.name
        if s.parent_span_id is None and inv.output is not None:
            a["output.value"] = _json(inv.output)
    elif s.kind == "llm":
        a["llm.model_name"] = s.model
        a["llm.token_count.prompt"] = s.input_tokens
        a["llm.token_count.completion"] = s.output_tokens
        a["llm.cost.total"] = _num(s.cost_usd)
        a.update(_oi_messages("llm.input_messages", _messages(s.input, "user")))
        a.update(_oi_messages("llm.output_messages", _messages(s.output)))
        if s.finish_reason:
            a["llm.output_messages.0.message.finish_reason"] = s.finish_reason
        for k, name in enumerate(_declared(inv)):
            a[f"llm.tools.{k}.tool.json_schema"] = json.dumps(
                {"type": "function", "function": {"name": name, "parameters": {}}})
    elif s.kind == "tool":
        a["tool.name"] = s.tool_name or s.name
        a["tool_call.id"] = s.tool_call_id
        if s.tool_arguments is not None:
            a["input.value"] = _json(s.tool_arguments)
        if s.tool_result is not None:
            a["output.value"] = _json(s.tool_result)
    elif s.kind == "retrieval":
        a["tool.name"] = s.tool_name or s.name
        if s.tool_arguments is not None:
            a["input.value"] = _json(s.tool_arguments)
        docs = s.tool_result if isinstance(s.tool_result, list) else None
        if docs is not None:
            for n, doc in enumerate(docs):
                a[f"retrieval.documents.{n}.document.content"] = (
                    doc.get("text") if isinstance(doc, dict) else str(doc))
                if isinstance(doc, dict) and "score" in doc:
                    a[f"retrieval.documents.{n}.document.score"] = doc["score"]
        elif s.tool_result is not None:
            a["output.value"] = _json(s.tool_result)
    elif s.output is not None:
        a["output.value"] = _json(s.output)
    if s.kind != "agent" and s.agent_name:
        a["agent.name"] = s.agent_name
    extras = _root_extras(inv, s)
    # OpenInference declares tools on the LLM spans (llm.tools.*), not on the run.
    extras = {k: v for k, v in extras.items() if k not in ("agent.tools", "tools")}
    a.update(extras)
    return a


def _declared(inv: InvocationData) -> list[str]:
    for key in ("agent.tools", "tools"):
        value = (inv.attributes or {}).get(key)
        if isinstance(value, list):
            return [v["name"] if isinstance(v, dict) else v for v in value]
    return []


def to_otlp_genai(inv: InvocationData) -> tuple[dict, dict[str, str]]:
    return _otlp(inv, _genai_attributes)


def to_otlp_openinference(inv: InvocationData) -> tuple[dict, dict[str, str]]:
    return _otlp(inv, _openinference_attributes)


# --- OpenAI Agents SDK export ----------------------------------------------------------------


def to_openai_agents(inv: InvocationData) -> tuple[dict, dict[str, str]]:
    trace_id = "trace_" + _hex(inv.trace_id, 16)
    ids = {s.span_id: "span_" + _hex(inv.trace_id + "/" + s.span_id, 12) for s in inv.steps}
    items: list[dict] = [{"object": "trace", "id": trace_id, "workflow_name": inv.agent,
                          "metadata": dict(inv.attributes or {}) or None}]
    for s in inv.steps:
        if s.kind == "agent":
            root = s.parent_span_id is None
            data: dict[str, Any] = {"type": "agent", "name": s.name,
                                    "tools": (_declared(inv) or None) if root else None,
                                    "handoffs": [], "output_type": "str"}
        elif s.kind == "llm":
            # The SDK's generation spans carry no finish reason: it is left out here too.
            output = _messages(s.output) or []
            data = {"type": "generation", "model": s.model,
                    "input": _messages(s.input, "user"), "output": output,
                    "usage": {"input_tokens": s.input_tokens, "output_tokens": s.output_tokens},
                    "model_config": {"temperature": None}}
        elif s.kind in ("tool", "retrieval"):
            data = {"type": "function", "name": s.tool_name or s.name,
                    "input": _json(s.tool_arguments) if s.tool_arguments is not None else "",
                    "output": s.tool_result if isinstance(s.tool_result, str)
                    else (None if s.tool_result is None else _json(s.tool_result))}
        elif s.agent_name:
            # A chat message from an executor (a terminal's output): in the SDK, a function
            # span of that executor whose output is the text; its input, the code, was the
            # message before it.
            data = {"type": "function", "name": s.agent_name, "input": "",
                    "output": s.output if isinstance(s.output, str) else _json(s.output)}
        else:
            data = {"type": "custom", "name": s.name or "event", "data": {"output": s.output}}
        error = None
        if s.status == "error":
            error = {"message": s.error_type or "Error running tool",
                     "data": {"error": s.error_message or s.error_type}}
        items.append({"object": "trace.span", "id": ids[s.span_id], "trace_id": trace_id,
                      "parent_id": ids.get(s.parent_span_id) if s.parent_span_id else None,
                      "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at),
                      "span_data": data, "error": error})
    return json.loads(json.dumps({"data": items}, default=str)), ids


SERIALISERS = {
    "native": to_native,
    "otlp-genai": to_otlp_genai,
    "otlp-openinference": to_otlp_openinference,
    "openai-agents": to_openai_agents,
}


def parse(fmt: str, body: dict) -> list[InvocationData]:
    if fmt == "native":
        return parse_native(body)
    if fmt == "openai-agents":
        return parse_openai_agents(body)
    invocations, rejected, messages = otlp_to_invocations(orjson.dumps(body), "application/json")
    assert not rejected, messages
    return invocations


def roundtrip(fmt: str, inv: InvocationData) -> tuple[InvocationData, dict[str, str]]:
    """`inv` serialised in `fmt` and parsed back by ingest, with the span id map."""
    body, ids = SERIALISERS[fmt](inv)
    [parsed] = parse(fmt, body)
    parsed.budgets = dict(inv.budgets)
    return parsed, ids
