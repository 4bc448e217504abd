"""Multi-agent chat logs: an orchestrator's own judgments of progress are evidence."""

import json

import pytest

from ingest.formats.trajectories import parse_messages
from traceview.classify.engine import classify

from .chatlogs import magentic_history, magentic_run


def _verdict(history, failed=True):
    [inv] = parse_messages({"history": history, "is_corrected": not failed})
    d = classify(inv)
    return d, {e.rule: e for e in d.evidence}


def stalled_detail(d):
    return next(e.detail for e in d.evidence if e.rule == "messages.orchestrator_stalled")


def test_it_roots_a_stall_at_the_turn_the_ledger_judged():
    d, evidence = _verdict(magentic_run()["history"])
    # The surfer the orchestrator called came back with the wrong report.
    assert (d.category, d.root_step) == ("tool", "msg-8")
    assert "did not deliver" in stalled_detail(d)
    stalled = evidence["messages.orchestrator_stalled"]
    # The evidence says which judgment matched and where it points.
    assert "msg-9" in stalled.detail and "is_progress_being_made: false" in stalled.detail
    assert "WebSurfer" in stalled.detail


def test_it_roots_a_loop_at_the_answer_to_the_first_repeated_instruction():
    d, evidence = _verdict(magentic_history(loop=True))
    assert (d.category, d.root_step) == ("planning", "msg-4")
    assert "is_in_loop: true" in evidence["messages.orchestrator_stalled"].detail


def test_it_reads_replanning_as_a_stall():
    history = magentic_history(stall=False)
    history[9] = {"role": "Orchestrator (thought)",
                  "content": "We are stuck. Replanning...\nNew plan: look in the press archive."}
    d, evidence = _verdict(history)
    assert (d.category, d.root_step) == ("tool", "msg-8")
    assert "replanning" in evidence["messages.orchestrator_stalled"].detail


def test_it_reads_a_supervisor_that_routes_with_json_objects():
    history = [
        {"role": "user", "content": "Write a summary of the paper's results."},
        {"role": "supervisor", "content": json.dumps({"next": "researcher"})},
        {"role": "researcher", "content": "The paper reports 91 % accuracy on the test set."},
        {"role": "supervisor", "content": json.dumps({
            "progress_made": {"answer": "no", "reason": "researcher quoted the abstract only"},
            "next": {"answer": "writer"}})},
        {"role": "writer", "content": "Summary: the method reaches 91 % accuracy."},
    ]
    d, evidence = _verdict(history)
    assert (d.category, d.root_step) == ("tool", "msg-2")
    assert "progress_made: no" in evidence["messages.orchestrator_stalled"].detail


def test_without_a_stall_the_first_contribution_skips_the_orchestrators_judgments():
    d, evidence = _verdict(magentic_history(stall=False))
    assert "messages.orchestrator_stalled" not in evidence
    # Plans, ledgers and routing are the orchestrator's, not contributions: the first worker
    # turn is.
    assert (d.category, d.root_step) == ("planning", "msg-4")


def test_a_ledger_is_no_failure_on_its_own():
    d, _ = _verdict(magentic_history(), failed=False)
    assert d.category is None


def test_json_data_in_a_turn_is_not_a_ledger():
    history = [
        {"role": "user", "content": "List the open orders."},
        {"role": "assistant", "name": "planner", "content": "Ask the database agent."},
        {"role": "user", "name": "db_agent", "content": json.dumps(
            {"orders": [1, 2], "done": True, "complete": False})},
        {"role": "user", "name": "writer", "content": "There are two open orders."},
    ]
    d, evidence = _verdict(history)
    assert "messages.orchestrator_stalled" not in evidence
    assert d.root_step == "msg-1"


@pytest.mark.parametrize("said, category", [
    ("I clicked 'Annual report'. The page says: 403 Forbidden.", "tool"),
    ("Navigation failed: the page load timed out after 30 s.", "tool"),
    ("Error: the PDF viewer crashed.", "tool"),
    ("The page is too long: maximum context length is 128000 tokens.", "context"),
])
def test_a_worker_turn_whose_tool_failed_is_rooted_by_what_failed(said, category):
    history = magentic_history()
    history[8] = {"role": "WebSurfer", "content": said}
    d, evidence = _verdict(history)
    assert (d.category, d.root_step) == (category, "msg-8")
    assert ("tool failing" if category == "tool" else "context overflowing") in evidence[
        "messages.orchestrator_stalled"].detail


def test_an_orchestrators_repeated_routing_is_no_loop_of_its_own():
    history = magentic_history()
    # Magentic-One says "Next speaker X" before every turn: bookkeeping, not a repeated turn.
    for at in (3, 6):
        history.insert(at, {"role": "Orchestrator (thought)", "content": "Next speaker WebSurfer"})
    d, evidence = _verdict(history)
    assert (d.category, d.root_step) == ("tool", "msg-10")
    assert evidence["messages.orchestrator_stalled"].step == "msg-10"
    assert "planning.no_progress" not in evidence


def test_the_same_instruction_again_and_again_is_still_a_loop():
    history = magentic_history(stall=False)[:4]
    for _ in range(3):
        history += [{"role": "Orchestrator (-> WebSurfer)", "content": "Search for the 2019 "
                     "annual report of the museum, please."},
                    {"role": "WebSurfer", "content": "I typed 'museum report 2019'. Results "
                     "about the shop."}]
    d, evidence = _verdict(history)
    assert d.category == "planning" and "planning.no_progress" in evidence
