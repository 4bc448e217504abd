"""LangGraph's prebuilt ReAct agent traced through LangSmith's client with only its environment
variables, in a process of its own, its model the real OpenAI chat client talking to the scripted
chat-completions stub of the recorded corpus (tests/ingest/langgraph_agent.py)."""

from __future__ import annotations

import pytest

from tests.classify.recorded.servers import Call, ModelStub, Say
from tests.ingest.clients import invocation, step_detail

pytest.importorskip("langgraph")
pytest.importorskip("langchain_openai")

from tests.ingest.test_langsmith import only_trace_id, run_script  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def model():
    with ModelStub() as stub:
        yield stub


def run_agent(live_server, key, model, order_id: int, turns: list) -> str:
    run = model.start("gpt-4o", turns)
    return run_script({"LANGSMITH_TRACING": "true", "LANGSMITH_ENDPOINT": live_server.url,
                       "LANGSMITH_API_KEY": key.raw}, model.base_url(run), str(order_id),
                      script="langgraph_agent.py")


def steps_of(key, detail: dict) -> dict[str, list[dict]]:
    """The steps with their payloads, by kind, in the order they started."""
    out: dict[str, list[dict]] = {}
    for s in sorted(detail["steps"], key=lambda s: s["started_at"]):
        out.setdefault(s["kind"], []).append(step_detail(key, detail["id"], s["span_id"]))
    return out


def test_it_stores_a_react_agent_traced_with_only_the_environment(live_server, key, model):
    out = run_agent(live_server, key, model, 4411, [Call(("lookup_order", {"order_id": 4411})),
                                                     Say("It ships Monday.")])
    assert "It ships Monday." in out
    assert "Failed" not in out and "Traceback" not in out, out
    detail = invocation(key, only_trace_id(key))
    assert (detail["agent"], detail["name"], detail["status"], detail["error_count"]) == (
        "support_agent", "support_agent", "ok", 0)
    steps = steps_of(key, detail)
    (root,) = steps["agent"]
    assert (root["parent_span_id"], root["agent_name"]) == (None, "support_agent")
    # The graph's nodes (agent, tools) and LangChain's plumbing are `other` steps in between.
    assert {s["name"] for s in steps["other"]} >= {"agent", "tools"}
    ids = {s["span_id"]: s for found in steps.values() for s in found}
    for step in steps["llm"] + steps["tool"]:
        parent = step
        while parent["parent_span_id"]:
            parent = ids[parent["parent_span_id"]]
        assert parent is root

    first, second = steps["llm"]
    assert first["input"] == [{"role": "system", "content": "You help with orders."},
                              {"role": "user", "content": "Where is order 4411?"}]
    (call,) = first["output"][0]["tool_calls"]
    assert (call["name"], call["arguments"]) == ("lookup_order", {"order_id": 4411})
    assert first["finish_reason"] == "tool_calls"
    assert second["input"][-1] == {"role": "tool", "content": "order 4411 ships Monday",
                                   "tool_call_id": call["id"], "name": "lookup_order"}
    assert second["output"] == [{"role": "assistant", "content": "It ships Monday."}]

    (tool,) = steps["tool"]
    assert (tool["tool_name"], tool["tool_call_id"], tool["status"]) == (
        "lookup_order", call["id"], "ok")
    assert (tool["tool_arguments"], tool["tool_result"]) == (
        {"order_id": 4411}, "order 4411 ships Monday")

    # Tokens as the stub counted them, per call and summed on the invocation.
    counted = model.scripts[next(reversed(model.scripts))].requests
    assert [s["input_tokens"] for s in steps["llm"]] == [prompt for prompt, _ in counted]
    assert detail["input_tokens"] == sum(prompt for prompt, _ in counted)
    assert detail["output_tokens"] == sum(s["output_tokens"] for s in steps["llm"]) > 0


def test_it_records_the_failing_tool_and_run_with_the_exception(live_server, key, model):
    out = run_agent(live_server, key, model, 13, [Call(("lookup_order", {"order_id": 13})),
                                                   Say("unreached")])
    assert "failed: order 13 is not in the database" in out
    detail = invocation(key, only_trace_id(key))
    assert (detail["agent"], detail["status"]) == ("support_agent", "error")
    steps = steps_of(key, detail)
    (tool,) = steps["tool"]
    assert (tool["tool_name"], tool["tool_arguments"], tool["status"]) == (
        "lookup_order", {"order_id": 13}, "error")
    (root,) = steps["agent"]
    for step in (tool, root):
        assert (step["error_type"], step["error_message"]) == (
            "ValueError", "order 13 is not in the database")
    assert [s["status"] for s in steps["llm"]] == ["ok"]
