"""Span attributes in any of the AI tracing conventions -> the fields of a step.

Pure: `map_attributes(attrs, name) -> SpanFields` reads one span's flat attribute map (plain
Python values: str, int, float, bool, lists, dicts) and returns the step fields it implies. It
knows these vocabularies, and one span may mix them:

- OpenTelemetry GenAI (`gen_ai.*`, including the deprecated `gen_ai.prompt.N.*` /
  `gen_ai.completion.N.*` and the older `gen_ai.usage.prompt_tokens`/`completion_tokens`);
- OpenInference (`openinference.span.kind`, `llm.*`, `tool.*`, `tool_call.*`, `input.value`,
  `output.value`, `retrieval.documents.N.*`, `session.id`, `agent.name`);
- Langfuse (`langfuse.observation.*`, `langfuse.trace.*`, `langfuse.session.id` ...);
- Traceloop / OpenLLMetry (`traceloop.span.kind`, `traceloop.entity.*`, `llm.request.type`);
- Vercel AI SDK (`ai.operationId`, `ai.model.id`, `ai.usage.*`, `ai.toolCall.*`, `ai.prompt*`,
  `ai.response.*`);
- LangSmith's OTel export (`langsmith.span.kind`, `gen_ai.prompt` / `gen_ai.completion` holding
  LangChain-serialized messages, which become ordinary messages), which is also how the Claude
  Agent SDK's LangSmith integration exports (its `mcp__<server>__<tool>` tools, `{"input": ...}`
  arguments, MCP results);
- MCP tool calls (`mcp.method.name` = tools/call, `mcp.server.name`, `_meta` trace context in
  the arguments, which is not an argument, and `isError` results, which fail the step); the
  server goes to `SpanFields.mcp_server`;
- decorated calls recorded as `{"args": [...], "kwargs": {...}}` (Langfuse @observe, Traceloop
  @task/@tool), read as the arguments or messages they hold;
- and framework extras seen in real traces: any-agent's `gen_ai.tool.args` / `gen_ai.output` /
  `gen_ai.usage.*_cost`, Logfire's `operation.cost` / `tool_arguments` / `tool_response`, Google
  ADK's `gcp.vertex.agent.*` and its `agent_run [agent]` / `invocation [app]` names, CrewAI's
  agent role (from its agent span's input), the Vercel AI SDK's `ai.telemetry.functionId` as an
  agent name. Microsoft Agent Framework, Strands, AutoGen/AG2 and smolagents (through
  OpenInference) speak GenAI or OpenInference and need nothing of their own.

How the kind is decided
-----------------------
Every convention present votes. Explicit votes (an operation name, a span kind, an observation
type) beat heuristics (a tool name with nothing else, say); among explicit votes the most specific
kind wins, in this order: handoff, guardrail, tool, retrieval, agent, llm, other. Generic votes
(CHAIN, workflow, task, span, "unknown") mean "other" unless something more specific is present.
With no vote at all, the heuristics apply, and a span with nothing recognisable is "other".

Decisions worth knowing:

- Only model *generation* calls are kind "llm": chat, text_completion, generate_content, the
  Vercel `*.doGenerate` / `*.doStream` spans, OpenInference LLM, Langfuse generation ... Token
  counts and cost are set on llm steps only, because the store sums usage over llm steps and
  agent/chain/turn spans (and Vercel's outer `ai.generateText`) repeat their children's usage;
  the usage those spans carry stays visible in their raw attributes.
- Embeddings are kind "other" with the model set: they are model calls, but not the generation
  steps the classifier reasons about, and their tokens are not counted in the totals.
- Handoffs: `gen_ai.operation.name` agent_handoff/handoff, `gen_ai.handoff.*`, and tool spans
  named `transfer_to_*` or `handoff ...` (how OpenInference records an openai-agents handoff).
- Vercel's outer `ai.generateText` / `ai.streamText` are the SDK's tool loop: kind "agent";
  `ai.generateObject` / `ai.streamObject` / `ai.embed*` are "other".
- `create_agent` is "agent"; `invoke_workflow` is "other" (a workflow is not an agent, and
  counting it as one would inflate the sub-agent count).

Messages are normalised to `{"role", "content", "tool_calls": [{"id", "name", "arguments"}],
"tool_call_id", "name"}` (optional keys left out) whatever shape they came in: GenAI parts, OpenAI
chat, OpenAI Responses items, Anthropic content blocks, Vercel content parts, flattened
OpenInference / deprecated GenAI indexed attributes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import methodcaller
from typing import Any

import orjson

from traceview.core.trace import MAX_COST_USD, MAX_TOKENS

# Kinds in the order the most specific one wins when explicit conventions disagree.
KIND_RANK = ("handoff", "guardrail", "tool", "retrieval", "agent", "llm", "other")

LLM_OPERATIONS = {
    "chat", "text_completion", "completion", "generate_content", "generate", "call_llm",
    "responses", "response", "llm", "generation",
}
EMBEDDING_OPERATIONS = {"embeddings", "embedding", "embed", "create_embedding"}
OPERATION_KINDS = {
    **{op: "llm" for op in LLM_OPERATIONS},
    **{op: "other" for op in EMBEDDING_OPERATIONS},
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "other",
    "retrieval": "retrieval",
    "retrieve": "retrieval",
    "search": "retrieval",
    "rerank": "retrieval",
    "agent_handoff": "handoff",
    "handoff": "handoff",
    "guardrail": "guardrail",
    "guardrail_check": "guardrail",
    "apply_guardrail": "guardrail",
    "chain": "other",
    "unknown": "other",
}
OPENINFERENCE_KINDS = {
    "LLM": "llm", "TOOL": "tool", "AGENT": "agent", "RETRIEVER": "retrieval",
    "RERANKER": "retrieval", "EMBEDDING": "other", "GUARDRAIL": "guardrail",
    "EVALUATOR": "other", "CHAIN": "other", "PROMPT": "other", "UNKNOWN": "other",
}
LANGFUSE_KINDS = {
    "generation": "llm", "embedding": "other", "tool": "tool", "agent": "agent",
    "retriever": "retrieval", "guardrail": "guardrail", "evaluator": "other", "chain": "other",
    "span": "other", "event": "other",
}
TRACELOOP_KINDS = {"workflow": "other", "task": "other", "agent": "agent", "tool": "tool"}
TRACELOOP_REQUEST_KINDS = {"chat": "llm", "completion": "llm", "embedding": "other",
                           "rerank": "retrieval"}
LANGSMITH_KINDS = {"llm": "llm", "tool": "tool", "chain": "other", "retriever": "retrieval",
                   "embedding": "other", "prompt": "other", "parser": "other"}

_HANDOFF_NAME = re.compile(r"^\s*(transfer_to_|handoff\b|handoff_to_)", re.IGNORECASE)
# A handoff attribute's key (tested over every key of every span: map() runs it in C).
_HANDOFF_KEY = methodcaller("startswith", "gen_ai.handoff.")
# Indexed, flattened attributes: llm.input_messages.0.message.role and friends.
_INDEXED_PREFIXES = (
    "llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.",
    "retrieval.documents.",
)


@dataclass(slots=True)
class SpanFields:
    """What a span's attributes say about the step; None means the span did not say."""

    kind: str = "other"
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
    agent_name: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    # The span says it failed even if its OTel status does not (Langfuse level=ERROR).
    failed: bool = False
    session_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    # Trace-level values some conventions put on spans (Langfuse).
    trace_name: str | None = None
    trace_input: Any = None
    trace_output: Any = None
    version: str | None = None
    # The MCP server a tool call went to (mcp.* attributes, or Claude's mcp__<server>__<tool>).
    mcp_server: str | None = None
    # Attribute keys whose value the step keeps in one of its own fields (input, output,
    # tool_arguments, tool_result), parsed or normalized: key -> field. The raw copy beside it
    # would be stored twice.
    kept_as: dict[str, str] | None = None


