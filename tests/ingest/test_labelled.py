"""Labelled public datasets as published: Who&When (both splits) and AgentRx's labels."""

import json

import pytest

from ingest.formats.errors import FormatError
from ingest.formats.labelled import dataset_part, load_labelled
from ingest.formats.trajectories import detect_format, parse_messages
from tests.classify.chatlogs import magentic_run
from traceview.classify.metrics import OTHER


def test_it_reads_a_hand_crafted_who_and_when_run_with_speakers_in_role():
    run = magentic_run()
    assert detect_format("1.json", run) == "messages"
    [inv] = parse_messages(run, trace_id="hc-1")
    steps = {s.span_id: s for s in inv.steps}
    assert len(steps) == len(run["history"])
    assert (steps["msg-0"].kind, steps["msg-0"].agent_name) == ("other", "user")
    assert inv.input == run["history"][0]["content"]
    plan = steps["msg-1"]
    assert (plan.kind, plan.agent_name) == ("llm", "Orchestrator")
    assert plan.attributes["role"] == "Orchestrator (thought)"
    assert plan.attributes["channel"] == "thought"
    assert steps["msg-3"].attributes["channel"] == "-> WebSurfer"
    assert (steps["msg-8"].kind, steps["msg-8"].agent_name) == ("llm", "WebSurfer")
    # The mistake step names the labelled agent's turn, as in the algorithm-generated split.
    assert steps[f"msg-{run['mistake_step']}"].agent_name == run["mistake_agent"]
    assert (inv.status, inv.attributes["is_corrected"]) == ("error", False)
    assert "mistake_step" not in inv.attributes


def test_it_reads_an_executor_speaker_as_execution_results():
    [inv] = parse_messages({"history": [
        {"role": "human", "content": "Sum the column."},
        {"role": "Coder", "content": "```python\nprint(sum(x))\n```"},
        {"role": "ComputerTerminal", "content": "The script ran, then exited with an error "
         "(POSIX exit code: 1)\nIts output was:\nNameError: name 'x' is not defined"},
    ]})
    terminal = inv.steps[-1]
    assert (terminal.kind, terminal.tool_name, terminal.agent_name) == (
        "tool", "code_execution", "ComputerTerminal")
    assert "NameError" in terminal.tool_result


def test_it_reads_both_who_and_when_splits_as_failures(tmp_path):
    algorithm = tmp_path / "algorithm_generated"
    hand = tmp_path / "hand_crafted"
    algorithm.mkdir()
    hand.mkdir()
    (algorithm / "1.json").write_text(json.dumps({
        "is_correct": False, "question": "q", "ground_truth": "8", "mistake_step": "1",
        "mistake_agent": "B", "mistake_reason": "r",
        "history": [{"role": "assistant", "name": "A", "content": "plan"},
                    {"role": "user", "name": "B", "content": "I think 4"}]}))
    # Flagged as corrected or not, a run in the dataset is a failure it labels.
    (hand / "1.json").write_text(json.dumps({**magentic_run(), "is_corrected": True}))
    (tmp_path / "SOURCE.txt").write_text("not a run")

    cases = {c.key: c for c in load_labelled("who-and-when", tmp_path)}

    assert set(cases) == {"algorithm_generated/1.json", "hand_crafted/1.json"}
    hc = cases["hand_crafted/1.json"]
    assert (hc.root_step, hc.agent, hc.invocation.status) == ("msg-8", "WebSurfer", "error")
    assert cases["algorithm_generated/1.json"].invocation.status == "error"
    assert len({c.invocation.trace_id for c in cases.values()}) == 2


def _agentrx_truth(trajectory_id, step=9, category="Misinterpretation of Tool Output"):
    return {"trajectory_id": trajectory_id, "failures": [
        {"failure_id": 1, "step_number": 2, "failure_category": "Intent Plan Misalignment",
         "failed_agent": "Orchestrator"},
        {"failure_id": 2, "step_number": step, "failure_category": category,
         "failed_agent": "WebSurfer"}],
        "root_cause": {"failure_id": 2, "reason_for_root_cause": "wrong report"}}


