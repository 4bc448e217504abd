"""Scores of the classifier against labelled invocations: pure arithmetic, no Django.

Used by `manage.py evaluate_classifier` and by the tests that measure the generated corpus.

Each labelled case becomes an `Outcome`: the expected category (one of the four, None for a run
that did not fail, `OTHER` for a failure the labels name but that maps to none of our categories,
or `UNLABELLED` when the labels give no category at all, as in Who&When), the predicted category,
and optionally the expected and predicted root step and agent.

- Per-category precision, recall and F1 and the macro-F1 are over the cases whose expected
  category is one of `classes` (the four categories, plus "no failure" when a corpus has
  successes). `OTHER` and `UNLABELLED` cases are counted apart and left out of them.
- Root-step accuracy is over every case with an expected root step, whatever its category.
- Agent accuracy is over every case whose labels name an agent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from traceview.core.trace import CATEGORIES

OTHER = "other"
UNLABELLED = "unlabelled"


@dataclass(slots=True)
class Outcome:
    expected: str | None
    predicted: str | None
    expected_root: str | None = None
    predicted_root: str | None = None
    expected_agent: str | None = None
    predicted_agent: str | None = None


@dataclass(slots=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(slots=True)
class Report:
    n: int
    classes: tuple
    per_class: dict
    macro_f1: float | None
    category_accuracy: float | None
    scored: int  # cases in the category scores
    other: int  # labelled failures outside our categories
    unlabelled: int  # cases with no category label
    confusion: Counter  # (expected, predicted) -> count, over scored cases
    root_accuracy: float | None
    root_n: int
    agent_accuracy: float | None
    agent_n: int
    other_predicted: Counter = field(default_factory=Counter)

    def f1(self, cls: str | None) -> float:
        return self.per_class[cls].f1


def _ratio(hits: int, n: int) -> float | None:
    return hits / n if n else None


def score(outcomes: list[Outcome], classes: tuple | None = None) -> Report:
    """Score `outcomes`; `classes` defaults to the four categories, plus None (no failure) when
    any case is expected to be a success."""
    scored = [o for o in outcomes if o.expected not in (OTHER, UNLABELLED)]
    if classes is None:
        classes = CATEGORIES + ((None,) if any(o.expected is None for o in scored) else ())
    scored = [o for o in scored if o.expected in classes]
    confusion: Counter = Counter((o.expected, o.predicted) for o in scored)
    per_class = {}
    for c in classes:
        tp = confusion[(c, c)]
        fp = sum(n for (e, p), n in confusion.items() if p == c and e != c)
        fn = sum(n for (e, p), n in confusion.items() if e == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = ClassScore(precision, recall, f1, tp + fn)
    # A class nobody expected and nobody predicted says nothing; leaving it in would pull the
    # macro average down (or up) by a score that was never measured.
    present = [c for c in classes if per_class[c].support or any(p == c for _, p in confusion)]
    macro = sum(per_class[c].f1 for c in present) / len(present) if present else None
    rooted = [o for o in outcomes if o.expected_root is not None]
    named = [o for o in outcomes if o.expected_agent is not None]
    return Report(
        n=len(outcomes),
        classes=tuple(classes),
        per_class=per_class,
        macro_f1=macro,
        category_accuracy=_ratio(sum(o.expected == o.predicted for o in scored), len(scored)),
        scored=len(scored),
        other=sum(o.expected == OTHER for o in outcomes),
        unlabelled=sum(o.expected == UNLABELLED for o in outcomes),
        confusion=confusion,
        root_accuracy=_ratio(sum(o.expected_root == o.predicted_root for o in rooted), len(rooted)),
        root_n=len(rooted),
        agent_accuracy=_ratio(
            sum(o.expected_agent == o.predicted_agent for o in named), len(named)
        ),
        agent_n=len(named),
        other_predicted=Counter(o.predicted for o in outcomes if o.expected == OTHER),
    )


def _name(cls: str | None) -> str:
    return "none" if cls is None else cls


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def render(report: Report) -> str:
    """The report as plain text: the per-category table, macro-F1, the confusion matrix (rows
    expected, columns predicted) and the step and agent accuracies."""
    lines = [f"cases: {report.n}"]
    if report.scored:
        lines.append(f"category scores over {report.scored} cases")
        lines.append(f"  {'category':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
        for c in report.classes:
            s = report.per_class[c]
            lines.append(
                f"  {_name(c):<10} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8}"
            )
        lines.append(f"macro-F1: {report.macro_f1:.3f}")
        lines.append(f"category accuracy: {_pct(report.category_accuracy)}")
        predicted = list(report.classes) + sorted(
            {p for _, p in report.confusion if p not in report.classes}, key=_name
        )
        lines.append("confusion matrix (rows: expected, columns: predicted)")
        lines.append("  " + " " * 10 + "".join(f"{_name(p):>10}" for p in predicted))
        for e in report.classes:
            lines.append(
                f"  {_name(e):<10}" + "".join(f"{report.confusion[(e, p)]:>10}" for p in predicted)
            )
    if report.other:
        got = ", ".join(
            f"{_name(p)} {n}"
            for p, n in sorted(report.other_predicted.items(), key=lambda kv: _name(kv[0]))
        )
        lines.append(f"other (outside our categories, not scored): {report.other} ({got})")
    if report.unlabelled:
        lines.append(f"no category label: {report.unlabelled}")
    lines.append(f"root-step accuracy: {_pct(report.root_accuracy)} over {report.root_n} cases")
    if report.agent_n:
        lines.append(f"agent accuracy: {_pct(report.agent_accuracy)} over {report.agent_n} cases")
    return "\n".join(lines)