# ---------------------------------------------------------------------------------------------
# Small value readers, tolerant of strings where numbers belong (Langfuse exports stringify).


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _first_item(attrs: Mapping[str, Any], *keys: str) -> tuple[str | None, Any]:
    """Like _first, with the key it came from."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return key, value
    return None, None


def as_int(value: Any) -> int | None:
    """A token count, or None for anything that is not one: negative, fractional text, or beyond
    MAX_TOKENS (the raw attributes keep what was sent)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_TOKENS else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= MAX_TOKENS else None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            return None
        return as_int(number)
    return None


def as_decimal(value: Any) -> Decimal | None:
    """A cost in dollars, or None for anything that is not one: negative, not finite, or beyond
    MAX_COST_USD."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_COST_USD:
        return None
    return amount


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def parse_json(value: Any) -> Any:
    """A string holding a JSON object or array becomes that value; anything else is kept."""
    if isinstance(value, str) and value:
        # Most values are plain text: decide from the first character before copying a long
        # message with strip().
        if value[0] not in "{[" and not value[0].isspace():
            return value
        text = value.strip()
        if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value
    return value


def _json_obj(value: Any) -> dict | None:
    value = parse_json(value)
    return value if isinstance(value, dict) else None


def _first_finish_reason(value: Any) -> str | None:
    value = parse_json(value)
    if isinstance(value, list | tuple):
        value = next((v for v in value if v), None)
    text = as_text(value)
    return text[:50] if text else None


def _indexed(attrs: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """Group flattened `prefix.N.rest` attributes as {prefix: {N: {rest: value}}}."""
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in attrs.items():
        if not key.startswith(("llm.", "gen_ai.p", "gen_ai.c", "retrieval.")):
            continue
        for prefix in _INDEXED_PREFIXES:
            if key.startswith(prefix):
                index, _, rest = key[len(prefix):].partition(".")
                if index.isdigit() and rest:
                    groups.setdefault(prefix, {}).setdefault(int(index), {})[rest] = value
                break
    return groups


def _nested(flat: Mapping[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix):].partition(".")
            if index.isdigit() and rest:
                out.setdefault(int(index), {})[rest] = value
    return out


# ---------------------------------------------------------------------------------------------
# Messages


def _text_of(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        for key in ("content", "text", "value"):
            if isinstance(part.get(key), str):
                return part[key]
    return None


def _tool_call(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    fn = raw.get("function") if isinstance(raw.get("function"), dict) else {}
    call = {
        "id": as_text(_first(raw, "id", "call_id", "toolCallId", "tool_call_id")),
        "name": as_text(_first(raw, "name", "toolName") or fn.get("name")),
        "arguments": parse_json(
            _first(raw, "arguments", "args", "input") if any(
                k in raw for k in ("arguments", "args", "input")) else fn.get("arguments")
        ),
    }
    return call if call["name"] or call["id"] else None


_TOOL_RESULT_PARTS = ("tool_call_response", "tool-result", "tool_result", "function_call_output")


def _content_and_calls(content: Any) -> tuple[Any, list[dict], str | None]:
    """Flatten a content list (text parts, tool calls, tool results) into text + calls."""
    if content is None or isinstance(content, str):
        return content, [], None
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return as_text(content), [], None
    texts: list[str] = []
    calls: list[dict] = []
    tool_call_id = None
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        ptype = str(part.get("type") or "text")
        if ptype in ("text", "input_text", "output_text", "reasoning", "thinking"):
            text = _text_of(part)
            if text is not None:
                texts.append(text)
        elif ptype in ("tool_call", "tool-call", "tool_use", "function_call"):
            call = _tool_call(part)
            if call:
                calls.append(call)
        elif ptype in _TOOL_RESULT_PARTS:
            tool_call_id = as_text(_first(part, "id", "toolCallId", "tool_use_id", "call_id"))
            result = _first(part, "response", "result", "output", "content")
            text = result if isinstance(result, str) else as_text(result)
            if text is not None:
                texts.append(text)
        else:
            text = _text_of(part)
            texts.append(text if text is not None else f"[{ptype}]")
    return ("\n".join(texts) if texts else None), calls, tool_call_id


def _message(raw: Any) -> dict | None:
    if isinstance(raw, str):
        return {"role": "user", "content": raw}
    if not isinstance(raw, dict):
        return None
    rtype = raw.get("type")
    # OpenAI Responses input items that are not messages.
    if rtype == "function_call" and "role" not in raw:
        call = _tool_call(raw)
        return {"role": "assistant", "content": None, "tool_calls": [call]} if call else None
    if rtype == "function_call_output" and "role" not in raw:
        return {"role": "tool", "content": as_text(raw.get("output")),
                "tool_call_id": as_text(raw.get("call_id"))}
    role = as_text(_first(raw, "role", "author")) or "user"
    if "parts" in raw:
        content, calls, tool_call_id = _content_and_calls(raw.get("parts"))
    else:
        content, calls, tool_call_id = _content_and_calls(raw.get("content"))
    listed = raw.get("tool_calls")
    if listed:
        # Calls can come both as content blocks and in tool_calls (LangChain): once each.
        seen = {c["id"] for c in calls if c.get("id")}
        for call in listed:
            call = _tool_call(call)
            if call and not (call["id"] and call["id"] in seen):
                calls.append(call)
    parts = raw.get("parts") if "parts" in raw else raw.get("content")
    if role == "user" and tool_call_id and isinstance(parts, list) and all(
            isinstance(p, dict) and p.get("type") in _TOOL_RESULT_PARTS for p in parts):
        # Tool results sent as a user message (pydantic-ai before its version 6 format): the
        # role the conventions pair with them is `tool`.
        role = "tool"
    msg: dict[str, Any] = {"role": "assistant" if role == "model" else role, "content": content}
    if calls:
        msg["tool_calls"] = calls
    tool_call_id = as_text(raw.get("tool_call_id")) or tool_call_id
    if tool_call_id:
        msg["tool_call_id"] = tool_call_id
    if raw.get("name"):
        msg["name"] = as_text(raw["name"])
    return msg


# LangChain message types (a message's `type`, or its class in a serialized `id`) -> roles.
LANGCHAIN_ROLES = {
    "human": "user", "ai": "assistant", "system": "system", "tool": "tool",
    "function": "function", "developer": "developer",
    "HumanMessage": "user", "HumanMessageChunk": "user", "AIMessage": "assistant",
    "AIMessageChunk": "assistant", "SystemMessage": "system", "ToolMessage": "tool",
    "ToolMessageChunk": "tool", "FunctionMessage": "function", "ChatMessage": None,
}


def _langchain_message(raw: dict) -> dict | None:
    """A LangChain message, serialized (`{"lc": 1, "id": [..., "AIMessage"], "kwargs": {...}}`,
    as LangSmith sends them) or dumped (`{"type": "ai", "content": ...}`), in the OpenAI shape
    `_message` reads; None when `raw` is neither."""
    if raw.get("lc") == 1 and isinstance(raw.get("kwargs"), dict) and isinstance(
            raw.get("id"), list) and raw["id"]:
        kwargs = raw["kwargs"]
        role = LANGCHAIN_ROLES.get(str(raw["id"][-1]), LANGCHAIN_ROLES.get(kwargs.get("type")))
    elif "role" not in raw and isinstance(raw.get("type"), str) and raw["type"] in (
            LANGCHAIN_ROLES) and "content" in raw:
        kwargs = raw
        role = LANGCHAIN_ROLES.get(raw["type"])
    else:
        return None
    role = role or as_text(kwargs.get("role")) or "user"
    calls = kwargs.get("tool_calls")
    if not calls and isinstance(kwargs.get("additional_kwargs"), dict):
        calls = kwargs["additional_kwargs"].get("tool_calls")
    out = {"role": role, "content": kwargs.get("content"), "tool_calls": calls or []}
    for key in ("tool_call_id", "name"):
        if kwargs.get(key):
            out[key] = kwargs[key]
    return out


_TOOL_SPAN_PREFIX = re.compile(r"^\s*(execute_tool|running tool:|tools/call)\s+", re.IGNORECASE)
_BRACKETED_AGENT = re.compile(r"^\s*(?:invocation|agent_run|invoke_agent)\s*\[(.+)\]\s*$")
_CLAUDE_MCP_TOOL = re.compile(r"^mcp__(.+?)__.+$")
_CALL_KEYS = frozenset(("args", "kwargs"))
_CREWAI_ROLE = re.compile(r"\brole='([^']+)'")


def _crewai_role(attrs: Mapping[str, Any], generic_in: Any) -> str | None:
    """CrewAI's agent spans carry the agent only as its repr in their input."""
    if "crew_key" not in attrs or not isinstance(generic_in, dict):
        return None
    found = _CREWAI_ROLE.search(str(generic_in.get("agent") or ""))
    return found.group(1) if found else None


