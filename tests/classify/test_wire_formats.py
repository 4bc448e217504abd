"""The generated corpus sent through each wire format and read back by the ingest parsers.

Measures what the classifier gets from a real sender's payload, so that a parser or convention
mapping that drops what the rules need shows up as a lost target.
"""

import pytest

from traceview.classify.engine import classify
from traceview.classify.metrics import Outcome, score

from .generator import generate
from .wire import FORMATS, roundtrip


def _measure(fmt, cases):
    outcomes = []
    for case in cases:
        parsed, ids = roundtrip(fmt, case.invocation)
        d = classify(parsed)
        expected_root = ids.get(case.root_step) if case.root_step else None
        outcomes.append(Outcome(case.category, d.category, expected_root, d.root_step))
    return score(outcomes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_meets_the_targets_in_each_wire_format(fmt):
    result = _measure(fmt, generate(seed=11, per_signal=6))
    assert result.macro_f1 >= 0.95, (result.per_class, result.confusion)
    assert result.root_accuracy >= 0.90
