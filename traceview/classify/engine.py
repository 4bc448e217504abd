"""Runs every rule over an invocation and picks one category and one root step.

The decision (docs/classifier.md has the long form; ../shared/CLASSIFICATION.md the definition):

1. Findings of failures the agent got past (recovered) are evidence only, and so are those a
   later strong finding takes over from (`Finding.overrides`: a success claimed over a failed
   tool call makes that failure handled; the claim is the failure).
2. The run failed when its status (or its root step's) is error, or when a live finding is a
   failure on its own (`fails_run`: a budget crossed, a success claimed over a failed call ...).
   A run that did not fail gets no category, whatever weaker findings say.
3. The root cause is the earliest live finding, a cause before a symptom at the same step, then
   tool > planning > context > budget. Causes (a tool error, the first call of a loop, a flooding
   tool output) precede the symptoms they lead to (a turn limit, a context-length error, giving
   up), so "earliest" is "root cause over last symptom". Symptoms recorded on a span that
   contains others (an agent run) count at its end, where they happened. Weak findings
   (strength < 0.5) compete only when no strong one exists. Secondary findings (an answer's
   figures no tool returned) decide only when nothing else failed the run.
4. A failed run with no finding still gets a category: the first failed step's (tool for a tool
   or model call, planning otherwise), or planning at the final answer, at low confidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

# Importing the rule modules registers their rules, in this order.
from traceview.classify import budget, context, grounding, messages, planning, tool  # noqa: E402,F401,I001
from traceview.classify.base import CAUSE, RULES, Finding, TraceView
from traceview.core.trace import InvocationData

log = logging.getLogger(__name__)

RULESET_VERSION = "0.6.0"


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
    # On a run the rules let stand as a success: their findings on its final answer too weak to
    # fail it (a figure no tool returned). Not stored; they decide whether the judge is asked.
    doubts: list[Evidence] = field(default_factory=list)


def classify(invocation: InvocationData) -> Diagnosis:
    """The diagnosis of one canonical invocation (steps and the agent's budgets filled in)."""
    return run_rules(invocation)

STRONG = 0.5
MAX_EVIDENCE = 12
DETAIL_LIMIT = 240
CATEGORY_ORDER = {"tool": 0, "planning": 1, "context": 2, "budget": 3}
# The evidence rule of a verdict no rule backed (see _fallback).
FALLBACK_RULE = "engine.fallback"


def run_findings(invocation: InvocationData) -> tuple[TraceView, list[Finding]]:
    """Every rule's findings over `invocation` (for tests and the evaluation command)."""
    view = TraceView.build(invocation, tool.tool_problem)
    findings: list[Finding] = []
    for r in RULES:
        try:
            findings.extend(r.fn(view))
        except Exception:  # noqa: BLE001
            # One rule tripping over an odd payload must not leave the invocation unclassified.
            log.exception("classifier rule %s failed on %s", r.name, invocation.trace_id)
    return view, findings


def run_rules(invocation: InvocationData) -> Diagnosis:
    view, findings = run_findings(invocation)
    live = _handled(f for f in findings if not f.recovered)
    failed = view.run_failed or any(f.fails_run and f.strength >= STRONG for f in live)
    if not failed:
        # What the rules saw in the final answer without enough to fail the run.
        answer_pos, _ = view.final_answer()
        doubts = [f for f in live if answer_pos is not None and f.pos == answer_pos]
        return Diagnosis(
            category=None, root_step=None, confidence=0.95, evidence=[],
            doubts=[Evidence(f.rule, f.step, _clip(f.detail)) for f in doubts[:MAX_EVIDENCE]],
        )

    strong = [f for f in live if f.strength >= STRONG]
    if view.run_failed or any(f.fails_run and not f.secondary for f in strong):
        # The run failed for another reason: that one is the root.
        strong = [f for f in strong if not f.secondary] or strong
    else:
        strong = [f for f in strong if f.secondary] or strong
    pool = strong or live
    if not pool:
        return _fallback(view, findings)
    winner = min(pool, key=_precedence)

    confidence = winner.strength
    others = {f.category for f in strong if f.category != winner.category and f.role == CAUSE}
    if others:
        confidence *= 0.85
    if any(f is not winner and f.category == winner.category for f in live):
        confidence = min(0.99, confidence + 0.05)
    if not view.run_failed:
        # The run said it succeeded; the rules overrode it.
        confidence *= 0.95

    ordered = [winner] + sorted(
        (f for f in findings if f is not winner),
        key=lambda f: (f.recovered, f.category != winner.category, f.pos),
    )
    return Diagnosis(
        category=winner.category,
        root_step=winner.step,
        confidence=round(max(0.05, min(0.99, confidence)), 3),
        evidence=[Evidence(f.rule, f.step, _clip(f.detail)) for f in ordered[:MAX_EVIDENCE]],
    )


def _handled(findings) -> list[Finding]:
    """Live findings less those a later strong finding takes over from (`Finding.overrides`):
    a tool failure the agent saw and then claimed success over is handled; the claim is the
    failure."""
    findings = list(findings)
    takers = [f for f in findings if f.overrides and f.strength >= STRONG]
    if not takers:
        return findings
    return [
        f
        for f in findings
        if not any(f.category in t.overrides and f.pos < t.pos for t in takers if f is not t)
    ]


def _clip(detail: str) -> str:
    # Excerpts are ~200 characters; the rule's framing around them stays within this.
    return detail if len(detail) <= DETAIL_LIMIT else detail[: DETAIL_LIMIT - 1] + "…"


def _precedence(f: Finding) -> tuple:
    return (f.pos, f.role != CAUSE, CATEGORY_ORDER.get(f.category, 9), -f.strength)


def _fallback(view: TraceView, findings: list[Finding]) -> Diagnosis:
    evidence = [Evidence(f.rule, f.step, _clip(f.detail)) for f in findings[: MAX_EVIDENCE - 1]]
    for i, s in enumerate(view.steps):
        if s.status == "error" and s is not view.root:
            category = "tool" if s.kind in ("tool", "retrieval", "llm") else "planning"
            why = f"the run failed; no rule matched; first failed step is a {s.kind or 'step'} step"
            evidence.insert(
                0,
                Evidence(
                    FALLBACK_RULE, s.span_id, why + ": " + (view.text(i, "error")[:120] or "")
                ),
            )
            return Diagnosis(
                category=category, root_step=s.span_id, confidence=0.2, evidence=evidence
            )
    answer_pos, _ = view.final_answer()
    if answer_pos is None and view.steps:
        answer_pos = len(view.steps) - 1
    step = view.steps[answer_pos].span_id if answer_pos is not None else None
    why = (
        "the run failed without an error on any step or a rule that matched: "
        "taken as a planning failure at its last answer"
    )
    evidence.insert(0, Evidence(FALLBACK_RULE, step, why))
    return Diagnosis(category="planning", root_step=step, confidence=0.15, evidence=evidence)