def mcp_server(attrs: Mapping[str, Any], tool_name: str | None) -> str | None:
    """The MCP server of a tool call, when the span says (mcp.server.name) or its tool name does
    (Claude Agent SDK's mcp__<server>__<tool>)."""
    named = as_text(_first(attrs, "mcp.server.name", "mcp.server"))
    if named:
        return named
    found = _CLAUDE_MCP_TOOL.match(tool_name or "")
    return found.group(1) if found else None


def tool_arguments(value: Any) -> Any:
    """A tool's arguments without the wrappers senders add: a decorated call's {args, kwargs},
    Claude's `{"input": {...}}`, and MCP's `_meta` (trace context, not an argument)."""
    value = unwrap_call(value)
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("input"), dict):
        value = value["input"]
    if isinstance(value, dict) and "_meta" in value:
        value = {k: v for k, v in value.items() if k != "_meta"}
    return value


def mcp_result(value: Any) -> tuple[Any, str | None]:
    """An MCP CallToolResult (`{"content": [parts], "isError": ...}`) as its text when all its
    parts are text, and its error text when isError; other values unchanged, no error."""
    value = parse_json(value)
    if not (isinstance(value, dict) and isinstance(value.get("content"), list)
            and set(value) <= {"content", "isError", "structuredContent", "_meta"}):
        return value, None
    parts = value["content"]
    texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    result = value
    if parts and len(texts) == len(parts) and all(isinstance(t, str) for t in texts):
        result = "\n".join(texts)
    if value.get("isError") is True:
        return result, result if isinstance(result, str) else as_text(parts)
    return result, None


