"""The evaluation and reclassification commands, on the database."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ingest.management.commands.bench_classify import backend_schedstat_path
from ingest.store import invocations_store
from traceview.classify.diagnosis import invocation_classify
from traceview.classify.engine import RULESET_VERSION
from traceview.models import Diagnosis, Invocation, Project

from .builders import Run
from .generator import generate
from .wire import to_native, to_openai_agents, to_otlp_genai

REPO = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("TRACEVIEW_DATASETS", REPO.parent / "shared" / "datasets"))


def _failed_tool_run(trace_id: str):
    run = Run(status="error")
    run.inv.trace_id = trace_id
    run.llm()
    bad = run.tool("lookup_order", {"id": 7}, None, status="error", error_type="HTTPError",
                   error_message="503 Service Unavailable", agent_name="agent")
    return run.inv, bad


def _line(trace, category, root=None, **label):
    return json.dumps({"trace": trace, "label": {"category": category, "root_step": root,
                                                 **label}}, default=str)


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_evaluates_a_labelled_jsonl_file_in_a_scratch_project(tmp_path):
    inv, bad = _failed_tool_run("jsonl-1")
    native = to_native(inv)[0]["invocations"][0]
    ok = Run(status="ok")
    ok.inv.trace_id = "jsonl-2"
    ok.llm("All done, the order shipped.")
    loop = next(c for c in generate(seed=2, per_signal=1) if c.signal == "planning_loop_ok")
    otlp, ids = to_otlp_genai(loop.invocation)
    agents, agent_ids = to_openai_agents(inv)
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join([
        _line(native, "tool", bad, agent="agent"),
        _line(to_native(ok.inv)[0]["invocations"][0], None),
        _line({"format": "otlp-json", "body": otlp}, "planning", ids[loop.root_step]),
        # Labelled wrong on purpose: the report must count it as a miss.
        _line({"format": "openai-agents", "body": agents}, "budget", agent_ids[bad]),
    ]) + "\n")

    out = _run("evaluate_classifier", str(path), "--format", "labelled-jsonl", "--cases",
               "--project", "eval-test")

    assert "cases: 4" in out
    assert "category accuracy: 75.0 %" in out
    assert "root-step accuracy: 100.0 % over 3 cases" in out
    assert "agent accuracy: 100.0 % over 1 cases" in out
    assert f"cases.jsonl:4: expected budget at {agent_ids[bad]}; got tool at" in out
    assert not Project.objects.filter(name="eval-test").exists()


@pytest.mark.django_db
def test_it_keeps_the_scratch_project_when_asked(tmp_path):
    inv, bad = _failed_tool_run("keep-1")
    path = tmp_path / "one.jsonl"
    path.write_text(_line(to_native(inv)[0]["invocations"][0], "tool", bad) + "\n")

    out = _run("evaluate_classifier", str(path), "--format", "labelled-jsonl", "--keep",
               "--project", "kept")

    assert "macro-F1: 1.000" in out
    stored = Invocation.objects.get(project__name="kept", trace_id="keep-1")
    assert stored.diagnosis.category == "tool"
    assert stored.diagnosis.root_span_id == bad


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fmt, folder, floors",
    [
        # Floors a little under what the rules reach today: a regression guard, not a target.
        ("who-and-when", "who_and_when", {"root-step accuracy": 30, "agent accuracy": 45}),
        ("agentrx", "agentrx_tau", {"category accuracy": 45, "root-step accuracy": 15}),
        ("bioagent", "bioagent_error_examples", {"category accuracy": 20}),
    ],
)
def test_it_evaluates_the_public_datasets(fmt, folder, floors):
    path = DATASETS / folder
    if not path.is_dir():
        pytest.skip(f"dataset folder {path} is absent (set TRACEVIEW_DATASETS)")

    out = _run("evaluate_classifier", str(path), "--format", fmt)

    # The tuning part, the untouched part, then all cases, each with its baselines.
    heads = [x for x in out.splitlines() if x.startswith(f"{fmt}: ")]
    assert [h.rsplit(" ", 1)[-1] for h in heads] == ["[tuning]", "[holdout]", "[all]"], out
    for name, floor in floors.items():
        lines = [x for x in out.splitlines() if x.startswith(name + ":")]
        assert len(lines) == 3 and all("(" in x for x in lines), out
        assert float(lines[-1].split(":")[1].split("%")[0]) >= floor, out
    assert not Project.objects.filter(name__startswith=f"eval-{fmt}").exists()


@pytest.mark.django_db
def test_it_reclassifies_stored_invocations_with_the_current_rules():
    project = Project.objects.create(name="p1")
    other = Project.objects.create(name="p2")
    inv, bad = _failed_tool_run("re-1")
    invocations_store(project, [inv])
    invocations_store(other, [_failed_tool_run("re-2")[0]])
    row = Invocation.objects.get(project=project)
    invocation_classify(row.id)
    # As an older ruleset left it.
    Diagnosis.objects.filter(invocation=row).update(category="budget", root_span_id="s0",
                                                    ruleset="0.0.1")
    Invocation.objects.filter(id=row.id).update(category="budget")

    out = _run("reclassify", "--project", "p1")

    d = Diagnosis.objects.get(invocation=row)
    assert (d.category, d.root_span_id, d.ruleset) == ("tool", bad, RULESET_VERSION)
    assert Invocation.objects.get(id=row.id).category == "tool"
    assert "reclassified 1 invocations" in out and "tool 1" in out
    assert "changed: 1" in out
    assert not Diagnosis.objects.filter(invocation__project=other).exists()
    assert "changed: 0" in _run("reclassify", "--project", "p1")
    assert "reclassified 0 invocations" in _run("reclassify", "--since", "2999-01-01")


@pytest.mark.django_db
def test_it_evaluates_hand_crafted_runs_with_agentrx_labels_of_them(tmp_path):
    from .chatlogs import magentic_run

    runs = tmp_path / "hand_crafted"
    runs.mkdir()
    truth = []
    for n in range(1, 9):
        (runs / f"{n}.json").write_text(json.dumps(magentic_run(loop=n % 2 == 0)))
        truth.append({"trajectory_id": n, "root_cause": {"failure_id": 1}, "failures": [
            {"failure_id": 1, "step_number": 9, "failed_agent": "WebSurfer",
             "failure_category": "Intent Plan Misalignment" if n < 7 else "Invalid Invocation"}]})
    labels = tmp_path / "labels" / "magentic_ground_truth.json"
    labels.parent.mkdir()
    labels.write_text(json.dumps(truth))

    by_step = _run("evaluate_classifier", str(runs), "--format", "who-and-when")
    by_category = _run("evaluate_classifier", str(runs), "--format", "agentrx",
                       "--labels", str(labels))

    # Who&When's labels: step 8 of each run; the stalls (odd runs) are rooted there.
    assert "root-step accuracy: 50.0 % over 8 cases" in by_step.split("[all]")[1]
    assert "agent accuracy: 100.0 % over 8 cases" in by_step.split("[all]")[1]
    # AgentRx's: planning for 1-6, tool for 7-8; the rules say planning for all (a worker's
    # wrong report with its browser working, a loop): 1 to 6.
    assert "category accuracy: 75.0 %" in by_category.split("[all]")[1]


@pytest.mark.django_db
def test_it_evaluates_one_batch_of_the_recorded_corpus(tmp_path):
    # Two scenarios of the recorded corpus, the second relabelled into a batch of its own.
    import shutil

    recorded = REPO / "tests" / "classify" / "recorded" / "tuning"
    labels = json.loads((recorded / "labels.json").read_text())
    first, second = "retail-order-status-plain", "travel-hotels-found-but-gave-up"
    (tmp_path / "tuning").mkdir()
    for key in (first, second):
        shutil.copytree(recorded / key, tmp_path / "tuning" / key)
    (tmp_path / "tuning" / "labels.json").write_text(json.dumps({
        first: labels[first], second: {**labels[second], "batch": "later"}}))

    everything = _run("evaluate_classifier", str(tmp_path), "--format", "recorded", "--cases")
    later = _run("evaluate_classifier", str(tmp_path), "--format", "recorded", "--cases",
                 "--batch", "later")
    base = _run("evaluate_classifier", str(tmp_path), "--format", "recorded", "--cases",
                "--batch", "base")

    routes = (len(labels[first]["routes"]), len(labels[second]["routes"]))
    assert f"cases: {sum(routes)}" in everything
    assert f"cases: {routes[1]}" in later and first not in later and second in later
    assert "[tuning] (batch later)" in later
    assert f"cases: {routes[0]}" in base and second not in base
    both = _run("evaluate_classifier", str(tmp_path), "--format", "recorded", "--batch", "base",
                "later")
    assert f"cases: {sum(routes)}" in both and "(batch base, later)" in both
    with pytest.raises(CommandError, match="no labelled traces"):
        _run("evaluate_classifier", str(tmp_path), "--format", "recorded", "--batch", "none")


@pytest.mark.django_db(transaction=True)
def test_it_benchmarks_the_stored_path_and_leaves_nothing_behind():
    out = _run("bench_classify", "--steps", "8", "--n", "6", "--db-n", "4", "--batch", "2")
    assert "pure classify:" in out and "search document:" in out
    stored = [line for line in out.splitlines() if line.startswith("stored")]
    assert [line.split(":")[0] for line in stored] == [
        "stored, 1 invocation a task", "stored, 2 invocations a task",
        "stored again, 2 invocations a task"]
    assert all("ms CPU in this process" in line and "queries" in line for line in stored)
    if connection.vendor == "postgresql" and backend_schedstat_path():
        # The database's CPU, with the search document's write apart.
        assert all("search document write" in line for line in stored)
    assert not Project.objects.exists() and not Invocation.objects.exists()
