"""`evaluate_classifier --judge`: the judge's scores beside the rules', with its calls, tokens
and cost, against the stub over real HTTP; and a plain message when no endpoint is set."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from tests.judge.stub import answer, reply
from tests.pages_data import support_run
from tests.triage.data import tool_failure
from traceview.models import JudgeVerdict, Project
from traceview.triage.services import native_invocation


def _cases(tmp_path):
    ok = tool_failure("fine", status="ok")
    lines = [
        {"trace": native_invocation(support_run(None, trace_id="claims")),
         "label": {"category": "planning", "root_step": "llm-2"}},
        {"trace": native_invocation(tool_failure("lookup")),
         "label": {"category": "tool", "root_step": "tool-1"}},
        {"trace": native_invocation(ok), "label": {"category": None, "root_step": None}},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(line, default=str) for line in lines) + "\n")
    return path


def _responder(body):
    """Right about the false claim, an invented step for the lookup (twice: unusable), and no
    failure for the run that did not fail."""
    prompt = body["messages"][1]["content"]
    trace = re.search(r'^run "([^"]+)"', prompt, re.MULTILINE).group(1)
    if trace == "claims":
        return reply(answer("planning", "llm-2", [("llm-2", "Your order has shipped.")]),
                     usage=(2000, 100))
    if trace == "lookup":
        return reply(answer("tool", "tool-7", [("tool-1", "503 Service Unavailable")]),
                     usage=(2000, 100))
    return reply(answer("none", None, []), usage=(2000, 100))


@pytest.mark.django_db
def test_it_says_the_judge_is_not_configured_and_evaluates_nothing(tmp_path):
    out = StringIO()
    call_command("evaluate_classifier", str(_cases(tmp_path)), "--format", "labelled-jsonl",
                 "--judge", stdout=out)
    assert out.getvalue().startswith("the judge is not configured: set TRACEVIEW_JUDGE_URL")
    assert "cases:" not in out.getvalue()
    assert not Project.objects.exists()


@pytest.mark.django_db
def test_it_scores_the_judge_beside_the_rules(tmp_path, judge_on, stub):
    stub.responder = _responder
    out = StringIO()
    call_command("evaluate_classifier", str(_cases(tmp_path)), "--format", "labelled-jsonl",
                 "--judge", "--cases", stdout=out)
    text = out.getvalue()
    rules, judge = text.split("judge: stub-judge-1, prompt judge-1\n")
    assert "cases: 3" in rules and "cases: 3" in judge
    # The judge: right on the claim and the success, no usable answer on the lookup.
    assert "category accuracy: 66.7 %" in judge
    assert "root-step accuracy: 50.0 % over 2 cases" in judge
    assert "unusable" in judge.split("confusion matrix")[1]
    assert "judge verdicts: done 2, unusable 1, skipped 0, failed 0; answers retried after " \
           "failing the checks: 1" in judge
    # Four calls (the lookup's answer was retried), 2,000 + 100 tokens each, at $2 and $10 a
    # million: $0.005 a call.
    assert "judge calls: 4; tokens: 8000 prompt + 400 answer (2800 a case)" in judge
    assert "judge cost: $0.0200 ($0.0067 a case)" in judge
    assert "; judge planning at llm-2" in rules and "; judge unusable at None" in rules
    assert len(stub.requests) == 4
    # The scratch project and its verdicts are rolled back.
    assert not JudgeVerdict.objects.exists() and not Project.objects.exists()


@pytest.mark.django_db
def test_it_keeps_the_evaluation_within_its_cap(tmp_path, judge_on, stub):
    stub.responder = _responder
    out = StringIO()
    call_command("evaluate_classifier", str(_cases(tmp_path)), "--format", "labelled-jsonl",
                 "--judge", "--judge-cap-usd", "0.018", stdout=out)
    # A call's bound is about $0.016 (some 4,000 prompt bytes at $2, 800 answer tokens at $10
    # a million): the first fits; the $0.005 it cost leaves too little for another.
    assert "judge verdicts: done 1, unusable 0, skipped 2, failed 0" in out.getvalue()
    assert len(stub.requests) == 1