def unwrap_call(value: Any) -> Any:
    """A decorated function's call as Langfuse's @observe and Traceloop's @task/@tool record it,
    `{"args": [...], "kwargs": {...}}`, as the arguments it holds: the keyword arguments when
    there are no positional ones, the one positional argument when there are no keyword ones
    (messages, a tool's argument object); otherwise, and for any other value, unchanged."""
    value = parse_json(value)
    if not (isinstance(value, dict) and ("args" in value or "kwargs" in value)
            and value.keys() <= _CALL_KEYS):
        return value
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return value
    if not args:
        return kwargs
    if not kwargs and len(args) == 1:
        return parse_json(args[0])
    return value


def tool_message_content(value: Any) -> Any:
    """A tool's result as LangChain reports it, `{"output": <ToolMessage>}` (serialized or
    dumped), as the content the model was given; any other value unchanged."""
    inner = value.get("output") if isinstance(value, dict) and len(value) == 1 else value
    if isinstance(inner, dict) and inner.get("lc") == 1 and isinstance(inner.get("kwargs"), dict):
        inner = inner["kwargs"]
    if isinstance(inner, dict) and inner.get("type") == "tool" and "content" in inner:
        return parse_json(inner["content"])
    return value


def _message_items(value: Any) -> Any:
    """The list of messages inside the containers that hold them: {"messages": ...},
    LangChain's batch of one ([[...]]), its LLMResult ({"generations": [[{"message"}]]}), an
    OpenAI completion ({"choices": [{"message"}]}), a decorated call's arguments
    ({"args": [...], "kwargs": {...}}: its `messages` keyword, else its first list argument)."""
    if isinstance(value, list) and value and isinstance(value[0], dict) and "role" in value[0]:
        return value  # the common case: already a list of role messages
    if isinstance(value, dict) and ("args" in value or "kwargs" in value) and (
            value.keys() <= _CALL_KEYS):
        kwargs = value.get("kwargs") if isinstance(value.get("kwargs"), dict) else {}
        args = value.get("args") if isinstance(value.get("args"), list) else []
        value = next((v for v in [kwargs.get("messages"), *args] if isinstance(v, list)), None)
    if isinstance(value, dict):
        for key in ("messages", "input", "prompt", "generations", "choices"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
        else:
            return [value] if "role" in value or _langchain_message(value) else None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]  # one prompt's messages, one prompt's generations
    if isinstance(value, list) and value and all(
            isinstance(v, dict) and isinstance(v.get("message"), dict) for v in value):
        value = [v["message"] for v in value]  # generations, choices
    return value


