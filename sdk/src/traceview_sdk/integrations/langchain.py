"""LangChain / LangGraph hook: a callback handler that records runs as native invocations.

    from traceview_sdk.integrations.langchain import TraceViewCallbackHandler
    handler = TraceViewCallbackHandler(agent="support-bot", agent_version="1.4.0")
    graph.invoke({"messages": [...]}, config={"callbacks": [handler]})

A top-level run (a chain or a compiled graph) becomes an invocation whose root step is an agent
step; nested runs become steps keyed by their run id: chains -> other (graph nodes included),
LLMs and chat models -> llm (messages in, message out, usage, finish reason), tools -> tool,
retrievers -> retrieval. Errors carry type, message and traceback. When a TraceView step is
current (inside `traceview_sdk.invocation()`), the run nests under it instead of starting a new
invocation. Callbacks never raise into the run.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from ..client import Client
from ..record import current_step
from ._base import HookConfig

logger = logging.getLogger("traceview_sdk")

try:
    from langchain_core.messages import convert_to_openai_messages
except ImportError:  # pragma: no cover - older langchain-core
    convert_to_openai_messages = None


class _Run:
    __slots__ = ("record", "root", "client")

    def __init__(self, record: dict, root: bool, client: Client):
        self.record = record
        self.root = root
        self.client = client


class TraceViewCallbackHandler(HookConfig, BaseCallbackHandler):
    # Called on the run's own thread and context, in order; the handler only appends to a queue.
    run_inline = True
    raise_error = False

    def __init__(self, client: Client | None = None, **config):
        HookConfig.__init__(self, client, **config)
        self._runs: dict[UUID, _Run] = {}

    # -- bookkeeping ------------------------------------------------------------------------

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        name: Any,
        tags: Any = None,
        metadata: Any = None,
        **fields: Any,
    ) -> None:
        try:
            parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
            root = False
            if parent is not None:
                trace_id = parent.record["trace_id"]
                parent_span_id: str | None = str(parent_run_id)
                client = parent.client
            else:
                enclosing = current_step()
                if enclosing is not None and enclosing.invocation is not None:
                    trace_id = enclosing.invocation.trace_id
                    parent_span_id = enclosing.span_id
                    client = enclosing.invocation.client
                else:
                    root = True
                    trace_id = run_id.hex
                    parent_span_id = None
                    client = self.client
                    if kind == "other":
                        kind = "agent"
                    client.submit_invocation(
                        {
                            "trace_id": trace_id,
                            "agent": self.agent or name,
                            "agent_version": self.agent_version,
                            "name": name,
                            "status": "running",
                            "started_at": time.time(),
                            "input": fields.get("input"),
                            "attributes": self.attributes or None,
                        }
                    )
            attributes = {}
            if tags:
                attributes["tags"] = list(tags)
            if metadata:
                attributes["metadata"] = dict(metadata)
            record = {
                "trace_id": trace_id,
                "span_id": str(run_id),
                "parent_span_id": parent_span_id,
                "kind": kind,
                "name": name,
                "started_at": time.time(),
                "attributes": attributes or None,
                **fields,
            }
            if kind == "agent":
                record["agent_name"] = self.agent or name
            self._runs[run_id] = _Run(record, root, client)
        except Exception:
            logger.debug("traceview_sdk: langchain callback failed", exc_info=True)

    def _end(
        self,
        run_id: UUID,
        error: BaseException | None = None,
        status: str | None = None,
        **fields: Any,
    ) -> None:
        try:
            run = self._runs.pop(run_id, None)
            if run is None:
                return
            record = run.record
            record.update((k, v) for k, v in fields.items() if v is not None)
            record["ended_at"] = time.time()
            if error is not None:
                record["error"] = error
            record["status"] = status or ("error" if error is not None else "ok")
            run.client.submit_step(record)
            if run.root:
                run.client.submit_invocation(
                    {
                        "trace_id": record["trace_id"],
                        "status": record["status"],
                        "ended_at": record["ended_at"],
                        "output": record.get("output"),
                    }
                )
        except Exception:
            logger.debug("traceview_sdk: langchain callback failed", exc_info=True)

    # -- chains (LangGraph graphs and nodes are chains) -------------------------------------

    def on_chain_start(
        self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        name = kwargs.get("name") or _name(serialized) or "chain"
        self._start(run_id, parent_run_id, "other", name, tags, metadata, input=inputs)

    def on_chain_end(self, outputs, *, run_id, parent_run_id=None, **kwargs):
        self._end(run_id, output=outputs)

    def on_chain_error(self, error, *, run_id, parent_run_id=None, **kwargs):
        self._end(run_id, error)

    # -- models ----------------------------------------------------------------------------

    def on_llm_start(
        self, serialized, prompts, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        model = _model(serialized, kwargs, metadata)
        name = kwargs.get("name") or _name(serialized) or "llm"
        self._start(
            run_id, parent_run_id, "llm", name, tags, metadata, input=list(prompts), model=model
        )

    def on_chat_model_start(
        self,
        serialized,
        messages,
        *,
        run_id,
        parent_run_id=None,
        tags=None,
        metadata=None,
        **kwargs,
    ):
        model = _model(serialized, kwargs, metadata)
        name = kwargs.get("name") or _name(serialized) or "chat model"
        batch = messages[0] if len(messages) == 1 else [m for group in messages for m in group]
        self._start(
            run_id, parent_run_id, "llm", name, tags, metadata, input=_messages(batch), model=model
        )

    def on_llm_end(self, response, *, run_id, parent_run_id=None, **kwargs):
        fields: dict[str, Any] = {}
        try:
            fields = _llm_result(response)
        except Exception:
            logger.debug("traceview_sdk: could not read an LLM result", exc_info=True)
        self._end(run_id, **fields)

    def on_llm_error(self, error, *, run_id, parent_run_id=None, **kwargs):
        self._end(run_id, error)

    # -- tools and retrievers --------------------------------------------------------------

    def on_tool_start(
        self,
        serialized,
        input_str,
        *,
        run_id,
        parent_run_id=None,
        tags=None,
        metadata=None,
        inputs=None,
        **kwargs,
    ):
        name = kwargs.get("name") or _name(serialized) or "tool"
        tool = {
            "name": name,
            "arguments": inputs if inputs is not None else input_str,
            "call_id": kwargs.get("tool_call_id"),
        }
        self._start(run_id, parent_run_id, "tool", name, tags, metadata, tool=tool)

    def on_tool_end(self, output, *, run_id, parent_run_id=None, **kwargs):
        run = self._runs.get(run_id)
        if run is not None:
            run.record["tool"]["result"] = getattr(output, "content", output)
        # A ToolMessage with status "error" is a failure the tool reported instead of raising.
        self._end(run_id, status="error" if getattr(output, "status", None) == "error" else None)

    def on_tool_error(self, error, *, run_id, parent_run_id=None, **kwargs):
        self._end(run_id, error)

    def on_retriever_start(
        self, serialized, query, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        name = kwargs.get("name") or _name(serialized) or "retriever"
        self._start(run_id, parent_run_id, "retrieval", name, tags, metadata, input=query)

    def on_retriever_end(self, documents, *, run_id, parent_run_id=None, **kwargs):
        docs = [
            {
                "page_content": getattr(d, "page_content", d),
                "metadata": getattr(d, "metadata", None),
            }
            for d in documents
        ]
        self._end(run_id, output=docs)

    def on_retriever_error(self, error, *, run_id, parent_run_id=None, **kwargs):
        self._end(run_id, error)


def _name(serialized: Any) -> str | None:
    if not isinstance(serialized, dict):
        return None
    if serialized.get("name"):
        return serialized["name"]
    ident = serialized.get("id")
    return ident[-1] if isinstance(ident, list) and ident else None


def _model(serialized: Any, kwargs: dict, metadata: Any) -> str | None:
    params = kwargs.get("invocation_params") or {}
    for key in ("model", "model_name", "model_id"):
        if isinstance(params.get(key), str):
            return params[key]
    if isinstance(metadata, dict) and isinstance(metadata.get("ls_model_name"), str):
        return metadata["ls_model_name"]
    init = (serialized or {}).get("kwargs") or {}
    for key in ("model", "model_name"):
        if isinstance(init.get(key), str):
            return init[key]
    return None


def _messages(messages: Any) -> Any:
    if convert_to_openai_messages is not None:
        try:
            return convert_to_openai_messages(messages)
        except Exception:
            pass
    return messages


def _llm_result(response: Any) -> dict:
    fields: dict[str, Any] = {}
    generations = response.generations[0] if response.generations else []
    llm_output = response.llm_output or {}
    if generations:
        generation = generations[0]
        message = getattr(generation, "message", None)
        info = generation.generation_info or {}
        if message is not None:
            fields["output"] = _messages(message)
            usage = getattr(message, "usage_metadata", None) or {}
            fields["input_tokens"] = usage.get("input_tokens")
            fields["output_tokens"] = usage.get("output_tokens")
            metadata = getattr(message, "response_metadata", None) or {}
            info = {**metadata, **info}
            if getattr(message, "tool_calls", None) and not info.get("finish_reason"):
                info["finish_reason"] = "tool_calls"
        else:
            fields["output"] = generation.text
        fields["finish_reason"] = info.get("finish_reason") or info.get("stop_reason")
        model = info.get("model_name") or info.get("model")
        if isinstance(model, str):
            fields["model"] = model
    usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
    if fields.get("input_tokens") is None:
        fields["input_tokens"] = usage.get("prompt_tokens", usage.get("input_tokens"))
    if fields.get("output_tokens") is None:
        fields["output_tokens"] = usage.get("completion_tokens", usage.get("output_tokens"))
    if isinstance(llm_output.get("model_name"), str):
        fields.setdefault("model", llm_output["model_name"])
    return fields