def test_it_reads_agentrx_labels_of_who_and_when_runs(tmp_path):
    runs = tmp_path / "hand_crafted"
    runs.mkdir()
    (runs / "7.json").write_text(json.dumps(magentic_run()))
    (runs / "8.json").write_text(json.dumps(magentic_run()))
    labels = tmp_path / "magentic_ground_truth.json"
    labels.write_text(json.dumps([_agentrx_truth(7), _agentrx_truth("nope")]))

    [case] = load_labelled("agentrx", tmp_path)

    assert case.key == "trajectory 7"
    # The root cause's 1-based step 9 is the 0-based message 8; a misread tool output is the
    # agent's own decision (planning, CLASSIFICATION.md).
    assert (case.category, case.root_step, case.agent) == ("planning", "msg-8", "WebSurfer")
    assert case.source_label == "Misinterpretation of Tool Output"
    assert case.invocation.status == "error"
    # The same labels named from elsewhere, over the runs' folder alone.
    [again] = load_labelled("agentrx", runs, labels=labels)
    assert (again.category, again.root_step) == ("planning", "msg-8")


def test_it_matches_agentrx_records_by_the_runs_id_fields(tmp_path):
    (tmp_path / "runs.json").write_text(json.dumps([
        {"task_id": 3, "reward": 0.0, "traj": [
            {"role": "user", "content": "refund my order"},
            {"role": "assistant", "content": "Done, refunded."}]}]))
    (tmp_path / "tau_ground_truth.json").write_text(json.dumps(
        {"3": {**_agentrx_truth(None, step=2, category="Invention of New Information")}}))

    [case] = load_labelled("agentrx", tmp_path)

    # "WebSurfer" speaks nowhere in this run, so the agent label cannot be scored. An invented
    # figure is a claim the trace does not support: planning.
    assert (case.category, case.root_step, case.agent) == ("planning", "msg-1", None)
    with pytest.raises(FormatError):
        load_labelled("bioagent", tmp_path, labels=tmp_path / "tau_ground_truth.json")


@pytest.mark.parametrize("label, category", [
    # A tool failed or rejected the call (CLASSIFICATION.md rule 3).
    ("Invalid Invocation", "tool"),
    ("System Failure", "tool"),
    ("Guardrails Triggered", "tool"),
    # The agent's own decision (rule 4), in each spelling AgentRx publishes.
    ("Misinterpretation of Tool Output", "planning"),
    ("Misinterpretation of Tool Output / Handoff Failure", "planning"),
    ("Invention of New Information", "planning"),
    ("Instruction/Plan Adherence Failure", "planning"),
    ("Instruction Adherence Failure", "planning"),
    ("Intent-Plan Misalignment", "planning"),
    ("Intent Plan Misalignment", "planning"),
    ("Intent Not Supported", "planning"),
    # Outside our four.
    ("Underspecified User Intent", OTHER),
    ("Inconclusive (USE SPARINGLY)", OTHER),
])
def test_it_maps_agentrx_categories_as_classification_md_defines_ours(tmp_path, label,
                                                                      category):
    (tmp_path / "runs.json").write_text(json.dumps([{"task_id": 1, "traj": [
        {"role": "user", "content": "refund my order"},
        {"role": "assistant", "content": "Done."}]}]))
    (tmp_path / "tau_ground_truth.json").write_text(json.dumps(
        [_agentrx_truth(1, step=2, category=label)]))
    [case] = load_labelled("agentrx", tmp_path)
    assert (case.category, case.source_label) == (category, label)


def test_it_splits_datasets_the_same_way_every_time():
    keys = [f"algorithm_generated/{n}.json" for n in range(300)]
    parts = [dataset_part(k) for k in keys]
    assert parts == [dataset_part(k) for k in reversed(keys)][::-1]
    assert 0.25 < parts.count("holdout") / len(parts) < 0.42
    assert dataset_part("a", seed="1") != dataset_part("a", seed="2") or dataset_part(
        "b", seed="1") != dataset_part("b", seed="2") or dataset_part(
        "c", seed="1") != dataset_part("c", seed="2")
