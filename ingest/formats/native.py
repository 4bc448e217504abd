"""The documented native JSON format (docs/native-format.md) -> canonical invocations.

Pure: `parse_native(body) -> list[InvocationData]`, raising FormatError that names every bad
field (its path and the reason). Nothing here touches the database.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ingest.formats.errors import FormatError
from traceview.core.trace import (
    MAX_COST_USD,
    MAX_ID,
    MAX_TOKENS,
    STATUSES,
    STEP_KINDS,
    InvocationData,
    StepData,
)


class _Errors:
    def __init__(self):
        self.items: list[dict[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        # A flood of errors helps nobody; the first hundred name the problem.
        if len(self.items) < 100:
            self.items.append({"path": path, "reason": reason})


def parse_timestamp(value: Any) -> datetime:
    """RFC 3339 text (a missing zone means UTC) or Unix epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("must be an RFC 3339 timestamp or epoch seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            raise ValueError("epoch seconds out of range")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise ValueError("must be an RFC 3339 timestamp or epoch seconds")


class _Reader:
    """Typed field access that records errors instead of raising, so one reply names them all."""

    def __init__(self, obj: dict, path: str, errors: _Errors):
        self.obj, self.path, self.errors = obj, path, errors

    def _bad(self, key: str, reason: str) -> None:
        self.errors.add(f"{self.path}.{key}" if self.path else key, reason)

    def id(self, key: str, required: bool = False) -> str | None:
        value = self.obj.get(key)
        if value is None:
            if required:
                self._bad(key, "is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self._bad(key, "must be a non-empty string")
            return None
        if len(value) > MAX_ID:
            self._bad(key, f"must be at most {MAX_ID} characters")
            return None
        return value.strip()

    def text(self, key: str, max_length: int) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._bad(key, "must be a string")
            return None
        if len(value) > max_length:
            self._bad(key, f"must be at most {max_length} characters")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in choices:
            self._bad(key, f"must be one of {', '.join(choices)}")
            return None
        return value.lower()

    def timestamp(self, key: str) -> datetime | None:
        value = self.obj.get(key)
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self._bad(key, str(exc))
            return None

    def count(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self._bad(key, "must be a non-negative integer")
            return None
        if value > MAX_TOKENS:
            self._bad(key, f"must be at most {MAX_TOKENS}")
            return None
        return value

    def money(self, key: str) -> Decimal | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self._bad(key, "must be a non-negative number")
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self._bad(key, "must be a non-negative number")
            return None
        if not amount.is_finite() or amount < 0 or amount > MAX_COST_USD:
            self._bad(key, f"must be a non-negative number at most {MAX_COST_USD}")
            return None
        return amount

    def obj_field(self, key: str) -> dict | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._bad(key, "must be an object")
            return None
        return value


def _parse_step(raw: Any, path: str, errors: _Errors, seq: int) -> StepData | None:
    if not isinstance(raw, dict):
        errors.add(path, "must be an object")
        return None
    r = _Reader(raw, path, errors)
    span_id = r.id("span_id", required=True)
    step = StepData(
        span_id=span_id or "",
        parent_span_id=r.id("parent_span_id"),
        kind=r.choice("kind", STEP_KINDS),
        name=r.text("name", 500),
        started_at=r.timestamp("started_at"),
        ended_at=r.timestamp("ended_at"),
        status=r.choice("status", STATUSES),
        model=r.text("model", 200),
        input_tokens=r.count("input_tokens"),
        output_tokens=r.count("output_tokens"),
        cost_usd=r.money("cost_usd"),
        finish_reason=r.text("finish_reason", 50),
        input=raw.get("input"),
        output=raw.get("output"),
        attributes=r.obj_field("attributes"),
        agent_name=r.text("agent_name", 200),
        seq=seq,
    )
    error = raw.get("error")
    if isinstance(error, str):
        step.error_message = error
    elif isinstance(error, dict):
        er = _Reader(error, f"{path}.error", errors)
        step.error_type = er.text("type", 200)
        step.error_message = er.text("message", 100_000)
        step.error_traceback = er.text("traceback", 1_000_000)
    elif error is not None:
        errors.add(f"{path}.error", "must be an object {type, message, traceback} or a string")
    tool = r.obj_field("tool")
    if tool is not None:
        tr = _Reader(tool, f"{path}.tool", errors)
        step.tool_name = tr.text("name", 200)
        step.tool_call_id = tr.text("call_id", 200)
        step.tool_arguments = tool.get("arguments")
        step.tool_result = tool.get("result")
    if step.status is None:
        # The documented defaults: an error makes it failed, an end time makes it done.
        if error is not None:
            step.status = "error"
        elif step.ended_at is not None:
            step.status = "ok"
    if step.kind is None and "kind" not in raw:
        step.kind = "tool" if tool is not None else None
    if step.started_at and step.ended_at and step.ended_at < step.started_at:
        errors.add(f"{path}.ended_at", "is before started_at")
    return step if span_id else None


def _parse_invocation(
    raw: Any, path: str, errors: _Errors, max_steps: int
) -> InvocationData | None:
    if not isinstance(raw, dict):
        errors.add(path, "must be an object")
        return None
    r = _Reader(raw, path, errors)
    trace_id = r.id("trace_id", required=True)
    inv = InvocationData(
        trace_id=trace_id or "",
        agent=r.text("agent", 200),
        agent_version=r.text("agent_version", 100),
        name=r.text("name", 500),
        status=r.choice("status", STATUSES),
        started_at=r.timestamp("started_at"),
        ended_at=r.timestamp("ended_at"),
        input=raw.get("input"),
        output=raw.get("output"),
        attributes=r.obj_field("attributes"),
        input_tokens=r.count("input_tokens"),
        output_tokens=r.count("output_tokens"),
        cost_usd=r.money("cost_usd"),
    )
    steps = raw.get("steps")
    if steps is not None:
        if not isinstance(steps, list):
            errors.add(f"{path}.steps", "must be an array")
        elif len(steps) > max_steps:
            errors.add(f"{path}.steps", f"at most {max_steps} steps in one request")
        else:
            for i, s in enumerate(steps):
                step = _parse_step(s, f"{path}.steps[{i}]", errors, seq=i)
                if step:
                    inv.steps.append(step)
    return inv if trace_id else None


def parse_native(body: Any, max_steps: int = 10_000) -> list[InvocationData]:
    """Validate a parsed native body and return its invocations (steps grouped by trace id)."""
    errors = _Errors()
    if not isinstance(body, dict):
        raise FormatError([{"path": "", "reason": "the body must be a JSON object"}])
    unknown = set(body) - {"invocations", "steps"}
    for key in sorted(unknown):
        errors.add(key, "unknown field; expected 'invocations' and/or 'steps'")
    raw_invocations = body.get("invocations", [])
    raw_steps = body.get("steps", [])
    if not isinstance(raw_invocations, list):
        errors.add("invocations", "must be an array")
        raw_invocations = []
    if not isinstance(raw_steps, list):
        errors.add("steps", "must be an array")
        raw_steps = []
    if not raw_invocations and not raw_steps and not errors.items:
        errors.add("", "nothing to ingest: send 'invocations' or 'steps'")

    by_trace: dict[str, InvocationData] = {}
    total_steps = sum(
        len(i["steps"]) for i in raw_invocations
        if isinstance(i, dict) and isinstance(i.get("steps"), list)
    )
    if total_steps + len(raw_steps) > max_steps:
        errors.add("", f"at most {max_steps} steps in one request")
    for i, raw in enumerate(raw_invocations):
        inv = _parse_invocation(raw, f"invocations[{i}]", errors, max_steps)
        if inv is None:
            continue
        if inv.trace_id in by_trace:
            errors.add(f"invocations[{i}].trace_id", "appears twice in this request")
            continue
        by_trace[inv.trace_id] = inv
    for i, raw in enumerate(raw_steps):
        path = f"steps[{i}]"
        trace_id = (
            _Reader(raw, path, errors).id("trace_id", required=True)
            if isinstance(raw, dict)
            else None
        )
        step = _parse_step(raw, path, errors, seq=i)
        if step is None or trace_id is None:
            continue
        by_trace.setdefault(trace_id, InvocationData(trace_id=trace_id)).steps.append(step)
    for inv in by_trace.values():
        seen: set[str] = set()
        for step in inv.steps:
            if step.span_id in seen:
                errors.add(f"trace {inv.trace_id}", f"span_id {step.span_id!r} appears twice")
            seen.add(step.span_id)
    if errors.items:
        raise FormatError(errors.items)
    return list(by_trace.values())
