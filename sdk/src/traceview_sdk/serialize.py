"""Turning recorded objects into natively-shaped JSON records, on the export thread.

The calling thread hands over live objects (a Step, an Invocation, or a ready dict from a hook);
everything expensive — binding arguments, converting pydantic models and dataclasses, formatting
tracebacks, formatting timestamps — happens here, off the agent's path.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

MAX_DEPTH = 24
TIME_FIELDS = ("started_at", "ended_at")


def to_record(item: Any, max_chars: int) -> tuple[str, dict]:
    if isinstance(item, tuple):
        kind, raw = item
    else:
        kind, raw = item.native()
    record = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in TIME_FIELDS:
            record[key] = timestamp(value)
        elif key == "error":
            record[key] = error_record(value, max_chars)
        else:
            record[key] = jsonable(value, max_chars)
    return kind, record


def timestamp(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return (
            datetime.fromtimestamp(value, timezone.utc)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z")
        )
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return value


def error_record(error: Any, max_chars: int) -> Any:
    if isinstance(error, BaseException):
        return {
            "type": qualified_name(type(error)),
            "message": _truncate(str(error), max_chars),
            "traceback": _truncate(
                "".join(traceback.format_exception(type(error), error, error.__traceback__)),
                max_chars,
            ),
        }
    return jsonable(error, max_chars)


def qualified_name(cls: type) -> str:
    module = cls.__module__
    if module in ("builtins", "__main__", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def jsonable(value: Any, max_chars: int = 100_000, depth: int = 0) -> Any:
    """A JSON-safe copy of value; anything unknown becomes its repr, long strings are cut."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return _truncate(value, max_chars)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= MAX_DEPTH:
        return _truncate(repr(value), max_chars)
    depth += 1
    if isinstance(value, dict):
        return {str(k): jsonable(v, max_chars, depth) for k, v in list(value.items())}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, max_chars, depth) for v in list(value)]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, BaseException):
        return error_record(value, max_chars)
    dump = getattr(value, "model_dump", None)  # pydantic v2 (OpenAI, Anthropic, LangChain types)
    if callable(dump):
        try:
            return jsonable(dump(mode="json", exclude_none=True), max_chars, depth)
        except Exception:
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name, None), max_chars, depth)
            for f in dataclasses.fields(value)
        }
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return jsonable(to_dict(), max_chars, depth)
        except Exception:
            pass
    return _truncate(repr(value), max_chars)


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"... [truncated {len(text) - max_chars} chars]"