def normalize_messages(value: Any) -> list[dict] | None:
    """Messages in any common shape -> [{"role", "content", ...}], or None if not messages."""
    value = _message_items(parse_json(value))
    if not isinstance(value, list) or not value:
        return None
    messages = []
    for m in value:
        if not isinstance(m, dict):
            return None
        if "role" not in m and m.get("type") not in (
                "function_call", "function_call_output", "message"):
            m = _langchain_message(m)
            if m is None:
                return None
        m = _message(m)
        if m:
            messages.append(m)
    return messages or None


def _system_messages(value: Any) -> list[dict]:
    value = parse_json(value)
    if value is None:
        return []
    content, _, _ = _content_and_calls(value)
    return [{"role": "system", "content": content}] if content else []


def _openinference_messages(indexed: dict[int, dict[str, Any]]) -> list[dict]:
    messages = []
    for _, flat in sorted(indexed.items()):
        msg: dict[str, Any] = {"role": as_text(flat.get("message.role")) or "user"}
        content = flat.get("message.content")
        if content is None:
            parts = _nested(flat, "message.contents.")
            texts = []
            for _, part in sorted(parts.items()):
                ptype = part.get("message_content.type", "text")
                if ptype == "text":
                    texts.append(as_text(part.get("message_content.text")) or "")
                else:
                    texts.append(f"[{ptype}]")
            content = "\n".join(texts) if texts else None
        msg["content"] = as_text(content)
        calls = []
        for _, call in sorted(_nested(flat, "message.tool_calls.").items()):
            calls.append({
                "id": as_text(call.get("tool_call.id")),
                "name": as_text(call.get("tool_call.function.name")),
                "arguments": parse_json(call.get("tool_call.function.arguments")),
            })
        if calls:
            msg["tool_calls"] = calls
        if flat.get("message.tool_call_id"):
            msg["tool_call_id"] = as_text(flat["message.tool_call_id"])
        if flat.get("message.name"):
            msg["name"] = as_text(flat["message.name"])
        messages.append(msg)
    return messages


def _deprecated_genai_messages(indexed: dict[int, dict[str, Any]]) -> list[dict]:
    messages = []
    for _, flat in sorted(indexed.items()):
        content = flat.get("content")
        msg: dict[str, Any] = {"role": as_text(flat.get("role")) or "user"}
        calls = []
        parsed = parse_json(content)
        # Some senders (Koog) put the OpenAI tool_calls array in content.
        if isinstance(parsed, list) and parsed and all(
            isinstance(c, dict) and ("function" in c or c.get("type") == "function")
            for c in parsed
        ):
            calls = [c for c in (_tool_call(c) for c in parsed) if c]
            content = None
        for _, call in sorted(_nested(flat, "tool_calls.").items()):
            calls.append({"id": as_text(call.get("id")), "name": as_text(call.get("name")),
                          "arguments": parse_json(call.get("arguments"))})
        msg["content"] = as_text(content)
        if calls:
            msg["tool_calls"] = calls
        if flat.get("tool_call_id"):
            msg["tool_call_id"] = as_text(flat["tool_call_id"])
        messages.append(msg)
    return messages


def _documents(indexed: dict[int, dict[str, Any]]) -> list[dict]:
    docs = []
    for _, flat in sorted(indexed.items()):
        doc = {}
        for key, value in flat.items():
            doc[key.removeprefix("document.")] = parse_json(value) if key.endswith(
                "metadata") else value
        docs.append(doc)
    return docs


# ---------------------------------------------------------------------------------------------
# Kind


