"""pydantic-ai with its own OpenTelemetry instrumentation (its `Instrumentation` capability), its
spans sent by the OTLP/HTTP exporter to a live test server, the model being the real OpenAI
client of pydantic-ai talking to the scripted chat-completions stub of the recorded corpus.

A tool-calling run is stored as agent, model and tool steps with their messages, tool arguments
and results, tokens and the agent's name; a tool that raises and a usage limit fail the run.
"""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from tests.classify.recorded.servers import Call, ModelStub, Say
from tests.ingest.clients import invocation, provider_for, step_detail

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent, InstrumentationSettings  # noqa: E402
from pydantic_ai.capabilities import Instrumentation  # noqa: E402
from pydantic_ai.exceptions import UsageLimitExceeded  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402
from pydantic_ai.usage import UsageLimits  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def model():
    with ModelStub() as stub:
        yield stub


@pytest.fixture
def tracing(live_server, key):
    exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces",
                                headers={"Authorization": f"Bearer {key.raw}"})
    provider = provider_for(exporter)
    yield provider
    provider.shutdown()


def support_agent(stub: ModelStub, turns: list, provider) -> Agent:
    run = stub.start("gpt-4o", turns)
    chat = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(base_url=stub.base_url(run),
                                                             api_key="sk-scripted"))
    agent = Agent(chat, name="support_agent", instructions="You help with orders.",
                  capabilities=[Instrumentation(
                      settings=InstrumentationSettings(tracer_provider=provider))])

    @agent.tool_plain
    def lookup_order(order_id: int) -> str:
        """Look up an order."""
        if order_id == 13:
            raise ValueError(f"order {order_id} is not in the database")
        return f"order {order_id} ships Monday"

    return agent


def only_invocation(key) -> dict:
    from traceview.models import Invocation

    (trace_id,) = Invocation.objects.filter(project=key.project).values_list("trace_id",
                                                                              flat=True)
    return invocation(key, trace_id)


def details(key, detail: dict) -> dict[str, list[dict]]:
    """The steps with their payloads, by kind, in the order they started."""
    out: dict[str, list[dict]] = {}
    for s in sorted(detail["steps"], key=lambda s: s["started_at"]):
        out.setdefault(s["kind"], []).append(step_detail(key, detail["id"], s["span_id"]))
    return out


def test_it_stores_a_tool_calling_run(model, tracing, key):
    agent = support_agent(model, [Call(("lookup_order", {"order_id": 4411})),
                                  Say("It ships Monday.")], tracing)
    assert agent.run_sync("Where is order 4411?").output == "It ships Monday."
    tracing.force_flush()

    detail = only_invocation(key)
    assert (detail["agent"], detail["name"], detail["status"], detail["error_count"]) == (
        "support_agent", "invoke_agent support_agent", "ok", 0)
    steps = details(key, detail)
    assert {kind: len(found) for kind, found in steps.items()} == {"agent": 1, "llm": 2,
                                                                  "tool": 1}
    (root,) = steps["agent"]
    assert root["parent_span_id"] is None
    assert all(s["parent_span_id"] == root["span_id"] for kind in ("llm", "tool")
               for s in steps[kind])
    assert all(s["agent_name"] == "support_agent" for found in steps.values() for s in found)
    # The question is the run's input, even though only the agent span's whole conversation
    # (`pydantic_ai.all_messages`) carries it; its final result is the output.
    assert root["input"] == [{"role": "system", "content": "You help with orders."},
                             {"role": "user", "content": "Where is order 4411?"}]
    assert root["output"] == "It ships Monday."
    assert detail["input"] == root["input"]

    first, second = steps["llm"]
    assert (first["model"], first["finish_reason"]) == ("gpt-4o-scripted", "tool_call")
    assert first["input"] == root["input"]
    (call,) = first["output"][0]["tool_calls"]
    assert (call["name"], call["arguments"]) == ("lookup_order", {"order_id": 4411})
    # The tool's result goes back to the model as a tool message, whatever role pydantic-ai
    # gave it.
    assert second["input"][-1] == {"role": "tool", "content": "order 4411 ships Monday",
                                   "tool_call_id": call["id"]}
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


def test_it_records_a_tool_that_raises_as_the_runs_error(model, tracing, key):
    agent = support_agent(model, [Call(("lookup_order", {"order_id": 13})),
                                  Say("unreached")], tracing)
    with pytest.raises(ValueError, match="not in the database"):
        agent.run_sync("Where is order 13?")
    tracing.force_flush()

    detail = only_invocation(key)
    assert (detail["agent"], detail["status"], detail["error_count"]) == (
        "support_agent", "error", 2)
    steps = details(key, detail)
    assert {kind: len(found) for kind, found in steps.items()} == {"agent": 1, "llm": 1,
                                                                  "tool": 1}
    (tool,) = steps["tool"]
    assert (tool["tool_arguments"], tool["status"]) == ({"order_id": 13}, "error")
    for step in (tool, steps["agent"][0]):
        assert (step["error_type"], step["error_message"]) == (
            "ValueError", "order 13 is not in the database")
    assert steps["llm"][0]["status"] == "ok"


def test_it_records_a_usage_limit_that_stops_the_run(model, tracing, key):
    agent = support_agent(model, [Call(("lookup_order", {"order_id": 4411})),
                                  Say("unreached")], tracing)
    with pytest.raises(UsageLimitExceeded):
        agent.run_sync("Where is order 4411?", usage_limits=UsageLimits(request_limit=1))
    tracing.force_flush()

    detail = only_invocation(key)
    assert (detail["agent"], detail["status"]) == ("support_agent", "error")
    steps = details(key, detail)
    # One model call, the tool it asked for, and no second call: the limit stopped the run.
    assert {kind: len(found) for kind, found in steps.items()} == {"agent": 1, "llm": 1,
                                                                  "tool": 1}
    (root,) = steps["agent"]
    assert root["error_type"] == "pydantic_ai.exceptions.UsageLimitExceeded"
    assert "request_limit" in root["error_message"]
    assert steps["tool"][0]["tool_result"] == "order 4411 ships Monday"
