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

Every figure is printed beside trivial baselines computed on the same cases (`baselines`), so a
rule that only encodes a positional prior shows as no better than one:
- category: the most common expected category for every case, and a uniformly random category
  (seeded, averaged over `draws` draws), and where the caller supplies it a keyword baseline
  that reads only the error texts (`keyword_verdict`);
- root step: the first step, the step at the most common index of expected roots, and a
  uniformly random step (seeded, averaged), for cases whose `steps` (span ids in order) are known;
- agent: the first speaker, the most common expected agent, and a random speaker of the case.
"""

from __future__ import annotations

import random
import re
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
    steps: tuple = ()  # the case's span ids in order, for the positional baselines
    agents: tuple = ()  # the agent name of each of those steps, for the agent baselines
    keyword: str | None = None  # the keyword baseline's category and root step
    keyword_root: str | None = None


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


# --- baselines -----------------------------------------------------------------------------

# Error wording that names a context or a budget failure, for the keyword baseline.
_KEYWORD_CONTEXT = re.compile(
    r"context.?length|context window|maximum context|too many tokens|prompt is too long", re.I)
_KEYWORD_BUDGET = re.compile(
    r"budget|max.?turns|recursion.?limit|request.?limit|tokens?.?limit|usage.?limit|deadline"
    r"|too many sub.?agents|sub.?agents? (limit|per)", re.I)


def keyword_verdict(errors: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """The keyword baseline: (category, root span id) from the error texts alone, given as
    (span id, error text) in step order. No error: no failure. A context or budget word in any
    error decides that category at the first step saying it; any other error is tool at the
    first failed step. It never says planning: it reads no answer."""
    errors = [(span, text) for span, text in errors if text]
    if not errors:
        return None, None
    for pattern, category in ((_KEYWORD_CONTEXT, "context"), (_KEYWORD_BUDGET, "budget")):
        for span, text in errors:
            if pattern.search(text):
                return category, span
    return "tool", errors[0][0]


@dataclass(slots=True)
class Baselines:
    """Scores of the trivial predictors on the same cases, by baseline name."""

    macro_f1: dict
    category_accuracy: dict
    per_class_f1: dict  # baseline -> class -> F1
    root_accuracy: dict
    agent_accuracy: dict = field(default_factory=dict)


def _with(outcomes: list[Outcome], predicted: list, roots: list | None = None) -> list[Outcome]:
    return [
        Outcome(o.expected, p, o.expected_root, roots[i] if roots else None)
        for i, (o, p) in enumerate(zip(outcomes, predicted, strict=True))
    ]


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def baselines(outcomes: list[Outcome], classes: tuple | None = None, seed: int = 0,
              draws: int = 100, keyword: bool = False) -> Baselines:
    """The baselines on `outcomes` (see the module docstring); `classes` as for `score`;
    `keyword`: the outcomes carry the keyword baseline's verdicts."""
    report = score(outcomes, classes)
    classes = report.classes
    macro, accuracy, per_class, root = {}, {}, {}, {}
    scored = [o for o in outcomes if o.expected in classes]
    if scored:
        # Ties go to the class listed first, so the baseline does not depend on input order.
        counts = Counter(o.expected for o in scored)
        common = max(classes, key=lambda c: (counts[c], -classes.index(c)))
        runs = {"most common": [score(_with(outcomes, [common] * len(outcomes)), classes)]}
        rng = random.Random(seed)
        runs["random"] = [
            score(_with(outcomes, [rng.choice(classes) for _ in outcomes]), classes)
            for _ in range(draws)
        ]
        if keyword:
            runs["keyword"] = [score(_with(outcomes, [o.keyword for o in outcomes]), classes)]
        for name, reports in runs.items():
            macro[name] = _mean([r.macro_f1 for r in reports])
            accuracy[name] = _mean([r.category_accuracy for r in reports])
            per_class[name] = {c: _mean([r.per_class[c].f1 for r in reports]) for c in classes}
    rooted = [o for o in outcomes if o.expected_root is not None and o.steps]
    if rooted:
        def hit_rate(pick) -> float:
            return sum(pick(o) == o.expected_root for o in rooted) / len(rooted)

        root["first step"] = hit_rate(lambda o: o.steps[0])
        indexes = Counter(o.steps.index(o.expected_root) for o in rooted
                          if o.expected_root in o.steps)
        common_index = min(indexes, key=lambda i: (-indexes[i], i)) if indexes else 0
        root["most common index"] = hit_rate(lambda o: o.steps[min(common_index,
                                                                   len(o.steps) - 1)])
        rng = random.Random(seed)
        root["random step"] = _mean([hit_rate(lambda o: rng.choice(o.steps))
                                     for _ in range(draws)])
        if keyword:
            root["keyword"] = hit_rate(lambda o: o.keyword_root)
    return Baselines(macro, accuracy, per_class, root, _agent_baselines(outcomes))


def _agent_baselines(outcomes: list[Outcome]) -> dict:
    """Agent accuracy of the trivial pickers: the agent of the first step that names one, the
    most common expected agent, and a uniformly random agent among those the case names."""
    named = [o for o in outcomes if o.expected_agent is not None and any(o.agents)]
    if not named:
        return {}

    def hit_rate(pick) -> float:
        return sum(pick(o) == o.expected_agent for o in named) / len(named)

    counts = Counter(o.expected_agent for o in named)
    common = min(counts, key=lambda a: (-counts[a], a))
    rng = random.Random(0)
    return {
        "first speaker": hit_rate(lambda o: next(a for a in o.agents if a)),
        "most common": hit_rate(lambda o: common),
        "random": _mean([hit_rate(lambda o: rng.choice(sorted({a for a in o.agents if a})))
                         for _ in range(100)]),
    }


def _name(cls: str | None) -> str:
    return "none" if cls is None else cls


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _beside(figures: dict, fmt) -> str:
    """`  (most common 0.120, random 0.200)`: the baselines of one figure."""
    if not figures:
        return ""
    return "  (" + ", ".join(f"{name} {fmt(v)}" for name, v in figures.items()) + ")"


def _f3(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render(report: Report, base: Baselines | None = None) -> str:
    """The report as plain text: the per-category table, macro-F1, the confusion matrix (rows
    expected, columns predicted) and the step and agent accuracies; with `base`, the baselines
    beside each figure (per-category F1 in columns of their own)."""
    base = base or Baselines({}, {}, {}, {})
    lines = [f"cases: {report.n}"]
    if report.scored:
        lines.append(f"category scores over {report.scored} cases")
        names = list(base.per_class_f1)
        lines.append(
            f"  {'category':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"
            + "".join(f" {'F1 ' + n:>16}" for n in names)
        )
        for c in report.classes:
            s = report.per_class[c]
            lines.append(
                f"  {_name(c):<10} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8}"
                + "".join(f" {_f3(base.per_class_f1[n][c]):>16}" for n in names)
            )
        lines.append(f"macro-F1: {report.macro_f1:.3f}" + _beside(base.macro_f1, _f3))
        lines.append(f"category accuracy: {_pct(report.category_accuracy)}"
                     + _beside(base.category_accuracy, _pct))
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
    lines.append(f"root-step accuracy: {_pct(report.root_accuracy)} over {report.root_n} cases"
                 + _beside(base.root_accuracy, _pct))
    if report.agent_n:
        lines.append(f"agent accuracy: {_pct(report.agent_accuracy)} over {report.agent_n} cases"
                     + _beside(base.agent_accuracy, _pct))
    return "\n".join(lines)
