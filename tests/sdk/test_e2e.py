"""End to end: each SDK route puts a correct invocation into a real TraceView server.

The server is pytest-django's live_server (the real ingest API and database); the frameworks are
the real libraries with a fake model. Each test reads the invocation back through the read API
(GET /api/v1/invocations?trace_id=..., then the detail view).
"""

from __future__ import annotations

import asyncio

import pytest
import requests
import traceview_sdk

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, api_key, make_client):
    """An SDK client pointed at the live server, and a reader of what the server stored."""
    client = make_client(live_server.url, api_key=api_key)
    headers = {"Authorization": f"Bearer {api_key}"}

    def read(trace_id: str) -> dict:
        client.flush(10)
        listed = requests.get(
            f"{live_server.url}/api/v1/invocations",
            params={"trace_id": trace_id},
            headers=headers,
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        results = listed.json()["results"]
        assert len(results) == 1, f"no invocation {trace_id}: {listed.text}"
        detail = requests.get(
            f"{live_server.url}/api/v1/invocations/{results[0]['id']}", headers=headers, timeout=30
        )
        assert detail.status_code == 200, detail.text
        return detail.json()

    def step_detail(invocation: dict, span_id: str) -> dict:
        response = requests.get(
            f"{live_server.url}/api/v1/invocations/{invocation['id']}/steps/{span_id}",
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def find(agent: str) -> str:
        """The trace id of the one invocation of agent, for routes that pick their own ids."""
        client.flush(10)
        listed = requests.get(
            f"{live_server.url}/api/v1/invocations",
            params={"agent": agent},
            headers=headers,
            timeout=30,
        )
        (summary,) = listed.json()["results"]
        return summary["trace_id"]

    client.read = read
    client.find = find
    client.step_detail = step_detail
    client.live_url = live_server.url
    return client


def assert_sent_cleanly(client) -> None:
    assert client.stats.get("dropped", 0) == 0, client.stats


def test_it_records_a_native_sdk_run_end_to_end(server):
    with pytest.raises(ConnectionError):
        with server.invocation(
            agent="support-bot",
            version="1.4.0",
            input="Where is my order?",
            budget={"max_steps": 20, "max_cost_usd": 0.5},
        ) as inv:
            with inv.step("chat gpt-4o", kind="llm") as llm:
                llm.set_input([{"role": "user", "content": "Where is my order?"}])
                llm.set_usage(
                    input_tokens=812,
                    output_tokens=64,
                    cost_usd=0.0027,
                    model="gpt-4o",
                    finish_reason="tool_calls",
                )
            with inv.step("lookup_order", kind="tool") as tool:
                tool.set_tool(call_id="call_1", arguments={"id": 4411})
                raise ConnectionError("503 Service Unavailable")

    stored = server.read(inv.trace_id)
    assert_sent_cleanly(server)
    assert (stored["agent"], stored["agent_version"], stored["status"]) == (
        "support-bot",
        "1.4.0",
        "error",
    )
    assert stored["attributes"]["budget"] == {"max_steps": 20, "max_cost_usd": 0.5}
    assert stored["input"] == "Where is my order?"
    assert stored["ended_at"] is not None
    steps = {s["name"]: s for s in stored["steps"]}
    assert set(steps) == {"support-bot", "chat gpt-4o", "lookup_order"}
    assert (
        steps["support-bot"]["kind"] == "agent" and steps["support-bot"]["parent_span_id"] is None
    )
    assert steps["chat gpt-4o"]["parent_span_id"] == steps["support-bot"]["span_id"]
    assert (steps["chat gpt-4o"]["model"], steps["chat gpt-4o"]["input_tokens"]) == ("gpt-4o", 812)
    failed = steps["lookup_order"]
    assert (failed["kind"], failed["status"], failed["error_type"]) == (
        "tool",
        "error",
        "ConnectionError",
    )
    detail = server.step_detail(stored, failed["span_id"])
    assert detail["tool_call_id"] == "call_1" and detail["tool_arguments"] == {"id": 4411}
    assert "ConnectionError: 503 Service Unavailable" in detail["error_traceback"]


def test_it_records_a_decorated_async_agent_end_to_end(server):
    previous = traceview_sdk.client._default
    traceview_sdk.client._default = server
    try:

        @traceview_sdk.tool
        async def lookup_order(order_id: int) -> dict:
            return {"id": order_id, "eta": "Mon"}

        @traceview_sdk.llm(model="gpt-4o-mini")
        async def chat(messages: list) -> dict:
            return {
                "choices": [
                    {"finish_reason": "stop", "message": {"role": "assistant", "content": "Monday"}}
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 3},
            }

        @traceview_sdk.agent(name="async-bot", version="2")
        async def answer(question: str) -> str:
            orders = await asyncio.gather(lookup_order(1), lookup_order(2))
            reply = await chat(
                [{"role": "user", "content": question}, {"role": "tool", "content": str(orders)}]
            )
            traceview_sdk.current_invocation().set_attribute("ticket", 4411)
            return reply["choices"][0]["message"]["content"]

        assert asyncio.run(answer("When do my orders ship?")) == "Monday"
    finally:
        traceview_sdk.client._default = previous

    stored = server.read(server.find("async-bot"))
    assert_sent_cleanly(server)
    assert (stored["status"], stored["agent_version"]) == ("ok", "2")
    assert stored["attributes"]["ticket"] == 4411
    kinds = sorted(s["kind"] for s in stored["steps"])
    assert kinds == ["agent", "llm", "tool", "tool"]
    llm = next(s for s in stored["steps"] if s["kind"] == "llm")
    assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-4o-mini", 40, 3)


def test_it_records_an_openai_agents_run_end_to_end(server):
    pytest.importorskip("agents")
    from agents import Agent, Runner, set_trace_processors, set_tracing_disabled
    from traceview_sdk.integrations.openai_agents import TraceViewProcessor

    from .test_openai_agents import ScriptedModel, call, lookup_order, say

    processor = TraceViewProcessor(server, agent_version="3.1")
    set_tracing_disabled(False)
    set_trace_processors([processor])
    try:
        agent = Agent(
            name="support-bot",
            instructions="help",
            tools=[lookup_order],
            model=ScriptedModel(call("lookup_order", '{"order_id": 4411}'), say("Monday")),
        )
        assert Runner.run_sync(agent, "Where is my order?").final_output == "Monday"
    finally:
        set_trace_processors([])

    trace_id = server.find("support-bot")
    stored = server.read(trace_id)
    assert_sent_cleanly(server)
    assert trace_id.startswith("trace_")
    assert (stored["status"], stored["agent_version"]) == ("ok", "3.1")
    kinds = sorted(s["kind"] for s in stored["steps"])
    assert kinds.count("llm") == 2 and kinds.count("tool") == 1 and kinds.count("agent") == 1
    tool = next(s for s in stored["steps"] if s["kind"] == "tool")
    assert tool["tool_name"] == "lookup_order" and tool["agent_name"] == "support-bot"
    assert stored["input_tokens"] == 200 and stored["output_tokens"] == 14


def test_it_records_a_langchain_run_end_to_end(server):
    pytest.importorskip("langchain_core")
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from traceview_sdk.integrations.langchain import TraceViewCallbackHandler

    from .test_langchain import answer, cancel_order, make_agent, tool_call

    handler = TraceViewCallbackHandler(server, agent="lc-bot", agent_version="0.9")
    model = GenericFakeChatModel(
        messages=iter([tool_call("cancel_order", {"order_id": 9}, "c1"), answer("unused")])
    )
    with pytest.raises(ValueError):
        make_agent(model, [cancel_order]).invoke("Cancel order 9", config={"callbacks": [handler]})

    stored = server.read(server.find("lc-bot"))
    assert_sent_cleanly(server)
    assert (stored["status"], stored["agent_version"]) == ("error", "0.9")
    steps = {s["kind"]: s for s in stored["steps"]}
    assert set(steps) == {"agent", "retrieval", "llm", "tool"}
    assert steps["tool"]["status"] == "error" and steps["tool"]["error_type"] == "ValueError"
    assert steps["llm"]["input_tokens"] == 20
    assert all(
        s["parent_span_id"] == steps["agent"]["span_id"]
        for s in stored["steps"]
        if s["kind"] != "agent"
    )


def test_it_exports_opentelemetry_spans_end_to_end(server):
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from traceview_sdk.integrations.otel import configure_otlp

    provider = configure_otlp(
        server.live_url, server.config.api_key, tracer_provider=TracerProvider()
    )
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("invoke_agent otel-bot") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "otel-bot")
        trace_id = format(agent.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 812)
    assert provider.force_flush(10000)
    provider.shutdown()

    stored = server.read(trace_id)
    assert {s["name"] for s in stored["steps"]} == {"invoke_agent otel-bot", "chat gpt-4o"}
    chat_step = next(s for s in stored["steps"] if s["name"] == "chat gpt-4o")
    assert (chat_step["kind"], chat_step["model"], chat_step["input_tokens"]) == (
        "llm",
        "gpt-4o",
        812,
    )


def test_it_accepts_the_openai_agents_exporter_pointed_at_traceview(server):
    """The documented zero-code route: the Agents SDK's own exporter with TraceView's endpoint."""
    pytest.importorskip("agents")
    from agents import Agent, Runner, set_trace_processors, set_tracing_disabled
    from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor

    from .test_openai_agents import ScriptedModel, say

    exporter = BackendSpanExporter(
        api_key=server.config.api_key, endpoint=f"{server.live_url}/v1/traces/ingest"
    )
    processor = BatchTraceProcessor(exporter)
    set_tracing_disabled(False)
    set_trace_processors([processor])
    try:
        agent = Agent(name="zero-code-bot", instructions="hi", model=ScriptedModel(say("Hello")))
        assert Runner.run_sync(agent, "Hi").final_output == "Hello"
        processor.force_flush()
    finally:
        set_trace_processors([])
        processor.shutdown()
        # A kept-alive HTTP connection would hold a live-server thread's database connection.
        exporter.close()
    stored = server.read(server.find("zero-code-bot"))
    assert {s["kind"] for s in stored["steps"]} >= {"agent", "llm"}


def test_it_accepts_otlp_configured_only_by_environment_variables(server, monkeypatch):
    """The documented zero-code route: OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.live_url)
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{server.config.api_key}"
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("e2e").start_as_current_span("invoke_agent env-bot") as span:
        span.set_attribute("gen_ai.operation.name", "invoke_agent")
        span.set_attribute("gen_ai.agent.name", "env-bot")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    stored = server.read(trace_id)
    assert [s["name"] for s in stored["steps"]] == ["invoke_agent env-bot"]
