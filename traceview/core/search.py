"""The text the invocation list's free-text search reads, built once per classification.

Searching every step payload at query time meant a GIN index over every payload row, which
doubled PostgreSQL's work per ingested span. Instead the worker, which reads the whole invocation
to classify it anyway, writes one document per invocation: its name and ids, and per step the
name, tool, model, error and the text of messages, arguments and results. Pure: no database.
"""

from __future__ import annotations

from typing import Any

from traceview.core.trace import InvocationData

DOCUMENT_LIMIT = 100_000  # characters; a PostgreSQL tsvector must stay under 1 MB
STEP_TEXT_LIMIT = 2_000  # so one flooding payload cannot crowd out every other step
# PostgreSQL's text parser reads "<script>" as an HTML tag and drops it; as plain words, a search
# for "script" finds it.
_SEPARATORS = str.maketrans({"<": " ", ">": " ", "/": " ", "\x00": " "})


def _strings(value: Any, out: list[str], budget: int) -> int:
    """Collect string leaves (and dict keys) depth-first until `budget` characters are used."""
    stack = [value]
    while stack and budget > 0:
        item = stack.pop()
        if isinstance(item, str):
            piece = item[:budget]
            out.append(piece)
            budget -= len(piece)
        elif isinstance(item, dict):
            stack.extend(reversed([*item.values()]))
            stack.extend(reversed([k for k in item if isinstance(k, str)]))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(str(item))
    return budget


def search_document(invocation: InvocationData) -> str:
    parts = [invocation.trace_id, invocation.name or "", invocation.agent or ""]
    _strings(invocation.input, parts, STEP_TEXT_LIMIT)
    _strings(invocation.output, parts, STEP_TEXT_LIMIT)
    total = sum(len(p) for p in parts)
    for step in invocation.steps:
        if total >= DOCUMENT_LIMIT:
            break
        fields = [step.name, step.tool_name, step.model, step.agent_name, step.error_type,
                  step.error_message]
        piece = [f for f in fields if f]
        budget = STEP_TEXT_LIMIT
        for payload in (step.input, step.output, step.tool_arguments, step.tool_result):
            budget = _strings(payload, piece, budget)
        text = " ".join(piece)
        parts.append(text)
        total += len(text) + 1
    return " ".join(p for p in parts if p)[:DOCUMENT_LIMIT].translate(_SEPARATORS)