def _kind_votes(attrs: Mapping[str, Any], name: str | None) -> tuple[list[str], bool]:
    """(explicit kinds voted by conventions present, whether a generic vote was cast)."""
    votes: list[str] = []
    op = attrs.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        votes.append(OPERATION_KINDS.get(op.strip().lower(), "other"))
    oi = attrs.get("openinference.span.kind")
    if isinstance(oi, str) and oi:
        votes.append(OPENINFERENCE_KINDS.get(oi.strip().upper(), "other"))
    lf = attrs.get("langfuse.observation.type")
    if isinstance(lf, str) and lf:
        votes.append(LANGFUSE_KINDS.get(lf.strip().lower(), "other"))
    tl = attrs.get("traceloop.span.kind")
    if isinstance(tl, str) and tl:
        votes.append(TRACELOOP_KINDS.get(tl.strip().lower(), "other"))
    req = attrs.get("llm.request.type")
    if isinstance(req, str) and req:
        votes.append(TRACELOOP_REQUEST_KINDS.get(req.strip().lower(), "other"))
    ls = attrs.get("langsmith.span.kind")
    if isinstance(ls, str) and ls:
        votes.append(LANGSMITH_KINDS.get(ls.strip().lower(), "other"))
    ai_op = attrs.get("ai.operationId")
    if isinstance(ai_op, str) and ai_op.startswith("ai."):
        votes.append(_vercel_kind(ai_op))
    mcp = attrs.get("mcp.method.name") or attrs.get("mcp.request.method")
    if isinstance(mcp, str) and mcp.strip() == "tools/call":
        votes.append("tool")
    if any(map(_HANDOFF_KEY, attrs)):
        votes.append("handoff")
    specific = [v for v in votes if v != "other"]
    return specific, bool(votes)


def _vercel_kind(op: str) -> str:
    if op.endswith((".doGenerate", ".doStream")):
        return "other" if ".embed" in op else "llm"
    if op == "ai.toolCall":
        return "tool"
    if op in ("ai.generateText", "ai.streamText"):
        return "agent"
    return "other"


def _heuristic_kind(attrs: Mapping[str, Any], indexed: dict) -> str:
    """No convention named the kind: guess from what the span carries."""
    if _first(attrs, "gen_ai.tool.name", "gen_ai.tool.call.id", "tool_call.function.name"):
        return "tool"
    if attrs.get("gen_ai.agent.name"):
        return "agent"
    has_model = _first(attrs, "gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
    has_content = "gen_ai.prompt." in indexed or "gen_ai.completion." in indexed or (
        "llm.input_messages." in indexed)
    has_usage = _first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                       "llm.token_count.prompt")
    if has_model and (has_content or has_usage):
        return "llm"
    return "other"


def decide_kind(attrs: Mapping[str, Any], name: str | None = None,
                indexed: dict | None = None) -> str:
    indexed = _indexed(attrs) if indexed is None else indexed
    specific, voted = _kind_votes(attrs, name)
    if specific:
        kind = min(specific, key=KIND_RANK.index)
    elif voted:
        kind = "other"
    else:
        kind = _heuristic_kind(attrs, indexed)
    if kind in ("tool", "other", "agent") and _is_handoff_name(
        name, _first(attrs, "gen_ai.tool.name", "tool.name", "ai.toolCall.name")
    ):
        # A tool "call" that transfers control is a handoff (OpenInference, Vercel ...); a
        # generic span only when it is a tool-ish span by name.
        if kind != "agent":
            kind = "handoff"
    return kind


def _is_handoff_name(name: str | None, tool_name: Any) -> bool:
    return bool(
        (isinstance(name, str) and _HANDOFF_NAME.match(name))
        or (isinstance(tool_name, str) and tool_name.lower().startswith("transfer_to_"))
    )


# ---------------------------------------------------------------------------------------------
# The mapping


