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


def _strings(value: Any, out: list[str], budget: int, seen: set[str]) -> int:
    """Collect string leaves (and dict keys, before its values) depth-first until `budget`
    characters are used, skipping strings already in `seen` (and adding the others).

    Recursive, with the string leaves of a container handled in its own loop: most leaves are
    strings, and a call (or a stack push) for each was most of the time this took. Payloads are
    nested at most 254 levels deep (ingest refuses deeper ones), as for the classifier's text_of."""
    if budget <= 0:
        return budget
    kind = value.__class__
    if kind is str or isinstance(value, str):
        return _string(value, out, budget, seen)
    if kind is dict or isinstance(value, dict):
        content = value.get("content")
        if content.__class__ is str and len(content) > 16 and content in seen and all(
                v.__class__ is str for v in value.values()):
            return budget  # a chat message already written (no tool calls): the same words
        for key in value:
            if isinstance(key, str) and key not in seen:
                budget = _string(key, out, budget, seen)
                if budget <= 0:
                    return budget
        items = value.values()
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        items = value
    else:
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            if text not in seen:
                seen.add(text)
                out.append(text)
        return budget
    for item in items:
        if item.__class__ is str:
            if item in seen:
                continue
            budget = _string(item, out, budget, seen)
        elif item is not None:
            budget = _strings(item, out, budget, seen)
        if budget <= 0:
            break
    return budget


def _string(text: str, out: list[str], budget: int, seen: set[str]) -> int:
    if text in seen:
        return budget
    seen.add(text)
    piece = text[:budget]
    out.append(piece)
    return budget - len(piece)


def search_document(invocation: InvocationData) -> str:
    # Each model call's input repeats the conversation so far: a message already written is
    # skipped, which leaves the words the same (a search matches words, not how often they
    # occur) and keeps the document, and the time it takes, linear in the run instead of
    # quadratic, with room under the limits for what is new. Names (a step's, its tool's and
    # model's: "chat gpt-4o gpt-4o" on every model call) and numbers are written once too: the
    # database parses the whole document into a tsvector on every write, at a cost that grows
    # with its length.
    seen: set[str] = set()
    parts: list[str] = []
    for name in (invocation.trace_id, invocation.name, invocation.agent):
        if name and name not in seen:
            seen.add(name)
            parts.append(name)
    _strings(invocation.input, parts, STEP_TEXT_LIMIT, seen)
    _strings(invocation.output, parts, STEP_TEXT_LIMIT, seen)
    total = sum(len(p) for p in parts)
    for step in invocation.steps:
        if total >= DOCUMENT_LIMIT:
            break
        piece = []
        for field in (step.name, step.tool_name, step.model, step.agent_name, step.error_type,
                      step.error_message):
            if field and field not in seen:
                seen.add(field)
                piece.append(field)
        budget = STEP_TEXT_LIMIT
        for payload in (step.input, step.output, step.tool_arguments, step.tool_result):
            budget = _strings(payload, piece, budget, seen)
        text = " ".join(piece)
        parts.append(text)
        total += len(text) + 1
    return " ".join(p for p in parts if p)[:DOCUMENT_LIMIT].translate(_SEPARATORS)
