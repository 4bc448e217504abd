"""Recording: invocations, steps and the context that nests them (decorators: decorators.py).

The current step lives in a ContextVar, so every thread and every asyncio task has its own: a
task sees the step that was current when it was created, and what it opens does not leak back
into its parent. A new thread starts with no current step; `inv.step()` still works there (it
hangs under the invocation's root), and `propagate(fn)` carries the caller's context across.

On the agent's thread a step costs a couple of attribute writes and one deque append; its
arguments, result and error are turned into JSON on the export thread (see serialize.py).
"""

from __future__ import annotations

import contextvars
import functools
import random
import time
import uuid
from typing import Any, Callable

_current: contextvars.ContextVar[Step | None] = contextvars.ContextVar(
    "traceview_current_step", default=None
)

_getrandbits = random.getrandbits


def new_span_id() -> str:
    return f"{_getrandbits(64):016x}"


def new_trace_id() -> str:
    return uuid.uuid4().hex


def current_step() -> Step | None:
    return _current.get()


def current_invocation() -> Invocation | None:
    step = _current.get()
    return step.invocation if step is not None else None


class Step:
    """One span of work inside an invocation; a context manager (sync and async)."""

    __slots__ = (
        "invocation",
        "span_id",
        "parent_span_id",
        "kind",
        "name",
        "started_at",
        "ended_at",
        "status",
        "error",
        "fields",
        "_call",
        "_token",
    )

    def __init__(
        self,
        invocation: Invocation | None,
        name: str | None,
        kind: str = "other",
        parent_span_id: str | None = None,
        span_id: str | None = None,
        **fields: Any,
    ):
        self.invocation = invocation
        self.span_id = span_id or new_span_id()
        self.parent_span_id = parent_span_id
        self.kind = kind
        self.name = name
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.status: str | None = None
        self.error: Any = None
        self.fields = fields
        self._call: Any = None
        self._token: Any = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Step:
        self.started_at = time.time()
        self._token = _current.set(self)
        return self

    def end(self, error: BaseException | None = None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = time.time()
        if error is not None:
            self.error = error
        token, self._token = self._token, None
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:
                # Ended from another context (an async generator finalized elsewhere): the
                # step is still recorded; that context's current step is not ours to reset.
                pass
        if self.invocation is not None:
            self.invocation.client.exporter.submit(self)

    def __enter__(self) -> Step:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.end(exc)

    async def __aenter__(self) -> Step:
        return self.start()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.end(exc)

    # -- data -----------------------------------------------------------------------------

    def step(self, name: str | None = None, kind: str = "other", **fields: Any) -> Step:
        """A child of this step."""
        return Step(self.invocation, name, kind, self.span_id, **fields)

    def update(self, **fields: Any) -> Step:
        """Set any native step field: model, input_tokens, finish_reason, agent_name, ..."""
        self.fields.update(fields)
        return self

    def set_input(self, value: Any) -> Step:
        self.fields["input"] = value
        return self

    def set_output(self, value: Any) -> Step:
        self.fields["output"] = value
        return self

    def set_attribute(self, key: str, value: Any) -> Step:
        self.fields.setdefault("attributes", {})[key] = value
        return self

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
        finish_reason: str | None = None,
    ) -> Step:
        _set_given(self.fields, input_tokens=input_tokens, output_tokens=output_tokens,
                   cost_usd=cost_usd, model=model, finish_reason=finish_reason)
        return self

    def set_tool(
        self,
        name: str | None = None,
        call_id: str | None = None,
        arguments: Any = None,
        result: Any = None,
    ) -> Step:
        _set_given(self.fields.setdefault("tool", {}), name=name, call_id=call_id,
                   arguments=arguments, result=result)
        return self

    def record_error(self, error: Any) -> Step:
        """Mark the step failed: an exception (type, message, traceback) or a message."""
        self.error = error
        self.status = "error"
        return self

    def set_status(self, status: str) -> Step:
        self.status = status
        return self

    def native(self) -> tuple[str, dict]:
        """The native step record (raw values; serialize.py makes them JSON)."""
        record = {
            "trace_id": self.invocation.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "kind": self.kind,
            "name": self.name,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
        record.update(self.fields)
        if self._call is not None:
            _apply_call(self, record)
        if self.kind == "llm" and "output" in record:
            _apply_llm_result(record)
        if self.error is not None:
            record["error"] = self.error
        record["status"] = self.status or (
            "error" if self.error is not None else ("ok" if self.ended_at else "running")
        )
        return "step", record


class Invocation:
    """One run of an agent: the unit TraceView classifies. A context manager (sync and async).

    Sent as `running` when it starts (so a process that dies mid-run still leaves a trace) and
    again, complete, when it ends. It opens a root step of kind `agent`; steps opened inside the
    block nest under it.
    """

    def __init__(
        self,
        client: Any,
        agent: str | None = None,
        version: str | None = None,
        name: str | None = None,
        budget: dict | None = None,
        trace_id: str | None = None,
        input: Any = None,
        attributes: dict | None = None,
    ):
        self.client = client
        self.trace_id = trace_id or new_trace_id()
        self.agent = agent
        self.version = version
        self.name = name
        self.input = input
        self.output: Any = None
        self.attributes = dict(attributes or {})
        if budget:
            self.attributes["budget"] = dict(budget)
        self.status: str | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.usage: dict = {}
        self.root = Step(self, name or agent or "invocation", "agent", agent_name=agent)

    def start(self) -> Invocation:
        self.started_at = time.time()
        self.client.exporter.submit(self)
        self.root.started_at = self.started_at
        self.root._token = _current.set(self.root)
        return self

    def end(self, error: BaseException | None = None) -> None:
        if self.ended_at is not None:
            return
        if self.root.fields.get("input") is None and self.input is not None:
            self.root.fields["input"] = self.input
        if self.root.fields.get("output") is None and self.output is not None:
            self.root.fields["output"] = self.output
        if error is None and self.status == "error" and self.root.status is None:
            self.root.status = "error"
        if self.status is None:
            self.status = "error" if self.root.status == "error" or error is not None else "ok"
        self.root.end(error)
        # Status before end time: the export thread may read this object at any moment, and an
        # end time with no status would read as a finished, successful run.
        self.ended_at = self.root.ended_at
        self.client.exporter.submit(self)

    def __enter__(self) -> Invocation:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.end(exc)

    async def __aenter__(self) -> Invocation:
        return self.start()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.end(exc)

    def step(self, name: str | None = None, kind: str = "other", **fields: Any) -> Step:
        """A step under the current step of this invocation (or under its root)."""
        current = _current.get()
        parent = current if current is not None and current.invocation is self else self.root
        return Step(self, name, kind, parent.span_id, **fields)

    def set_input(self, value: Any) -> Invocation:
        self.input = value
        return self

    def set_output(self, value: Any) -> Invocation:
        self.output = value
        return self

    def set_attribute(self, key: str, value: Any) -> Invocation:
        self.attributes[key] = value
        return self

    def set_status(self, status: str) -> Invocation:
        self.status = status
        return self

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> Invocation:
        """Run-level usage, for agents that cannot attribute usage to steps."""
        _set_given(self.usage, input_tokens=input_tokens, output_tokens=output_tokens,
                   cost_usd=cost_usd)
        return self

    def native(self) -> tuple[str, dict]:
        record = {
            "trace_id": self.trace_id,
            "agent": self.agent,
            "agent_version": self.version,
            "name": self.name,
            "status": self.status or ("running" if self.ended_at is None else "ok"),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "input": self.input,
            "output": self.output,
            "attributes": self.attributes or None,
        }
        if self.input is None and self.root._call is not None:
            root: dict = {}
            _apply_call(self.root, root)
            record["input"] = root.get("input")
        record.update(self.usage)
        return "invocation", record


def propagate(fn: Callable) -> Callable:
    """Wrap fn so it runs with the caller's current step, e.g. in a thread pool."""
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        # A Context can be entered by one thread at a time; each call gets its own copy.
        return context.copy().run(fn, *args, **kwargs)

    return run


# -- export-thread helpers ----------------------------------------------------------------


def _apply_call(step: Step, record: dict) -> None:
    signature, args, kwargs = step._call
    arguments: Any
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
            arguments = dict(bound.arguments)
        except TypeError:
            arguments = {"args": list(args), "kwargs": kwargs}
    else:
        arguments = {"args": list(args), "kwargs": kwargs}
    for implicit in ("self", "cls"):
        arguments.pop(implicit, None)
    # Explicitly set fields win over what the call's arguments imply.
    if step.kind == "tool":
        tool = dict(record.get("tool") or {})
        tool.setdefault("arguments", arguments)
        record["tool"] = tool
    elif step.kind == "llm":
        record.setdefault("input", arguments.get("messages", arguments))
        if isinstance(arguments.get("model"), str):
            record.setdefault("model", arguments["model"])
    else:
        record.setdefault(
            "input", next(iter(arguments.values())) if len(arguments) == 1 else arguments
        )


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _apply_llm_result(record: dict) -> None:
    """Read model, usage and finish reason off common client results, by shape.

    Covers OpenAI Chat Completions and Responses, Anthropic Messages, LangChain messages, and
    dicts of the same shape; anything else is left as the step's output.
    """
    result = record["output"]
    if result is None or isinstance(result, (str, int, float, bool, list)):
        return
    fields: dict = {}
    model = _get(result, "model")
    if isinstance(model, str):
        fields["model"] = model
    usage = _get(result, "usage") or _get(result, "usage_metadata")
    if usage is not None:
        for ours, theirs in (
            ("input_tokens", ("input_tokens", "prompt_tokens")),
            ("output_tokens", ("output_tokens", "completion_tokens")),
        ):
            for key in theirs:
                value = _get(usage, key)
                if isinstance(value, int):
                    fields[ours] = value
                    break
    choices = _get(result, "choices")
    if choices:
        first = choices[0]
        fields["finish_reason"] = _get(first, "finish_reason")
        fields["output"] = _get(first, "message")
    elif _get(result, "stop_reason") is not None:  # Anthropic
        fields["finish_reason"] = _get(result, "stop_reason")
    elif isinstance(_get(result, "output"), list):  # OpenAI Responses
        items = _get(result, "output")
        calls = [i for i in items if _get(i, "type") == "function_call"]
        fields["finish_reason"] = "tool_calls" if calls else (_get(result, "status") or None)
    else:
        metadata = _get(result, "response_metadata")
        if isinstance(metadata, dict):
            fields["finish_reason"] = metadata.get("finish_reason") or metadata.get("stop_reason")
            if "model" not in fields and isinstance(metadata.get("model_name"), str):
                fields["model"] = metadata["model_name"]
    # The model a response names (a dated snapshot) is more precise than the one requested.
    for key, value in fields.items():
        if value is not None and (key in ("output", "model") or record.get(key) is None):
            record[key] = value


def _set_given(target: dict, **values: Any) -> None:
    """Copy into `target` the values that were given (not None): a later call adds to an
    earlier one instead of erasing what it said."""
    for key, value in values.items():
        if value is not None:
            target[key] = value
