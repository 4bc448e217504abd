"""Small value readers shared by the wire formats."""

from __future__ import annotations

import ast
import json
from typing import Any

import orjson

from traceview.core.trace import MAX_ID

ID_REASON = f"must be a non-empty string of at most {MAX_ID} characters"


def nonblank(value: Any) -> str | None:
    """A string with something in it, else None."""
    return value if isinstance(value, str) and value else None


def is_id(value: Any) -> bool:
    """A usable trace, span or observation id: text that fits the id columns whole."""
    return bool(nonblank(value)) and len(value) <= MAX_ID


def structured(value: Any) -> Any:
    """Lists and dicts that a log kept as JSON text or as a Python repr, read back; anything
    else (or text that is neither) is returned unchanged. literal_eval evaluates literals only,
    never code, so untrusted text is safe to try."""
    if not isinstance(value, str) or value[:1] not in ("[", "{"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


# JSON nested deeper than this is refused: the readers, the store and the pages walk values
# recursively, and no trace needs more. It is orjson's own limit for serializing, which makes the
# check of a valid body one orjson.dumps (a walk in Python costs several times the parse).
MAX_NESTING = 254


def too_deep(value: Any, limit: int = MAX_NESTING) -> str | None:
    """The path of the first container nested deeper than `limit` levels, or None. Iterative, so
    a body nested thousands deep is measured without recursion; the path is spelled out only for
    the value found (each entry links to its parent)."""
    if not isinstance(value, dict | list):
        return None
    if limit == MAX_NESTING:
        try:
            orjson.dumps(value)
            return None
        except orjson.JSONEncodeError:
            pass  # too deep (or not serializable at all): the walk says which
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        current, depth, node = stack.pop()
        if depth >= limit:
            return _path_of(node)
        if isinstance(current, dict):
            stack.extend((v, depth + 1, (k, node)) for k, v in current.items()
                         if isinstance(v, dict | list))
        else:
            stack.extend((v, depth + 1, (i, node)) for i, v in enumerate(current)
                         if isinstance(v, dict | list))
    return None


def _path_of(node: Any) -> str:
    parts = []
    while node is not None:
        key, node = node
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    path = "".join(reversed(parts)).lstrip(".")
    return path if len(path) <= 200 else path[:200] + "…"


def nesting_reason(limit: int = MAX_NESTING) -> str:
    return f"nested deeper than {limit} levels"
