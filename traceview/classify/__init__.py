"""Failure classification: pure functions from a canonical invocation to a diagnosis.

`classify(invocation)` reads a `traceview.trace.InvocationData` (steps and the agent's budgets
filled in) and returns a `Diagnosis`. No database access: the Celery task loads the invocation,
calls this, and stores the result with `RULESET_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from traceview.trace import InvocationData

RULESET_VERSION = "0.2.0"


@dataclass(slots=True)
class Evidence:
    rule: str
    step: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "step": self.step, "detail": self.detail}


@dataclass(slots=True)
class Diagnosis:
    category: str | None  # planning | tool | context | budget, or None for a success
    root_step: str | None  # span id as sent
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    ruleset: str = RULESET_VERSION


def classify(invocation: InvocationData) -> Diagnosis:
    from traceview.classify.engine import run_rules

    return run_rules(invocation)
