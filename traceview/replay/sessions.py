"""Sessions: the runs that share a conversation or session id (Invocation.session_id, read at
ingest from whichever convention the sender used), as one conversation of turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import F

from traceview.core.models import Invocation

MAX_TURNS = 500


@dataclass
class Session:
    session_id: str
    turns: list[Invocation]
    truncated: bool

    @property
    def failed(self) -> list[Invocation]:
        return [t for t in self.turns if t.status == "error"]

    @property
    def tokens(self) -> int:
        return sum(t.total_tokens for t in self.turns)

    @property
    def cost(self) -> Decimal:
        return sum((t.cost_usd for t in self.turns), Decimal(0))

    @property
    def unpriced_calls(self) -> int:
        return sum(t.unpriced_calls for t in self.turns)

    @property
    def started_at(self) -> datetime | None:
        return min((t.started_at for t in self.turns if t.started_at), default=None)

    @property
    def ended_at(self) -> datetime | None:
        return max((t.ended_at for t in self.turns if t.ended_at), default=None)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    @property
    def agents(self) -> list[str]:
        return sorted({t.agent.name for t in self.turns if t.agent})


def session_detail(projects, session_id: str, project: int | None = None) -> Session | None:
    """A session's turns in the order they started (the first MAX_TURNS), within the given
    projects; None when no run of those projects has that session id."""
    qs = Invocation.objects.filter(project__in=projects, session_id=session_id)
    if project is not None:
        qs = qs.filter(project_id=project)
    turns = list(
        qs.select_related("agent", "project")
        .order_by(F("started_at").asc(nulls_last=True), "created_at", "id")[: MAX_TURNS + 1]
    )
    if not turns:
        return None
    return Session(session_id=session_id, turns=turns[:MAX_TURNS],
                   truncated=len(turns) > MAX_TURNS)


def turn_text(value) -> str:
    """A turn's input or output as text to read: strings as they are, a message list by its last
    message's content, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = value[-1].get("content")
        if isinstance(content, str):
            return content
    if isinstance(value, dict):
        for key in ("content", "text", "output", "input", "query", "question", "answer"):
            if isinstance(value.get(key), str):
                return value[key]
    return json.dumps(value, ensure_ascii=False, default=str)
