"""The LangChain callback handler, driven by real langchain-core runnables, tools and retrievers.

Only the chat model is fake (langchain-core's GenericFakeChatModel replaying canned messages);
callbacks, run nesting, tools and retrievers are the real library.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.runnables import RunnableLambda  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from traceview_sdk.integrations.langchain import TraceViewCallbackHandler  # noqa: E402

from .helpers import only, steps_by_name  # noqa: E402


@tool
def lookup_order(order_id: int) -> str:
    """Look up an order."""
    return f"order {order_id} ships Monday"


@tool
def cancel_order(order_id: int) -> str:
    """Cancel an order."""
    raise ValueError(f"order {order_id} already shipped")


class Handbook(BaseRetriever):
    def _get_relevant_documents(self, query, *, run_manager):
        return [Document(page_content="Orders ship in 3 days.", metadata={"source": "faq.md"})]


def tool_call(name: str, args: dict, call_id: str) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": name, "args": args, "id": call_id}],
        usage_metadata={"input_tokens": 20, "output_tokens": 5, "total_tokens": 25},
    )


def answer(text: str) -> AIMessage:
    return AIMessage(
        content=text, usage_metadata={"input_tokens": 30, "output_tokens": 2, "total_tokens": 32}
    )


def make_agent(model, tools):
    by_name = {t.name: t for t in tools}

    def loop(question, config):
        context = Handbook().invoke(question, config)
        messages = [HumanMessage(f"{question}\n\n{context[0].page_content}")]
        while True:
            reply = model.invoke(messages, config)
            messages.append(reply)
            if not reply.tool_calls:
                return reply.content
            for call in reply.tool_calls:
                messages.append(by_name[call["name"]].invoke(call, config))

    return RunnableLambda(loop, name="support-agent")


@pytest.fixture
def handler(ingest_server, make_client):
    client = make_client(ingest_server.url)
    return TraceViewCallbackHandler(
        client, agent="support-bot", agent_version="0.9", budget={"max_tokens": 5000}
    )


def test_it_maps_chains_chat_models_tools_and_retrievers(ingest_server, handler):
    model = GenericFakeChatModel(
        messages=iter(
            [
                tool_call("lookup_order", {"order_id": 4411}, "call_1"),
                answer("Monday"),
            ]
        )
    )
    agent = make_agent(model, [lookup_order])
    assert agent.invoke("Where is my order?", config={"callbacks": [handler]}) == "Monday"
    handler.client.flush(5)

    stored = only(ingest_server.store())
    assert (stored["agent"], stored["agent_version"], stored["status"]) == (
        "support-bot",
        "0.9",
        "ok",
    )
    assert stored["attributes"]["budget"] == {"max_tokens": 5000}
    assert (stored["input"], stored["output"]) == ("Where is my order?", "Monday")
    steps = list(stored["steps"].values())
    root = steps_by_name(stored)["support-agent"]
    assert root["kind"] == "agent" and "parent_span_id" not in root
    assert all(s["parent_span_id"] == root["span_id"] for s in steps if s is not root)

    (retrieval,) = [s for s in steps if s["kind"] == "retrieval"]
    assert retrieval["input"] == "Where is my order?"
    assert retrieval["output"] == [
        {"page_content": "Orders ship in 3 days.", "metadata": {"source": "faq.md"}}
    ]
    (lookup,) = [s for s in steps if s["kind"] == "tool"]
    assert lookup["tool"] == {
        "name": "lookup_order",
        "arguments": {"order_id": 4411},
        "call_id": "call_1",
        "result": "order 4411 ships Monday",
    }
    llms = sorted((s for s in steps if s["kind"] == "llm"), key=lambda s: s["started_at"])
    assert [(s["input_tokens"], s["output_tokens"]) for s in llms] == [(20, 5), (30, 2)]
    assert llms[0]["finish_reason"] == "tool_calls"
    assert llms[0]["input"][0]["role"] == "user"
    assert llms[0]["output"]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert llms[1]["input"][-1] == {
        "role": "tool",
        "name": "lookup_order",
        "tool_call_id": "call_1",
        "content": "order 4411 ships Monday",
    }
    assert llms[1]["output"] == {"role": "assistant", "content": "Monday"}
    assert all(s["started_at"] <= s["ended_at"] for s in steps)
    assert lookup["started_at"] >= llms[0]["ended_at"]


def test_it_records_a_failing_tool_with_its_traceback_and_fails_the_invocation(
    ingest_server, handler
):
    model = GenericFakeChatModel(messages=iter([tool_call("cancel_order", {"order_id": 9}, "c1")]))
    agent = make_agent(model, [cancel_order])
    with pytest.raises(ValueError, match="already shipped"):
        agent.invoke("Cancel order 9", config={"callbacks": [handler]})
    handler.client.flush(5)

    stored = only(ingest_server.store())
    assert stored["status"] == "error"
    steps = steps_by_name(stored)
    failed = steps["cancel_order"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "ValueError"
    assert failed["error"]["message"] == "order 9 already shipped"
    assert "in cancel_order" in failed["error"]["traceback"]
    assert steps["support-agent"]["status"] == "error"


def test_it_records_async_runs(ingest_server, handler):
    model = GenericFakeChatModel(messages=iter([answer("Hi")]))

    async def main():
        chain = RunnableLambda(lambda q: [HumanMessage(q)], name="prompt") | model
        return await chain.ainvoke("hello", config={"callbacks": [handler]})

    assert asyncio.run(main()).content == "Hi"
    handler.client.flush(5)
    stored = only(ingest_server.store())
    kinds = sorted(s["kind"] for s in stored["steps"].values())
    assert kinds == ["agent", "llm", "other"]
    assert stored["status"] == "ok"


def test_it_nests_under_the_current_sdk_step(ingest_server, make_client):
    client = make_client(ingest_server.url)
    handler = TraceViewCallbackHandler(client)
    model = GenericFakeChatModel(messages=iter([answer("Monday")]))
    with client.invocation(agent="hybrid") as inv:
        with inv.step("ask model") as outer:
            model.invoke("When?", config={"callbacks": [handler]})
    client.flush(5)

    stored = only(ingest_server.store())
    (llm,) = [s for s in stored["steps"].values() if s["kind"] == "llm"]
    assert llm["parent_span_id"] == outer.span_id
    assert stored["agent"] == "hybrid"
