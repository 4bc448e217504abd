"""The evaluation's arithmetic on small hand-made cases: scores, baselines, the keyword reader."""

from __future__ import annotations

import pytest

from traceview.classify.metrics import Outcome, baselines, keyword_verdict, render, score

CLASSES = ("planning", "tool", None)


def _cases() -> list[Outcome]:
    steps = ("root", "llm-1", "tool-1", "llm-2")
    return [
        Outcome("tool", "tool", "tool-1", "tool-1", steps=steps, keyword="tool",
                keyword_root="tool-1"),
        Outcome("tool", "planning", "tool-1", "llm-2", steps=steps, keyword="tool",
                keyword_root="tool-1"),
        Outcome("planning", "planning", "llm-2", "llm-2", steps=steps),
        Outcome(None, None, steps=steps),
    ]


def test_it_scores_hand_made_cases():
    report = score(_cases(), CLASSES)
    # tool: 1 of 2 found, precision 1 -> F1 2/3; planning: 1 of 1 found, 1 of 2 right -> 2/3.
    assert report.per_class["tool"].f1 == pytest.approx(2 / 3)
    assert report.per_class["planning"].f1 == pytest.approx(2 / 3)
    assert report.per_class[None].f1 == 1.0
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert report.root_accuracy == pytest.approx(2 / 3) and report.root_n == 3


def test_it_computes_the_trivial_baselines():
    base = baselines(_cases(), CLASSES, seed=1, draws=200, keyword=True)
    # Most common: "tool" (2 of 4) for everyone: tool F1 = 2*0.5*1/1.5 = 2/3, others 0.
    assert base.per_class_f1["most common"] == {"planning": 0.0, "tool": pytest.approx(2 / 3),
                                                None: 0.0}
    assert base.macro_f1["most common"] == pytest.approx((2 / 3) / 3)
    assert base.category_accuracy["most common"] == 0.5
    # Keyword: tool, tool, none, none -> tool F1 1, planning 0, none 2/3.
    assert base.macro_f1["keyword"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    # Uniform random over three classes: accuracy about a third.
    assert base.category_accuracy["random"] == pytest.approx(1 / 3, abs=0.06)
    # Roots: first step never; the most common index (2: tool-1) twice in three.
    assert base.root_accuracy["first step"] == 0.0
    assert base.root_accuracy["most common index"] == pytest.approx(2 / 3)
    assert base.root_accuracy["random step"] == pytest.approx(1 / 4, abs=0.05)
    assert base.root_accuracy["keyword"] == pytest.approx(2 / 3)


def test_it_draws_the_same_random_baseline_for_the_same_seed():
    a = baselines(_cases(), CLASSES, seed=7, draws=20)
    b = baselines(_cases(), CLASSES, seed=7, draws=20)
    assert a.macro_f1["random"] == b.macro_f1["random"]
    assert a.root_accuracy["random step"] == b.root_accuracy["random step"]
    assert "keyword" not in a.macro_f1


def test_it_prints_the_baselines_beside_each_figure():
    text = render(score(_cases(), CLASSES), baselines(_cases(), CLASSES, keyword=True))
    macro = next(line for line in text.splitlines() if line.startswith("macro-F1:"))
    assert "(most common 0.222, random " in macro and "keyword 0.556)" in macro
    root = next(line for line in text.splitlines() if line.startswith("root-step accuracy:"))
    assert "first step 0.0 %" in root and "most common index 66.7 %" in root
    assert "F1 most common" in text


@pytest.mark.parametrize(
    "errors, verdict",
    [
        ([], (None, None)),
        ([("a", ""), ("b", "")], (None, None)),
        ([("a", "HTTPError: 502 Bad Gateway"), ("b", "BadRequestError: maximum context "
                                                     "length is 8192 tokens")], ("context", "b")),
        ([("a", "MaxTurnsExceeded: Max turns (5) exceeded")], ("budget", "a")),
        ([("a", ""), ("b", "GatewayDeclined: code 05"), ("c", "boom")], ("tool", "b")),
    ],
)
def test_it_reads_only_error_texts_for_the_keyword_baseline(errors, verdict):
    assert keyword_verdict(errors) == verdict