def map_attributes(attrs: Mapping[str, Any], name: str | None = None) -> SpanFields:
    """The step fields one span's attributes imply (see the module docstring)."""
    indexed = _indexed(attrs)
    out = SpanFields(kind=decide_kind(attrs, name, indexed))
    kind = out.kind

    out.model = as_text(_first(
        attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
        "ai.response.model", "ai.model.id", "langfuse.observation.model.name",
    ))
    if out.model is None and kind in ("llm", "agent"):
        out.model = as_text(_first(attrs, "model_name", "langsmith.metadata.ls_model_name"))
    out.finish_reason = _first_finish_reason(_first(
        attrs, "gen_ai.response.finish_reasons", "ai.response.finishReason",
        "gen_ai.completion.0.finish_reason", "llm.output_messages.0.message.finish_reason",
    ))

    if kind == "llm":
        _usage(attrs, out)

    # Messages and generic input/output.
    kept: dict[str, str] = {}
    input_messages = _input_messages(attrs, indexed, kept)
    output_messages = _output_messages(attrs, indexed, kept)
    in_key, generic_in = _first_item(
        attrs, "input.value", "traceloop.entity.input", "langfuse.observation.input",
        "ai.prompt", "ai.values", "ai.value", "gen_ai.prompt", "input",
    )
    raw_in = parse_json(generic_in)
    generic_in = unwrap_call(raw_in)
    out_key, generic_out = _first_item(
        attrs, "output.value", "traceloop.entity.output", "langfuse.observation.output",
        "ai.response.text", "ai.response.object", "gen_ai.output", "gen_ai.completion", "output",
        "final_result",
    )
    generic_out = parse_json(generic_out)
    if kind == "llm":
        out.input = input_messages or normalize_messages(generic_in) or generic_in
        out.output = output_messages or normalize_messages(generic_out) or generic_out
    else:
        out.input = generic_in if generic_in is not None else input_messages
        out.output = generic_out if generic_out is not None else output_messages
    # The GenAI message attributes are the bulk of a model call's span: once normalized into the
    # step's input and output, the raw JSON text is not kept beside them.
    if out.input is not input_messages or not isinstance(attrs.get("gen_ai.input.messages"), str):
        kept.pop("gen_ai.input.messages", None)
    if out.output is not output_messages or not isinstance(
            attrs.get("gen_ai.output.messages"), str):
        kept.pop("gen_ai.output.messages", None)
    if generic_in is not None and out.input is generic_in and generic_in is raw_in and in_key:
        kept[in_key] = "input"
    if generic_out is not None and out.output is generic_out and out_key:
        kept[out_key] = "output"
    if kind == "retrieval" and out.output is None and "retrieval.documents." in indexed:
        out.output = _documents(indexed["retrieval.documents."])

    # Tools.
    mcp_error = None
    out.tool_name = as_text(_first(
        attrs, "gen_ai.tool.name", "tool.name", "tool_call.function.name", "ai.toolCall.name",
        "mcp.tool.name",
    ))
    if out.tool_name is None and kind == "tool":
        out.tool_name = as_text(_first(attrs, "traceloop.entity.name")) or (
            _TOOL_SPAN_PREFIX.sub("", name) if name else None
        )
    out.tool_call_id = as_text(_first(
        attrs, "gen_ai.tool.call.id", "tool_call.id", "ai.toolCall.id",
    ))
    if kind in ("tool", "handoff"):
        args_key, raw_args = _first_item(
            attrs, "gen_ai.tool.call.arguments", "tool_call.function.arguments",
            "ai.toolCall.args", "ai.toolCall.input", "gen_ai.tool.args", "tool_arguments",
            "gcp.vertex.agent.tool_call_args", "input.value", "traceloop.entity.input",
            "langfuse.observation.input", "input", "gen_ai.prompt",
        )
        raw_args = parse_json(raw_args)
        out.tool_arguments = tool_arguments(raw_args)
        result_key, raw_result = _first_item(
            attrs, "gen_ai.tool.call.result", "ai.toolCall.result", "ai.toolCall.output",
            "tool_response", "gcp.vertex.agent.tool_response", "output.value",
            "traceloop.entity.output", "langfuse.observation.output", "gen_ai.output", "output",
            "gen_ai.completion",
        )
        raw_result = parse_json(raw_result)
        out.tool_result, mcp_error = mcp_result(tool_message_content(raw_result))
        # Kept only where the step's field holds the same value: a decorated call's wrapper, an
        # MCP result's parts or a LangChain ToolMessage's envelope say more than the field.
        if args_key and out.tool_arguments == raw_args:
            kept[args_key] = "tool_arguments"
        if result_key and out.tool_result == raw_result:
            kept[result_key] = "tool_result"
    if kind == "tool":
        out.mcp_server = mcp_server(attrs, out.tool_name)
    out.kept_as = kept or None
    if kind == "handoff":
        src = _first(attrs, "gen_ai.handoff.from_agent")
        dst = _first(attrs, "gen_ai.handoff.to_agent")
        if out.input is None and src is not None:
            out.input = src
        if out.output is None and dst is not None:
            out.output = dst

    # Agents.
    out.agent_name = as_text(_first(attrs, "gen_ai.agent.name", "agent.name", "agent_name"))
    bracketed = _BRACKETED_AGENT.match(name) if name and "[" in name else None
    if out.agent_name is None and bracketed:
        # Google ADK: "agent_run [hello_agent]", and its root "invocation [hello_app]".
        out.agent_name = bracketed.group(1)
    if out.agent_name is None and kind == "agent":
        out.agent_name = as_text(_first(
            attrs, "traceloop.entity.name", "ai.telemetry.functionId")) or _crewai_role(
            attrs, generic_in) or (name.removeprefix("invoke_agent ") if name else None)

    # Errors the attributes state (exception events and OTel status are read by the caller).
    out.error_type = as_text(_first(attrs, "error.type", "exception.type"))
    out.error_message = as_text(_first(attrs, "exception.message"))
    out.error_traceback = as_text(_first(attrs, "exception.stacktrace"))
    if mcp_error is not None:
        # An MCP tool reports its failure in its result (isError), not as an exception.
        out.failed = True
        out.error_type = out.error_type or "MCP tool error"
        out.error_message = out.error_message or mcp_error
    level = attrs.get("langfuse.observation.level")
    if isinstance(level, str) and level.upper() == "ERROR":
        out.failed = True
        out.error_message = out.error_message or as_text(
            attrs.get("langfuse.observation.status_message"))

    # Session, conversation, user, and trace-level values.
    out.session_id = as_text(_first(
        attrs, "session.id", "langfuse.session.id", "langfuse.trace.session_id",
        "gcp.vertex.agent.session_id",
    ))
    out.conversation_id = as_text(_first(attrs, "gen_ai.conversation.id"))
    out.user_id = as_text(_first(attrs, "user.id", "langfuse.user.id", "langfuse.trace.user_id"))
    out.trace_name = as_text(_first(attrs, "langfuse.trace.name"))
    out.trace_input = parse_json(attrs.get("langfuse.trace.input"))
    out.trace_output = parse_json(attrs.get("langfuse.trace.output"))
    out.version = as_text(_first(attrs, "langfuse.version", "service.version"))
    return out


