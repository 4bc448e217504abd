"""Trajectory files (SWE-agent, OpenHands, message logs) -> canonical trace; format detection."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.formats.errors import FormatError
from ingest.formats.trajectories import (
    detect_format,
    parse_messages,
    parse_openhands,
    parse_swe_agent,
    parse_trace_data,
    read_trace_file,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES", REPO.parent / "shared" / "fixtures"))
DATASETS = Path(os.environ.get("TRACEVIEW_DATASETS", REPO.parent / "shared" / "datasets"))


def fixture(*parts: str) -> Path:
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture not found at {path} (set TRACEVIEW_FIXTURES)")
    return path


def traj(*entries, exit_status="submitted", **extra):
    return {"trajectory": list(entries), "info": {"exit_status": exit_status, "model_stats": {
        "instance_cost": 0.5, "tokens_sent": 100, "tokens_received": 10, "api_calls": 2}},
        **extra}


def entry(action, observation="", thought="think"):
    return {"thought": thought, "response": f"{thought}\n```{action}```", "action": action,
            "observation": observation, "state": "{}"}


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("parts", "expected"), [
    (("swe-agent", "pydicom__pydicom-1458.traj.json"), "swe-agent"),
    (("openhands", "basic.json"), "openhands"),
    (("openhands", "multi_swe_bench_output.jsonl"), "openhands"),
    (("otlp-proto-examples", "trace.json"), "otlp-json"),
    (("generated-openai-agents-native", "001_openai_agents_ingest.json"), "openai-agents"),
    (("generated-langfuse-v2-ingestion", "001_langfuse_ingestion.json"), "langfuse"),
    (("langfuse-framework-traces", "koog-2025-08-26.trace.json"), "langfuse"),
])
def test_it_detects_the_format_of_each_fixture(parts, expected):
    path = fixture(*parts)
    assert detect_format(path, read_trace_file(path)) == expected


def test_it_detects_message_logs_and_refuses_the_unknown():
    assert detect_format("a.json", [{"role": "user", "content": "hi"}]) == "messages"
    assert detect_format("a.json", {"messages": [{"role": "user"}]}) == "messages"
    assert detect_format("a.json", {"history": [{"role": "user", "name": "x"}]}) == "messages"
    assert detect_format("a.json", [{"traj": [{"role": "user"}]}]) == "messages"
    assert detect_format("x.traj", {"trajectory": []}) == "swe-agent"
    with pytest.raises(FormatError) as exc:
        detect_format("a.json", {"hello": 1})
    assert "unrecognised" in exc.value.errors[0]["reason"]


# --- SWE-agent ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "pydicom__pydicom-1458.traj.json",
    "6e44b9__sweagenttestrepo-1c2844.traj.json",
    "marshmallow-1867.function_calling_replace.traj.json",
])
def test_it_maps_each_swe_agent_fixture(name):
    data = json.loads(fixture("swe-agent", name).read_text())
    [inv] = parse_swe_agent(data)
    entries = data["trajectory"]
    steps = inv.ordered_steps()
    assert [s.kind for s in steps] == ["llm", "tool"] * len(entries)
    assert [s.tool_name for s in steps[1::2]] == [e["action"].split()[0] for e in entries]
    assert [s.tool_result for s in steps[1::2]] == [e["observation"] for e in entries]
    # Tracebacks sit in observations; only the classifier may call them failures.
    assert all(s.status == "ok" for s in steps)
    assert (inv.status, inv.attributes["exit_status"]) == ("ok", "submitted")
    stats = data["info"]["model_stats"]
    assert inv.input_tokens == stats["tokens_sent"]
    assert inv.output_tokens == stats["tokens_received"]
    assert float(inv.cost_usd) == pytest.approx(stats["instance_cost"])
    assert all(s.input_tokens is None for s in steps)
    assert steps[0].input, "the first llm step shows the prompt from history"
    assert "issue" in str(inv.input).lower()


def test_it_fails_a_swe_agent_run_that_did_not_submit():
    [inv] = parse_swe_agent(traj(entry("ls -la", "a b"), entry("cat x", "Traceback ..."),
                                 exit_status="exit_cost"))
    assert (inv.status, inv.attributes["exit_status"]) == ("error", "exit_cost")
    last = inv.ordered_steps()[-1]
    assert (last.span_id, last.kind, last.name, last.status) == (
        "exit", "other", "exit_cost", "error")
    assert last.error_type == "exit_cost" and "exit_cost" in last.error_message
    assert [s.span_id for s in inv.ordered_steps()] == [
        "llm-0", "tool-0", "llm-1", "tool-1", "exit"]
    tool = inv.steps[1]
    assert (tool.tool_name, tool.tool_arguments) == ("ls", "ls -la")


def test_it_uses_the_history_for_what_the_model_saw():
    history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "issue"},
               {"role": "assistant", "content": "a", "action": "ls", "agent": "main",
                "tool_calls": [{"id": "call_1", "function": {"name": "bash"}}]},
               {"role": "user", "content": "out"},
               {"role": "assistant", "content": "b", "action": "submit", "agent": "main"}]
    [inv] = parse_swe_agent(traj(entry("ls"), entry("submit"), history=history))
    llm0, tool0, llm1, _ = inv.steps
    assert [m["content"] for m in llm0.input] == ["sys", "issue"]
    assert [m["content"] for m in llm1.input] == ["out"]
    assert (llm0.agent_name, tool0.tool_call_id, inv.input) == ("main", "call_1", "issue")


def test_it_gives_a_stable_trace_id_unless_one_is_given():
    data = traj(entry("ls"))
    copy = json.loads(json.dumps(data))
    assert parse_swe_agent(data)[0].trace_id == parse_swe_agent(copy)[0].trace_id
    assert parse_swe_agent(traj(entry("pwd")))[0].trace_id != parse_swe_agent(data)[0].trace_id
    assert parse_swe_agent(data, trace_id="run-7")[0].trace_id == "run-7"


def test_it_names_the_bad_part_of_a_traj_file():
    with pytest.raises(FormatError) as exc:
        parse_swe_agent({"trajectory": {}})
    assert exc.value.errors[0]["path"] == "trajectory"
    with pytest.raises(FormatError) as exc:
        parse_swe_agent({"trajectory": [entry("ls"), "oops"]})
    assert exc.value.errors[0]["path"] == "trajectory[1]"


# --- OpenHands ---------------------------------------------------------------------------------


def test_it_pairs_openhands_actions_with_their_observations():
    events = json.loads(fixture("openhands", "wrong_initial_state.json").read_text())
    [inv] = parse_openhands(events)
    steps = {s.span_id: s for s in inv.steps}
    run = steps["event-5"]
    assert (run.kind, run.tool_name, run.tool_arguments["command"]) == (
        "tool", "execute_bash", "mv /workspace/game_2048.py /workspace/2048.py")
    assert run.tool_call_id == "toolu_01PuY3mXrE6fm3j52GscR4rj"
    # The observation (id 6, cause 5) ends the step; naive timestamps are read as UTC.
    assert run.started_at == datetime(2025, 1, 27, 23, 16, 56, 951967, tzinfo=UTC)
    assert run.ended_at == datetime(2025, 1, 27, 23, 16, 57, 600730, tzinfo=UTC)
    assert run.status == "ok" and run.attributes["extras"]["metadata"]["exit_code"] == 0
    assert "event-6" not in steps  # no step of its own for an observation that has its action
    assert (inv.status, inv.input) == ("ok", "Please rename game_2048.py to 2048.py")
    llm = [s for s in inv.steps if s.kind == "llm"]
    assert len(llm) == 4 and all(s.input_tokens and s.model for s in llm)
    kinds = [s.kind for s in inv.ordered_steps()]
    assert kinds == ["other", "llm", "tool", "llm", "tool", "llm", "tool", "llm", "tool"]


def test_it_maps_the_openhands_evaluation_records():
    records = read_trace_file(fixture("openhands", "multi_swe_bench_output.jsonl"))
    invocations = parse_openhands(records)
    assert [i.name for i in invocations] == [r["instance_id"] for r in records]
    assert len({i.trace_id for i in invocations}) == 3
    for inv, record in zip(invocations, records, strict=True):
        usage = record["metrics"]["accumulated_token_usage"]
        llm = [s for s in inv.steps if s.kind == "llm"]
        assert sum(s.input_tokens for s in llm) == usage["prompt_tokens"] == inv.input_tokens
        assert sum(s.output_tokens for s in llm) == usage["completion_tokens"]
        assert len(llm) == len(record["metrics"]["token_usages"])
    ok, with_error, maxed = invocations
    assert ok.status == "ok" and not [s for s in ok.steps if s.status == "error"]
    [bad_call] = [s for s in with_error.steps if s.status == "error"]
    assert (bad_call.span_id, bad_call.kind, bad_call.error_type) == (
        "event-29", "tool", "ErrorObservation")
    assert "Parameter 'command'" in bad_call.error_message
    assert with_error.status == "ok"
    assert maxed.status == "error"
    last = maxed.ordered_steps()[-1]
    assert (last.span_id, last.error_type) == ("run-error", "RuntimeError")
    assert "maximum iteration" in last.error_message


def test_it_reads_an_error_observation_linked_to_its_action():
    events = [
        {"id": 1, "timestamp": "2025-01-01T00:00:00", "source": "agent", "action": "run",
         "args": {"command": "ls", "thought": "look"}},
        {"id": 2, "timestamp": "2025-01-01T00:00:01", "source": "agent", "observation": "error",
         "cause": 1, "content": "boom"},
        {"id": 3, "timestamp": "2025-01-01T00:00:02", "source": "environment",
         "observation": "agent_state_changed", "extras": {"agent_state": "error"}},
    ]
    [inv] = parse_openhands(events, trace_id="oh-1")
    steps = {s.span_id: s for s in inv.steps}
    assert (steps["event-1"].status, steps["event-1"].error_message) == ("error", "boom")
    assert steps["event-1-llm"].output == "look"
    assert (inv.trace_id, inv.status) == ("oh-1", "error")
    assert inv.attributes["final_agent_state"] == "error"
    assert steps["run-error"].status == "error"


def test_it_names_the_bad_openhands_event():
    with pytest.raises(FormatError) as exc:
        parse_openhands([{"id": 1, "action": "run", "timestamp": "late"}])
    assert exc.value.errors[0]["path"] == "[0].timestamp"
    with pytest.raises(FormatError) as exc:
        parse_openhands({"history": [{"action": "run"}]})
    assert exc.value.errors[0]["path"] == "history[0].id"


# --- message logs ------------------------------------------------------------------------------


CHAT = [
    {"role": "system", "content": "be nice"},
    {"role": "user", "content": "weather in Paris and Atlantis?"},
    {"role": "assistant", "name": "planner", "content": None, "tool_calls": [
        {"id": "c1", "function": {"name": "weather", "arguments": '{"c": "P"}'}},
        {"id": "c2", "function": {"name": "weather", "arguments": '{"c": "A"}'}},
    ]},
    {"role": "tool", "tool_call_id": "c2", "name": "weather", "content": "Error: no such city"},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    {"role": "assistant", "name": "planner", "content": "Paris is sunny."},
]


def test_it_maps_a_message_log_with_tool_calls():
    [inv] = parse_messages(CHAT)
    steps = {s.span_id: s for s in inv.steps}
    assert sorted(steps) == ["msg-0", "msg-1", "msg-2", "msg-3", "msg-4", "msg-5"]
    assert [steps[f"msg-{i}"].kind for i in range(6)] == ["other", "other", "llm", "tool",
                                                          "tool", "llm"]
    first = steps["msg-2"]
    assert [m["content"] for m in first.input] == ["be nice", "weather in Paris and Atlantis?"]
    assert first.output == CHAT[2] and first.agent_name == "planner"
    atlantis = steps["msg-3"]
    assert (atlantis.tool_call_id, atlantis.tool_arguments, atlantis.tool_result) == (
        "c2", '{"c": "A"}', "Error: no such city")
    assert atlantis.status == "ok"  # an error-looking result is for the classifier to judge
    assert atlantis.agent_name == "planner"  # the caller, not the tool's name
    assert steps["msg-4"].tool_arguments == '{"c": "P"}'
    assert [m["role"] for m in steps["msg-5"].input] == ["tool", "tool"]
    assert steps["msg-5"].attributes["context_messages"] == 5
    assert (inv.input, inv.status) == ("weather in Paris and Atlantis?", None)


def test_it_keeps_an_unanswered_call_under_its_own_id():
    messages = [{"role": "assistant", "tool_calls": "[{'id': 'c9', 'function': "
                 "{'name': 'f', 'arguments': '{}'}}]"}]
    [inv] = parse_messages({"messages": messages})
    assert [s.span_id for s in inv.steps] == ["msg-0", "msg-0-call-0"]
    assert inv.steps[1].tool_name == "f"


def test_it_reads_a_multi_agent_chat_with_labels_in_attributes():
    data = {"question": "How many?", "ground_truth": "8", "is_correct": "False",
            "mistake_step": "2", "mistake_agent": "B",
            "history": [
                {"role": "assistant", "name": "A", "content": "plan"},
                {"role": "user", "name": "Computer_terminal", "content": "exitcode: 1 (failed)"},
                {"role": "user", "name": "B", "content": "I think 4"},
            ]}
    [inv] = parse_trace_data(detect_format("x.json", data), data)
    kinds = [(s.span_id, s.kind, s.agent_name) for s in inv.ordered_steps()]
    assert kinds == [("msg-0", "llm", "A"), ("msg-1", "tool", "Computer_terminal"),
                     ("msg-2", "llm", "B")]
    assert inv.attributes["question"] == "How many?" and inv.attributes["ground_truth"] == "8"
    assert "mistake_step" not in inv.attributes  # labels must not reach the classifier
    assert (inv.status, inv.name) == ("error", "How many?")


def test_it_maps_every_who_and_when_mistake_step_to_a_step():
    folder = DATASETS / "who_and_when" / "algorithm_generated"
    if not folder.is_dir():
        pytest.skip(f"dataset not found at {folder} (set TRACEVIEW_DATASETS)")
    for path in sorted(folder.glob("*.json"))[:40]:
        data = json.loads(path.read_text())
        assert detect_format(path, data) == "messages"
        [inv] = parse_messages(data)
        steps = {s.span_id: s for s in inv.steps}
        target = steps[f"msg-{int(data['mistake_step'])}"]
        assert target.agent_name == data["history"][int(data["mistake_step"])]["name"], path.name


def test_it_splits_a_list_of_runs_into_invocations():
    runs = [{"task_id": 1, "traj": CHAT}, {"task_id": 2, "traj": CHAT[:2]}]
    invocations = parse_messages(runs, trace_id="tau")
    assert [i.trace_id for i in invocations] == ["tau#0", "tau#1"]
    assert [i.attributes["task_id"] for i in invocations] == [1, 2]


def test_it_names_the_bad_message():
    with pytest.raises(FormatError) as exc:
        parse_messages([{"role": "user"}, {"content": "no role"}])
    assert exc.value.errors[0]["path"] == "[1]"
    with pytest.raises(FormatError) as exc:
        parse_messages({"messages": [{"role": "user"}, {"role": ""}]})
    assert exc.value.errors[0]["path"] == "messages[1].role"
    with pytest.raises(FormatError):
        parse_messages([])


def test_it_times_an_openhands_run_from_its_first_event_to_its_last(project):
    """Its events are all top-level steps: the run is not the first of them (an instant)."""
    from ingest.store import invocations_store
    from traceview.models import Invocation

    records = read_trace_file(fixture("openhands", "multi_swe_bench_output.jsonl"))
    result = invocations_store(project, parse_openhands(records))
    runs = Invocation.objects.filter(id__in=result.invocation_ids).order_by("name")
    durations = {r.name: r.duration_s for r in runs}
    # ponyc-4588 ran from 17:56:40 to 18:04:10 by its events.
    assert round(durations["ponylang__ponyc-4588"]) == 450
    assert all(d and d > 60 for d in durations.values())


def test_it_titles_a_swe_agent_run_by_its_issue_not_its_first_step():
    data = json.loads(fixture("swe-agent", "pydicom__pydicom-1458.traj.json").read_text())
    [inv] = parse_swe_agent(data)
    assert inv.name and inv.name != "model"
    assert inv.name.startswith("Pixel")
