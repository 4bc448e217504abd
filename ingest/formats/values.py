"""Small value readers shared by the wire formats."""

from __future__ import annotations

import ast
import json
from typing import Any


def nonblank(value: Any) -> str | None:
    """A string with something in it, else None."""
    return value if isinstance(value, str) and value else None


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
