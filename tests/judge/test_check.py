"""The checks on a judge's answer: strict JSON, a category from the four or none, step ids that
exist in the run, quotes found in the step they name."""

from __future__ import annotations

import json

import pytest

from tests.judge.stub import answer
from tests.pages_data import support_run
from traceview.judge.check import answer_check

RUN = support_run(None)
GOOD = answer("planning", "llm-2", [("llm-2", "Your order has shipped."),
                                    ("tool-1", "503 Service Unavailable")])


def test_it_accepts_a_good_answer():
    checked = answer_check(GOOD, RUN)
    assert checked.ok, checked.problems
    assert checked.answer.category == "planning" and checked.answer.root_step == "llm-2"
    assert checked.answer.evidence == [
        {"step": "llm-2", "quote": "Your order has shipped"},
        {"step": "tool-1", "quote": "503 Service Unavailable"},
    ]


def test_it_accepts_a_run_that_did_not_fail():
    checked = answer_check(answer("none", None, []), RUN)
    assert checked.ok and checked.answer.category is None and checked.answer.root_step is None


def test_it_accepts_one_json_fence_and_whitespace_in_quotes():
    quoted = answer("tool", "tool-1", [("tool-1", "HTTPError   503\nService")])
    text = "```json\n" + quoted + "\n```"
    assert answer_check(text, RUN).ok


def test_it_finds_a_quote_of_a_message_without_its_json_escapes():
    run = support_run(None)
    run.steps[4].output = {"role": "assistant", "content": 'It "shipped"\non Monday.'}
    assert answer_check(answer("planning", "llm-2", [("llm-2", 'It "shipped" on Monday')]),
                        run).ok


@pytest.mark.parametrize("text, problem", [
    ("the root cause is tool-1", "not one JSON object"),
    ('{"category": "tool", "root_step": "tool-1"', "not one JSON object"),
    ("[1, 2]", "JSON but not an object"),
    ("", "empty"),
    ('{"category": "tool", "category": "none", "root_step": null, "summary": "", '
     '"evidence": []}', "a key appears twice"),
    ('{"category": "tool", "root_step": "tool-1", "confidence": NaN, "summary": "", '
     '"evidence": [{"step": "tool-1", "quote": "HTTPError"}]}', "not a number JSON allows"),
    ("Sure! " + GOOD, "not one JSON object"),
])
def test_it_rejects_what_is_not_one_strict_json_object(text, problem):
    checked = answer_check(text, RUN)
    assert not checked.ok
    assert problem in " ".join(checked.problems)


@pytest.mark.parametrize("change, problem", [
    ({"category": "network"}, "is not one of planning, tool, context, budget, none"),
    ({"root_step": "tool-7"}, 'root_step "tool-7" is not the id of a step in the run'),
    ({"root_step": None}, "a planning failure needs a root_step"),
    ({"evidence": [{"step": "tool-9", "quote": "503"}]}, 'names step "tool-9", not in the run'),
    # In the run, but in another step than the one named.
    ({"evidence": [{"step": "llm-1", "quote": "503 Service Unavailable"}]},
     'the quote "503 Service Unavailable" is not in step "llm-1"'),
    ({"evidence": [{"step": "tool-1", "quote": "the order was lost"}]}, "is not in step"),
    ({"evidence": [{"step": "tool-1", "quote": ".."}]}, "quote is not 3 to 500 characters"),
    ({"evidence": []}, "a failure needs at least one evidence item"),
    ({"evidence": [{"step": "tool-1"}]}, "not an object with exactly step and quote"),
    ({"evidence": "tool-1"}, "evidence is not a list"),
    ({"confidence": 1.5}, "confidence is not a number from 0 to 1"),
    ({"confidence": True}, "confidence is not a number from 0 to 1"),
    ({"summary": ["a"]}, "summary is not a string"),
    ({"reasoning": "because"}, 'unknown keys "reasoning"'),
    ({"category": "none"}, "a run that did not fail has no root_step"),
])
def test_it_names_each_problem_of_an_answer(change, problem):
    value = {**json.loads(GOOD), **change}
    checked = answer_check(json.dumps(value), RUN)
    assert not checked.ok
    assert any(problem in p for p in checked.problems), checked.problems


def test_it_requires_the_keys_it_asked_for():
    checked = answer_check('{"category": "tool"}', RUN)
    assert "missing keys evidence, root_step, summary" in checked.problems
