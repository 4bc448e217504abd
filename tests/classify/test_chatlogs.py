"""Multi-agent chat logs: an orchestrator's own judgments of progress are evidence."""

import json

import pytest

from ingest.formats.trajectories import parse_messages
from traceview.classify.engine import classify

from .chatlogs import (
    MagenticLog,
    magentic_blocked,
    magentic_failed_script,
    magentic_history,
    magentic_run,
    magentic_stall_then_wrong_fact,
    magentic_wrong_fact,
    page,
)


def _verdict(history, failed=True):
    [inv] = parse_messages({"history": history, "is_corrected": not failed})
    d = classify(inv)
    return d, {e.rule: e for e in d.evidence}


def stalled_detail(d):
    return next(e.detail for e in d.evidence if e.rule == "messages.orchestrator_stalled")


def test_it_roots_a_stall_at_the_turn_the_ledger_judged():
    d, evidence = _verdict(magentic_run()["history"])
    # The surfer the orchestrator called came back with the wrong report; its browser worked,
    # so the worker chose or read wrong: planning (CLASSIFICATION.md, an agent's own decision).
    assert (d.category, d.root_step) == ("planning", "msg-8")
    assert "did not deliver, with no tool failure" in stalled_detail(d)
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
    assert (d.category, d.root_step) == ("planning", "msg-8")
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
    assert (d.category, d.root_step) == ("planning", "msg-2")
    assert "progress_made: no" in evidence["messages.orchestrator_stalled"].detail


def test_without_a_stall_the_answer_points_at_the_turn_that_first_said_it():
    d, evidence = _verdict(magentic_history(stall=False))
    assert "messages.orchestrator_stalled" not in evidence
    # FINAL ANSWER: 1.2 million, the 2018 figure the surfer read at 8.
    assert (d.category, d.root_step) == ("planning", "msg-8")
    assert "'1.2 million'" in evidence["messages.answer_source"].detail


def test_without_a_stall_or_an_answer_the_first_contribution_skips_the_orchestrators_judgments():
    d, evidence = _verdict(magentic_history(stall=False)[:-1])
    assert "messages.orchestrator_stalled" not in evidence
    assert "messages.answer_source" not in evidence
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
    assert (d.category, d.root_step) == ("planning", "msg-10")
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


# --- Magentic-One logs in the layout of Who&When's hand-crafted split ---------------------------


def _magentic(run):
    [inv] = parse_messages(run)
    d = classify(inv)
    return inv, d, {e.rule: e for e in d.evidence}


def test_it_roots_a_wrong_answer_at_the_turn_that_first_said_it():
    run, wrong = magentic_wrong_fact()
    inv, d, evidence = _magentic(run)
    assert inv.status == "error"
    # The surfer read 2018's figure; the assistant and the answer repeated it.
    assert (d.category, d.root_step) == ("planning", f"msg-{wrong}")
    assert next(s for s in inv.steps if s.span_id == d.root_step).agent_name == "WebSurfer"
    source = evidence["messages.answer_source"].detail
    assert "'1204000'" in source and "1,204,000" in source and "WebSurfer" in source


def test_without_a_final_answer_the_satisfied_ledger_says_what_the_answer_is():
    run, wrong = magentic_wrong_fact(answer_message=False)
    _, d, evidence = _magentic(run)
    assert (d.category, d.root_step) == ("planning", f"msg-{wrong}")
    assert "ledger judging the request satisfied" in evidence["messages.answer_source"].detail


def test_it_roots_a_blocked_site_at_the_first_blocked_turn_as_tool():
    run, blocked = magentic_blocked()
    _, d, evidence = _magentic(run)
    assert (d.category, d.root_step) == ("tool", f"msg-{blocked}")
    detail = evidence["messages.orchestrator_stalled"].detail
    assert "is_progress_being_made: false" in detail and "403 Forbidden" in detail


def test_it_roots_a_failed_script_at_the_turn_that_wrote_it_not_the_routing():
    run, script = magentic_failed_script()
    inv, d, evidence = _magentic(run)
    assert (d.category, d.root_step) == ("tool", f"msg-{script}")
    assert "exit code: 1" in evidence["messages.execution_error"].detail
    assert next(s for s in inv.steps if s.span_id == d.root_step).agent_name == "Assistant"


def test_a_stall_the_run_got_past_is_evidence_not_the_root():
    run, wrong = magentic_stall_then_wrong_fact()
    _, d, evidence = _magentic(run)
    assert (d.category, d.root_step) == ("planning", f"msg-{wrong}")
    stalled = evidence["messages.orchestrator_stalled"]
    assert stalled.step != d.root_step and "got past" in stalled.detail


