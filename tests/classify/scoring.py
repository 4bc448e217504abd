"""Scores a classifier run over labelled cases: per-class F1, macro-F1, root-step accuracy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

CLASSES = ("planning", "tool", "context", "budget", None)


@dataclass(slots=True)
class Score:
    f1: dict
    macro_f1: float
    root_accuracy: float
    confusion: Counter


def score(pairs: list[tuple[str | None, str | None, str | None, str | None]]) -> Score:
    """pairs: (expected category, predicted category, expected root, predicted root)."""
    confusion: Counter = Counter((e, p) for e, p, _, _ in pairs)
    f1 = {}
    for c in CLASSES:
        tp = confusion[(c, c)]
        fp = sum(n for (e, p), n in confusion.items() if p == c and e != c)
        fn = sum(n for (e, p), n in confusion.items() if e == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1[c] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    failed = [(er, pr) for e, _, er, pr in pairs if e is not None]
    root = sum(er == pr for er, pr in failed) / len(failed) if failed else 1.0
    return Score(
        f1=f1, macro_f1=sum(f1.values()) / len(f1), root_accuracy=root, confusion=confusion
    )