def _usage(attrs: Mapping[str, Any], out: SpanFields) -> None:
    details = _json_obj(attrs.get("langfuse.observation.usage_details")) or {}
    out.input_tokens = as_int(_first(
        attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
        "ai.usage.inputTokens", "ai.usage.promptTokens", "llm.usage.prompt_tokens",
    ))
    if out.input_tokens is None:
        out.input_tokens = as_int(_first(details, "input", "prompt_tokens", "input_tokens"))
    out.output_tokens = as_int(_first(
        attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
        "llm.token_count.completion", "ai.usage.outputTokens", "ai.usage.completionTokens",
        "llm.usage.completion_tokens",
    ))
    if out.output_tokens is None:
        out.output_tokens = as_int(_first(details, "output", "completion_tokens", "output_tokens"))

    cost = as_decimal(_first(attrs, "llm.cost.total", "gen_ai.usage.cost", "operation.cost",
                             "gen_ai.usage.total_cost"))
    if cost is None:
        parts = [as_decimal(attrs.get(k)) for k in (
            "llm.cost.prompt", "llm.cost.completion", "gen_ai.usage.input_cost",
            "gen_ai.usage.output_cost",
        )]
        parts = [p for p in parts if p is not None]
        if parts:
            cost = sum(parts, Decimal(0))
    if cost is None:
        costs = _json_obj(attrs.get("langfuse.observation.cost_details")) or {}
        cost = as_decimal(costs.get("total"))
        if cost is None:
            parts = [as_decimal(v) for k, v in costs.items() if k != "total"]
            parts = [p for p in parts if p is not None]
            if parts:
                cost = sum(parts, Decimal(0))
    out.cost_usd = cost


def _input_messages(attrs: Mapping[str, Any], indexed: dict,
                    kept: dict[str, str]) -> list[dict] | None:
    system = _system_messages(attrs.get("gen_ai.system_instructions"))
    messages = normalize_messages(attrs.get("gen_ai.input.messages"))
    if messages is not None:
        kept["gen_ai.input.messages"] = "input"
    if messages is None and "llm.input_messages." in indexed:
        messages = _openinference_messages(indexed["llm.input_messages."])
    if messages is None and "gen_ai.prompt." in indexed:
        messages = _deprecated_genai_messages(indexed["gen_ai.prompt."])
    if messages is None and (run := normalize_messages(attrs.get("pydantic_ai.all_messages"))):
        # pydantic-ai's agent span holds the whole conversation: its input is what the run was
        # asked, up to the last prompt (the turns after it are its model and tool steps).
        asked = [i for i, m in enumerate(run)
                 if m.get("role") in ("user", "system") and not m.get("tool_call_id")]
        messages = run[:asked[-1] + 1] if asked else None
    if messages is None:
        messages = normalize_messages(_first(attrs, "ai.prompt.messages", "gen_ai.prompt"))
    if messages is None:
        return system or None
    if system and not any(m.get("role") == "system" for m in messages):
        messages = system + messages
    return messages


def _output_messages(attrs: Mapping[str, Any], indexed: dict,
                     kept: dict[str, str]) -> list[dict] | None:
    messages = normalize_messages(attrs.get("gen_ai.output.messages"))
    if messages is not None:
        kept["gen_ai.output.messages"] = "output"
    if messages is None and "llm.output_messages." in indexed:
        messages = _openinference_messages(indexed["llm.output_messages."])
    if messages is None and "gen_ai.completion." in indexed:
        messages = _deprecated_genai_messages(indexed["gen_ai.completion."])
    if messages is None and _first(attrs, "ai.response.text", "ai.response.toolCalls"):
        msg: dict[str, Any] = {"role": "assistant",
                               "content": as_text(attrs.get("ai.response.text"))}
        calls = parse_json(attrs.get("ai.response.toolCalls"))
        if isinstance(calls, list):
            calls = [c for c in (_tool_call(c) for c in calls) if c]
            if calls:
                msg["tool_calls"] = calls
        messages = [msg]
    return messages