def test_a_script_fixed_by_a_later_run_is_the_approach_not_the_executor():
    history = [
        {"role": "user", "content": "Count the words of notes.txt."},
        {"role": "assistant", "name": "Coder", "content": "```python\nprint(len(open("
         "'notes.txt').read().split())\n```"},
        {"role": "user", "name": "Computer_terminal", "content": "exitcode: 1 (execution "
         "failed)\nCode output: FileNotFoundError: notes.txt"},
        {"role": "assistant", "name": "Coder", "content": "```python\nprint(120)\n```"},
        {"role": "user", "name": "Computer_terminal", "content": "exitcode: 0 (execution "
         "succeeded)\nCode output: 120"},
        {"role": "assistant", "name": "Coder", "content": "The count is 120. TERMINATE"},
    ]
    d, evidence = _verdict(history)
    # The executor worked; the approach that failed first is where the run went astray.
    assert (d.category, d.root_step) == ("planning", "msg-1")
    assert "a later run succeeded" in evidence["messages.execution_error"].detail


@pytest.mark.parametrize("flags, status", [
    ({"is_corrected": False}, "error"),
    # Not a statement that the run succeeded; the labels say it failed.
    ({"is_corrected": True, "mistake_agent": "WebSurfer", "mistake_step": "5"}, "error"),
    ({"is_corrected": True}, None),
    ({"is_correct": True}, "ok"),
    ({"is_correct": "False"}, "error"),
])
def test_a_labelled_run_that_failed_is_never_read_as_a_success(flags, status):
    run, _ = magentic_wrong_fact()
    run = {k: v for k, v in run.items() if k not in ("is_corrected", "is_correct")}
    [inv] = parse_messages({**run, **flags})
    assert inv.status == status
    d = classify(inv)
    assert (d.category is not None) == (status == "error")
    assert "mistake_step" not in (inv.attributes or {})


def test_it_reads_the_roles_and_the_ledger_of_a_hand_crafted_run():
    run, _ = magentic_blocked()
    [inv] = parse_messages(run)
    speakers = {s.agent_name for s in inv.steps}
    assert {"Orchestrator", "WebSurfer", "user"} <= speakers
    assert all(s.kind != "tool" for s in inv.steps)  # no executor spoke in this run
    channels = {(s.attributes or {}).get("channel") for s in inv.steps}
    assert {"thought", "-> WebSurfer", "termination condition", "final answer"} <= channels


def test_an_opening_turn_that_carries_its_own_code_is_the_first_contribution():
    history = [
        {"role": "assistant", "name": "Excel_Expert", "content": "## Task\nCount the clients "
         "with even street numbers.\n## Plan\n1. Load the sheet. 2. Count.\n```python\n"
         "import pandas as pd\nprint(pd.read_excel('c.xlsx')['No'].mod(2).eq(0).sum())\n```"},
        {"role": "user", "name": "Computer_terminal", "content": "exitcode: 0 (execution "
         "succeeded)\nCode output: 4"},
        {"role": "user", "name": "Verification_Expert", "content": "The script ran and counted "
         "the even numbers, so the answer holds. TERMINATE"},
    ]
    d, evidence = _verdict(history)
    assert (d.root_step, evidence["messages.first_contribution"].step) == ("msg-0", "msg-0")
    # Without work of its own the opening is the task statement alone.
    history[0]["content"] = "## Task\nCount the clients with even street numbers."
    assert _verdict(history)[0].root_step == "msg-2"


def test_a_bare_figure_counts_where_it_is_said_about_the_task():
    log = MagenticLog("How many galleries does the Lakeside Museum have?")
    log.turn("WebSurfer", "Search for the museum's floor plan.", page(
        "I typed 'Lakeside floor plan' into the browser search bar.", "Search",
        "Showing 12 results. Sponsored: garden furniture sets from $99."))
    said = log.turn("WebSurfer", "Open the museum's visitor guide.", page(
        "I clicked 'Visitor guide'.", "Visitor guide", "The Lakeside Museum has 12 galleries "
        "on two floors."))
    _, d, evidence = _magentic(log.finish("12"))
    assert (d.category, d.root_step) == ("planning", f"msg-{said}")
    assert "'12'" in evidence["messages.answer_source"].detail


def test_an_answer_whose_figure_nobody_reported_is_the_mistake():
    log = MagenticLog("How many seats does the Harwick town hall have?")
    log.turn("WebSurfer", "Find the town hall's page.", page(
        "I typed 'Harwick town hall seats' into the browser search bar.", "Search",
        "Harwick town hall - weddings and events. Book a tour of the town hall."))
    run = log.finish("3,450")
    inv, d, evidence = _magentic(run)
    answer = f"msg-{len(run['history']) - 1}"
    # A figure no page, turn or execution gave: the orchestrator's answer made it up.
    assert (d.category, d.root_step) == ("planning", answer)
    assert "'3,450', a figure no turn" in evidence["messages.answer_source"].detail
    assert next(s for s in inv.steps if s.span_id == answer).agent_name == "Orchestrator"
    # An answer that gives up states no figure: that is not judged here.
    run["history"][-1]["content"] = "FINAL ANSWER: Unable to determine"
    assert "messages.answer_source" not in _magentic(run)[2]
