"""Recording: invocations, steps, decorators, errors and nesting across threads and tasks.

Everything is checked on what a real local HTTP server received from the SDK.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import traceview_sdk

from .helpers import only, steps_by_name


def test_it_sends_run_level_usage_given_in_pieces(ingest_server, sdk_client):
    with traceview_sdk.invocation(agent="swe-bot", client=sdk_client) as inv:
        inv.set_usage(input_tokens=1200, cost_usd=0.04)
        inv.set_usage(output_tokens=300)
    assert sdk_client.flush(5)
    stored = only(ingest_server.store())
    assert (stored["input_tokens"], stored["output_tokens"], stored["cost_usd"]) == (
        1200, 300, 0.04)


def test_it_records_an_invocation_with_nested_steps(ingest_server, sdk_client):
    budget = {"max_steps": 20, "max_cost_usd": 0.5}
    with traceview_sdk.invocation(
        agent="support-bot",
        version="1.4.0",
        budget=budget,
        input="Where is my order?",
        client=sdk_client,
    ) as inv:
        with inv.step("plan") as plan:
            with inv.step("lookup_order", kind="tool") as lookup:
                lookup.set_tool(call_id="call_1", arguments={"id": 4411}, result={"eta": "Mon"})
            with plan.step("chat gpt-4o", kind="llm") as call:
                call.set_usage(
                    input_tokens=812,
                    output_tokens=64,
                    cost_usd=0.0027,
                    model="gpt-4o",
                    finish_reason="stop",
                )
        inv.set_output("It arrives Monday.")
    assert sdk_client.flush(5)

    stored = only(ingest_server.store())
    assert stored["trace_id"] == inv.trace_id
    assert stored["agent"] == "support-bot"
    assert stored["agent_version"] == "1.4.0"
    assert stored["status"] == "ok"
    assert stored["attributes"]["budget"] == budget
    assert stored["input"] == "Where is my order?"
    assert stored["output"] == "It arrives Monday."
    assert stored["started_at"].endswith("Z") and stored["ended_at"] >= stored["started_at"]
    steps = steps_by_name(stored)
    root = steps["support-bot"]
    assert root["kind"] == "agent" and "parent_span_id" not in root
    assert steps["plan"]["parent_span_id"] == root["span_id"]
    assert steps["lookup_order"]["parent_span_id"] == steps["plan"]["span_id"]
    assert steps["lookup_order"]["tool"] == {
        "call_id": "call_1",
        "arguments": {"id": 4411},
        "result": {"eta": "Mon"},
    }
    llm = steps["chat gpt-4o"]
    assert llm["parent_span_id"] == steps["plan"]["span_id"]
    assert (llm["kind"], llm["model"], llm["input_tokens"], llm["output_tokens"]) == (
        "llm",
        "gpt-4o",
        812,
        64,
    )
    assert all(step["status"] == "ok" for step in steps.values())


def test_it_sends_the_invocation_as_running_before_it_ends(ingest_server, sdk_client):
    with sdk_client.invocation(agent="support-bot") as inv:
        assert sdk_client.flush(5)
        assert ingest_server.store()[inv.trace_id]["status"] == "running"
    sdk_client.flush(5)
    assert ingest_server.store()[inv.trace_id]["status"] == "ok"


def test_it_records_errors_with_type_message_and_traceback(ingest_server, sdk_client):
    def lookup_order(order_id):
        raise ConnectionError(f"order service down for {order_id}")

    with pytest.raises(ConnectionError):
        with sdk_client.invocation(agent="support-bot") as inv:
            with inv.step("lookup_order", kind="tool"):
                lookup_order(4411)
    sdk_client.flush(5)

    stored = only(ingest_server.store())
    assert stored["status"] == "error"
    failed = steps_by_name(stored)["lookup_order"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "ConnectionError"
    assert failed["error"]["message"] == "order service down for 4411"
    assert "in lookup_order" in failed["error"]["traceback"]
    assert steps_by_name(stored)["support-bot"]["status"] == "error"


def test_it_keeps_the_invocation_ok_when_a_failed_step_was_handled(ingest_server, sdk_client):
    with sdk_client.invocation(agent="support-bot") as inv:
        with inv.step("retrying tool", kind="tool") as step:
            step.record_error("timeout, will retry")
    sdk_client.flush(5)
    stored = ingest_server.store()[inv.trace_id]
    assert stored["status"] == "ok"
    assert steps_by_name(stored)["retrying tool"]["status"] == "error"
    assert steps_by_name(stored)["retrying tool"]["error"] == "timeout, will retry"


def test_it_records_decorated_functions(ingest_server, default_client):
    @traceview_sdk.tool
    def lookup_order(order_id: int) -> dict:
        return {"id": order_id, "eta": "Mon"}

    @traceview_sdk.llm(model="gpt-4o")
    def chat(messages: list) -> dict:
        # The shape of an OpenAI chat completion, as a dict.
        return {
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {"finish_reason": "stop", "message": {"role": "assistant", "content": "Monday"}}
            ],
            "usage": {"prompt_tokens": 30, "completion_tokens": 2},
        }

    @traceview_sdk.agent(name="support-bot", version="2.0", budget={"max_steps": 5})
    def answer(question: str) -> str:
        order = lookup_order(4411)
        reply = chat([{"role": "user", "content": question}, {"role": "tool", "content": order}])
        return reply["choices"][0]["message"]["content"]

    assert answer("Where is my order?") == "Monday"
    default_client.flush(5)

    stored = only(ingest_server.store())
    assert (stored["agent"], stored["agent_version"], stored["status"]) == (
        "support-bot",
        "2.0",
        "ok",
    )
    assert stored["attributes"]["budget"] == {"max_steps": 5}
    assert stored["input"] == "Where is my order?" and stored["output"] == "Monday"
    steps = steps_by_name(stored)
    root = steps["support-bot"]
    assert steps["lookup_order"]["tool"] == {
        "name": "lookup_order",
        "arguments": {"order_id": 4411},
        "result": {"id": 4411, "eta": "Mon"},
    }
    chat_step = steps["chat"]
    assert chat_step["parent_span_id"] == root["span_id"]
    assert chat_step["model"] == "gpt-4o-2024-08-06"
    assert (chat_step["input_tokens"], chat_step["output_tokens"]) == (30, 2)
    assert chat_step["finish_reason"] == "stop"
    assert chat_step["output"] == {"role": "assistant", "content": "Monday"}
    assert chat_step["input"][0] == {"role": "user", "content": "Where is my order?"}


def test_it_records_async_functions_and_keeps_each_task_nested_under_its_creator(
    ingest_server, default_client
):
    @traceview_sdk.tool
    async def fetch(source: str) -> str:
        await asyncio.sleep(0.01)
        with traceview_sdk.step(f"parse {source}"):
            await asyncio.sleep(0.01)
        return source.upper()

    @traceview_sdk.agent(name="researcher")
    async def research(topic: str) -> list:
        with traceview_sdk.step("gather"):
            return await asyncio.gather(fetch("web"), fetch("docs"))

    assert asyncio.run(research("tides")) == ["WEB", "DOCS"]
    default_client.flush(5)

    stored = only(ingest_server.store())
    fetches = [s for s in stored["steps"].values() if s.get("kind") == "tool"]
    gather = steps_by_name(stored)["gather"]
    assert len(fetches) == 2
    assert {s["parent_span_id"] for s in fetches} == {gather["span_id"]}
    for source, call in (("web", "WEB"), ("docs", "DOCS")):
        fetched = next(s for s in fetches if s["tool"]["arguments"] == {"source": source})
        assert fetched["tool"]["result"] == call
        parse = steps_by_name(stored)[f"parse {source}"]
        # Each task's nested step hangs under that task's own tool step, not its sibling's.
        assert parse["parent_span_id"] == fetched["span_id"]


def test_it_keeps_each_thread_nested_on_its_own(ingest_server, sdk_client):
    barrier = threading.Barrier(2)

    with sdk_client.invocation(agent="crew") as inv:

        def worker(label: str) -> None:
            with inv.step(f"outer {label}"):
                barrier.wait(5)  # both threads are inside their outer step at once
                with inv.step(f"inner {label}"):
                    barrier.wait(5)

        threads = [threading.Thread(target=worker, args=(x,)) for x in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with inv.step("after threads"):
            pass
    sdk_client.flush(5)

    steps = steps_by_name(only(ingest_server.store()))
    root_id = steps["crew"]["span_id"]
    for label in "ab":
        assert steps[f"outer {label}"]["parent_span_id"] == root_id
        assert steps[f"inner {label}"]["parent_span_id"] == steps[f"outer {label}"]["span_id"]
    assert steps["after threads"]["parent_span_id"] == root_id


def test_it_carries_the_current_step_into_a_thread_pool_with_propagate(
    ingest_server, default_client
):
    @traceview_sdk.tool
    def square(x: int) -> int:
        return x * x

    with traceview_sdk.invocation(agent="pool") as inv:
        with inv.step("fan out"):
            with ThreadPoolExecutor(4) as pool:
                assert list(pool.map(traceview_sdk.propagate(square), range(6))) == [
                    0,
                    1,
                    4,
                    9,
                    16,
                    25,
                ]
            # Without propagate a pool thread has no current step: nothing is recorded.
            with ThreadPoolExecutor(1) as pool:
                assert pool.submit(square, 7).result() == 49
    default_client.flush(5)

    steps = only(ingest_server.store())["steps"].values()
    fan_out = next(s for s in steps if s["name"] == "fan out")
    squares = [s for s in steps if s["kind"] == "tool"]
    assert sorted(s["tool"]["result"] for s in squares) == [0, 1, 4, 9, 16, 25]
    assert {s["parent_span_id"] for s in squares} == {fan_out["span_id"]}


def test_it_runs_decorated_functions_untraced_outside_an_invocation(ingest_server, default_client):
    @traceview_sdk.tool
    def add(a, b):
        return a + b

    assert add(2, 3) == 5
    with traceview_sdk.step("orphan") as orphan:
        orphan.set_output("nothing to attach to")
    default_client.flush(5)
    assert ingest_server.requests == []


def test_it_records_nothing_and_raises_nothing_without_a_url(ingest_server, monkeypatch):
    monkeypatch.delenv("TRACEVIEW_URL", raising=False)
    monkeypatch.delenv("TRACEVIEW_API_KEY", raising=False)
    client = traceview_sdk.Client()
    with client.invocation(agent="offline") as inv:
        with inv.step("work"):
            pass
    assert client.flush(1)
    assert client.stats == {}


def test_it_reads_url_and_key_from_the_environment(ingest_server, monkeypatch):
    monkeypatch.setenv("TRACEVIEW_URL", ingest_server.url + "/")
    monkeypatch.setenv("TRACEVIEW_API_KEY", "tv_from_env")
    client = traceview_sdk.Client(flush_interval=0.05)
    try:
        with client.invocation(agent="env-bot"):
            pass
        assert client.flush(5)
    finally:
        client.shutdown(1)
    request = ingest_server.requests[0]
    assert request["path"] == "/api/v1/traces"
    assert request["headers"]["Authorization"] == "Bearer tv_from_env"
