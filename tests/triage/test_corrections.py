"""Corrections: kept beside the machine's diagnosis, measured as agreement, exported as the
labelled JSONL that `evaluate_classifier --format labelled-jsonl` reads."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from traceview.classify.diagnosis import invocation_classify
from traceview.models import Correction, Diagnosis, Issue
from traceview.triage import services as triage

pytestmark = pytest.mark.django_db


def test_it_keeps_a_correction_beside_the_machine_diagnosis(fail, user):
    inv = fail("t1")
    machine = Diagnosis.objects.get(invocation=inv).as_dict()
    triage.invocation_correct(inv, user, "planning", "llm-1", note="it never planned a retry")
    # Reclassification replaces the diagnosis and leaves the correction alone.
    invocation_classify(inv.id)
    assert Diagnosis.objects.get(invocation=inv).as_dict()["category"] == machine["category"]
    correction = Correction.objects.get(invocation=inv)
    assert (correction.category, correction.root_span_id, correction.author) == (
        "planning", "llm-1", user
    )
    activity = Issue.objects.get().activities.get(kind="corrected")
    assert activity.data == {"invocation": inv.id, "category": "planning", "root_step": "llm-1"}


def test_it_rejects_a_correction_naming_an_unknown_category_or_step(fail, user):
    inv = fail("t1")
    with pytest.raises(ValueError):
        triage.invocation_correct(inv, user, "vibes")
    with pytest.raises(ValueError):
        triage.invocation_correct(inv, user, "tool", "no-such-step")
    assert not Correction.objects.exists()


def test_it_measures_agreement_per_category(project, fail, user):
    agree = fail("agree")  # tool at tool-1
    wrong_root = fail("wrong-root", tool="refund")
    wrong_category = fail("wrong-cat", tool="cancel")
    not_failure = fail("not-failure", tool="ship")
    triage.invocation_correct(agree, user, "tool", "tool-1")
    triage.invocation_correct(wrong_root, user, "tool", "llm-2")
    triage.invocation_correct(wrong_category, user, "planning", "llm-1")
    triage.invocation_correct(not_failure, user, "")
    rows, total = triage.corrections_agreement([project])
    by = {r.category: r for r in rows}
    assert (by["tool"].corrections, by["tool"].category_agrees) == (2, 2)
    assert (by["tool"].root_compared, by["tool"].root_agrees) == (2, 1)
    assert (by["planning"].corrections, by["planning"].category_agrees) == (1, 0)
    assert (by["none"].corrections, by["none"].category_agrees) == (1, 0)
    assert by["budget"].category_rate is None
    assert (total.corrections, total.category_agrees, total.category_rate) == (4, 2, 0.5)


def test_it_exports_corrections_as_labelled_jsonl(project, fail, user, tmp_path):
    labelled = pytest.importorskip("ingest.formats.labelled")
    inv = fail("t1", version="1.4.0")
    other = fail("t2", tool="refund")
    triage.invocation_correct(inv, user, "planning", "llm-1")
    triage.invocation_correct(other, user, "")
    lines = list(triage.corrections_export([project]))
    assert len(lines) == 2 and all(line.endswith("\n") for line in lines)
    first = json.loads(lines[0])
    assert first["label"] == {"category": "planning", "root_step": "llm-1"}
    trace = first["trace"]
    assert (trace["trace_id"], trace["agent_version"], trace["status"]) == ("t1", "1.4.0", "error")
    tool = next(s for s in trace["steps"] if s["span_id"] == "tool-1")
    assert tool["error"]["type"] == "HTTPError" and tool["tool"]["name"] == "lookup_order"
    path = tmp_path / "corrections.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    # The evaluation command's own reader takes it back with the same labels and steps.
    cases = labelled.labelled_jsonl(path)
    assert [(c.category, c.root_step, c.agent) for c in cases] == [
        ("planning", "llm-1", None), (None, None, None)
    ]
    assert [s.span_id for s in cases[0].invocation.steps] == ["root", "llm-1", "tool-1", "llm-2"]


def test_it_feeds_corrections_to_evaluate_classifier(project, fail, user, tmp_path):
    pytest.importorskip("ingest.management.commands.evaluate_classifier")
    inv = fail("t1")
    triage.invocation_correct(inv, user, "tool", "tool-1")
    path = tmp_path / "c.jsonl"
    path.write_text("".join(triage.corrections_export([project])), encoding="utf-8")
    out = StringIO()
    call_command("evaluate_classifier", str(path), "--format", "labelled-jsonl", "--cases",
                 stdout=out)
    assert "expected tool at tool-1; got tool at tool-1" in out.getvalue()


def test_it_labels_the_agent_that_ran_the_corrected_step(project, user):
    from tests.pages_data import store
    from tests.triage.data import tool_failure

    data = tool_failure("multi")
    for step in data.steps:
        step.agent_name = "researcher" if step.span_id == "llm-1" else "coordinator"
    inv = store(project, data)
    triage.invocation_correct(inv, user, "planning", "llm-1")
    (line,) = triage.corrections_export([project])
    assert json.loads(line)["label"]["agent"] == "researcher"
