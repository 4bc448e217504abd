"""The decorators: @agent, @llm, @tool and @traced record a function's calls as steps.

Apart from recording (record.py) because an outermost @agent call starts an invocation on the
default client (client.py), and the client builds invocations: record.py must not import it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from .client import get_client
from .record import Invocation, Step, current_step


def _decorator(kind: str, fn: Callable | None, options: dict) -> Any:
    if fn is None:
        return lambda f: _wrap(kind, f, options)
    return _wrap(kind, fn, options)


def agent(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    budget: dict | None = None,
    client: Any = None,
) -> Any:
    """Record a function as an agent: a new invocation when none is running, else a sub-agent."""
    return _decorator(
        "agent", fn, {"name": name, "version": version, "budget": budget, "client": client}
    )


def llm(fn: Callable | None = None, *, name: str | None = None, model: str | None = None) -> Any:
    """Record a function that calls a model; usage and finish reason are read from its result."""
    return _decorator("llm", fn, {"name": name, "model": model})


def tool(fn: Callable | None = None, *, name: str | None = None) -> Any:
    """Record a tool function: its arguments and result, or the error it raised."""
    return _decorator("tool", fn, {"name": name})


def traced(fn: Callable | None = None, *, name: str | None = None, kind: str = "other") -> Any:
    """Record any function as a step of the given kind (retrieval, guardrail, other, ...)."""
    return _decorator(kind, fn, {"name": name})


def _wrap(kind: str, fn: Callable, options: dict) -> Callable:
    name = options.get("name") or getattr(fn, "__name__", None) or repr(fn)
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    def open_step(args: tuple, kwargs: dict) -> Any:
        parent = current_step()
        if kind == "agent" and parent is None:
            inv = Invocation(
                options.get("client") or get_client(),
                agent=name,
                version=options.get("version"),
                budget=options.get("budget"),
            )
            inv.root._call = (signature, args, kwargs)
            return inv.start()
        if parent is None:
            return None  # not inside an invocation: run the function untraced
        step = Step(parent.invocation, name, kind, parent.span_id)
        if kind == "agent":
            step.fields["agent_name"] = name
        elif kind == "llm" and options.get("model"):
            step.fields["model"] = options["model"]
        elif kind == "tool":
            step.fields["tool"] = {"name": name}
        step._call = (signature, args, kwargs)
        return step.start()

    def close_step(opened: Any, result: Any, error: BaseException | None) -> None:
        if opened is None:
            return
        target = opened.root if isinstance(opened, Invocation) else opened
        if error is None:
            if kind == "tool":
                target.fields["tool"]["result"] = result
            else:
                target.fields["output"] = result
            if isinstance(opened, Invocation):
                opened.output = result
        opened.end(error)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            opened = open_step(args, kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                close_step(opened, None, exc)
                raise
            close_step(opened, result, None)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opened = open_step(args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            close_step(opened, None, exc)
            raise
        close_step(opened, result, None)
        return result

    return wrapper
