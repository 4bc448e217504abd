"""The checks a judge's answer must pass before it is stored: a pure function over the answer's
text and the canonical trace.

The answer is untrusted. It must be one JSON object (a single ```json fence around it is
tolerated, nothing else), with exactly the keys the prompt asks for; the category is one of the
four or "none"; the root step and every evidence step are ids of steps in the run; every quote
is found, whitespace aside, in the step it names. Anything else is a problem, named in words the
retry can show the model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from traceview.core.trace import CATEGORIES, InvocationData, StepData
from traceview.judge.prompt import collapse, step_quote_sources

MAX_ANSWER_CHARS = 20_000
MAX_SUMMARY_CHARS = 1_000
MAX_EVIDENCE = 8
MAX_QUOTE_CHARS = 500
MIN_QUOTE_CHARS = 3
KEYS = {"category", "root_step", "confidence", "summary", "evidence"}
REQUIRED = {"category", "root_step", "summary", "evidence"}
FENCE = re.compile(r"\A```(?:json)?[ \t]*\n(.*)\n```\Z", re.DOTALL)
# Quotation marks and ellipses a model puts around a quote it copied.
QUOTE_TRIM = "\"'“”‘’`…. "


@dataclass(slots=True)
class JudgeAnswer:
    category: str | None  # None: not a failure
    root_step: str | None
    confidence: float | None
    summary: str
    evidence: list[dict[str, str]]


@dataclass(slots=True)
class Checked:
    answer: JudgeAnswer | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.answer is not None and not self.problems


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _Duplicate("a key appears twice")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


def answer_parse(content: str) -> tuple[dict | None, str | None]:
    """The answer's JSON object, or the reason it is not one."""
    if not isinstance(content, str) or not content.strip():
        return None, "the answer is empty"
    if len(content) > MAX_ANSWER_CHARS:
        return None, f"the answer is longer than {MAX_ANSWER_CHARS} characters"
    text = content.strip()
    fenced = FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError) as exc:
        return None, f"the answer is not one JSON object ({str(exc)[:120]})"
    if not isinstance(value, dict):
        return None, "the answer is JSON but not an object"
    return value, None


def _quote_found(quote: str, step: StepData) -> bool:
    return any(quote in text for text in step_quote_sources(step))


def answer_check(content: str, inv: InvocationData) -> Checked:
    """Parse and check one answer against the run it is about."""
    value, problem = answer_parse(content)
    if value is None:
        return Checked(None, [problem])
    problems: list[str] = []
    extra = sorted(set(value) - KEYS)
    if extra:
        problems.append(f"unknown keys {', '.join(_short(k, 30) for k in extra[:5])}")
    missing = sorted(REQUIRED - set(value))
    if missing:
        problems.append(f"missing keys {', '.join(missing)}")

    category = value.get("category")
    if category is None or category == "none":
        category = None
    elif category not in CATEGORIES:
        problems.append(
            f"category {_short(category)} is not one of planning, tool, context, budget, none"
        )
        category = None

    steps = {s.span_id: s for s in inv.steps}
    root = value.get("root_step")
    if root in ("", None):
        root = None
        if category is not None:
            problems.append(f"a {category} failure needs a root_step")
    elif not isinstance(root, str):
        problems.append("root_step is not a string")
        root = None
    elif root not in steps:
        problems.append(f"root_step {_short(root)} is not the id of a step in the run")
    elif category is None and "category" in value and value["category"] in (None, "none"):
        problems.append("a run that did not fail has no root_step (use null)")

    confidence = value.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool) or not isinstance(confidence, (int, float))
        or not math.isfinite(confidence) or not 0 <= confidence <= 1
    ):
        problems.append("confidence is not a number from 0 to 1")
        confidence = None

    summary = value.get("summary", "")
    if not isinstance(summary, str):
        problems.append("summary is not a string")
        summary = ""
    elif len(summary) > MAX_SUMMARY_CHARS:
        problems.append(f"summary is longer than {MAX_SUMMARY_CHARS} characters")

    evidence = value.get("evidence", [])
    checked_evidence: list[dict[str, str]] = []
    if not isinstance(evidence, list):
        problems.append("evidence is not a list")
        evidence = []
    elif len(evidence) > MAX_EVIDENCE:
        problems.append(f"more than {MAX_EVIDENCE} evidence items")
        evidence = []
    elif not evidence and category is not None:
        problems.append("a failure needs at least one evidence item")
    for n, item in enumerate(evidence, 1):
        if not isinstance(item, dict) or set(item) != {"step", "quote"}:
            problems.append(f"evidence item {n} is not an object with exactly step and quote")
            continue
        step_id, quote = item["step"], item["quote"]
        if not isinstance(step_id, str) or step_id not in steps:
            problems.append(f"evidence item {n} names step {_short(step_id)}, not in the run")
            continue
        if not isinstance(quote, str):
            problems.append(f"evidence item {n}'s quote is not a string")
            continue
        wanted = collapse(quote).strip(QUOTE_TRIM)
        if len(wanted) < MIN_QUOTE_CHARS or len(quote) > MAX_QUOTE_CHARS:
            problems.append(
                f"evidence item {n}'s quote is not {MIN_QUOTE_CHARS} to {MAX_QUOTE_CHARS} "
                "characters long"
            )
            continue
        if not _quote_found(wanted, steps[step_id]):
            problems.append(
                f"evidence item {n}: the quote {_short(wanted)} is not in step {_short(step_id)}"
            )
            continue
        checked_evidence.append({"step": step_id, "quote": wanted})
    answer = JudgeAnswer(
        category=category,
        root_step=root if category is not None else None,
        confidence=float(confidence) if confidence is not None else None,
        summary=summary.strip()[:MAX_SUMMARY_CHARS],
        evidence=checked_evidence,
    )
    return Checked(answer, problems)
