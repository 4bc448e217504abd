"""The OpenAI Agents SDK hook, driven by real `Runner` runs with a scripted model.

Only the model is fake (a `Model` subclass returning canned responses and recording a
generation span, as the SDK's chat-completions model does); agents, tools, handoffs, guardrails,
tracing and the SDK's span nesting are the real library.
"""

from __future__ import annotations

import pytest

agents = pytest.importorskip("agents")

from agents import (  # noqa: E402
    Agent,
    GuardrailFunctionOutput,
    MaxTurnsExceeded,
    ModelResponse,
    Runner,
    Usage,
    function_tool,
    input_guardrail,
    set_trace_processors,
    set_tracing_disabled,
)
from agents.models.interface import Model  # noqa: E402
from agents.tracing import generation_span  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from traceview_sdk.integrations.openai_agents import TraceViewProcessor  # noqa: E402

from .helpers import only  # noqa: E402


class ScriptedModel(Model):
    def __init__(self, *turns):
        self.turns = list(turns)

    async def get_response(
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        **kwargs,
    ):
        output = self.turns.pop(0) if len(self.turns) > 1 else self.turns[0]
        with generation_span(model="fake-gpt", disabled=tracing.is_disabled()) as span:
            messages = input if isinstance(input, list) else [{"role": "user", "content": input}]
            span.span_data.input = messages
            span.span_data.output = [item.model_dump() for item in output]
            span.span_data.usage = {"input_tokens": 100, "output_tokens": 7}
        usage = Usage(requests=1, input_tokens=100, output_tokens=7, total_tokens=107)
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


def call(name: str, arguments: str, call_id: str = "call_1") -> list:
    return [
        ResponseFunctionToolCall(
            id=f"fc_{call_id}",
            call_id=call_id,
            name=name,
            arguments=arguments,
            type="function_call",
        )
    ]


def say(text: str) -> list:
    content = [ResponseOutputText(text=text, type="output_text", annotations=[])]
    return [
        ResponseOutputMessage(
            id="msg_1", content=content, role="assistant", status="completed", type="message"
        )
    ]


@function_tool
def lookup_order(order_id: int) -> str:
    """Look up an order."""
    return f"order {order_id} ships Monday"


@function_tool
def refund(order_id: int) -> str:
    """Refund an order."""
    raise RuntimeError("payments service unavailable")


@pytest.fixture
def processor(ingest_server, make_client):
    client = make_client(ingest_server.url)
    processor = TraceViewProcessor(client, agent_version="3.1", budget={"max_steps": 12})
    set_tracing_disabled(False)
    # Replace the default processor so nothing is sent to OpenAI.
    set_trace_processors([processor])
    yield processor
    set_trace_processors([])


def test_it_maps_a_run_with_a_tool_call_to_a_native_invocation(ingest_server, processor):
    agent = Agent(
        name="support-bot",
        instructions="help",
        tools=[lookup_order],
        model=ScriptedModel(call("lookup_order", '{"order_id": 4411}'), say("Monday")),
    )
    result = Runner.run_sync(agent, "Where is my order?")
    assert result.final_output == "Monday"
    processor.force_flush()

    stored = only(ingest_server.store())
    assert stored["trace_id"].startswith("trace_")
    assert (stored["agent"], stored["agent_version"], stored["status"]) == (
        "support-bot",
        "3.1",
        "ok",
    )
    assert stored["attributes"]["budget"] == {"max_steps": 12}
    assert stored["name"] == "Agent workflow"
    assert stored["started_at"] <= stored["ended_at"]
    steps = list(stored["steps"].values())
    by_kind = {}
    for step in steps:
        by_kind.setdefault(step["kind"], []).append(step)
    (agent_step,) = by_kind["agent"]
    assert agent_step["name"] == "support-bot"
    assert agent_step["attributes"]["tools"] == ["lookup_order"]
    (tool_step,) = by_kind["tool"]
    assert tool_step["tool"] == {
        "name": "lookup_order",
        "arguments": {"order_id": 4411},
        "result": "order 4411 ships Monday",
    }
    assert tool_step["agent_name"] == "support-bot"
    llms = sorted(by_kind["llm"], key=lambda s: s["started_at"])
    assert len(llms) == 2
    assert [s["finish_reason"] for s in llms] == ["tool_calls", "stop"]
    assert all(
        (s["model"], s["input_tokens"], s["output_tokens"]) == ("fake-gpt", 100, 7) for s in llms
    )
    assert llms[0]["input"] == [{"role": "user", "content": "Where is my order?"}]
    # Every step hangs off a step of the same trace; exactly one root.
    ids = {s["span_id"] for s in steps}
    assert [s for s in steps if s.get("parent_span_id") is None] == [
        s for s in steps if s["attributes"]["openai_agents.span_type"] == "task"
    ]
    assert all(s["parent_span_id"] in ids for s in steps if s.get("parent_span_id"))
    assert all(s["status"] == "ok" and s["ended_at"] >= s["started_at"] for s in steps)


def test_it_maps_handoffs_guardrails_and_a_handled_tool_error(ingest_server, processor):
    @input_guardrail
    def no_profanity(ctx, agent, input):
        return GuardrailFunctionOutput(output_info={"clean": True}, tripwire_triggered=False)

    billing = Agent(
        name="billing",
        instructions="refunds",
        tools=[refund],
        model=ScriptedModel(call("refund", '{"order_id": 7}', "call_2"), say("Sorry, try later")),
    )
    triage = Agent(
        name="triage",
        instructions="route",
        handoffs=[billing],
        input_guardrails=[no_profanity],
        model=ScriptedModel(call("transfer_to_billing", "{}")),
    )
    result = Runner.run_sync(triage, "Refund order 7")
    assert result.final_output == "Sorry, try later"
    processor.force_flush()

    stored = only(ingest_server.store())
    # The model saw the tool's error and answered: the run itself succeeded.
    assert (stored["agent"], stored["status"]) == ("triage", "ok")
    steps = list(stored["steps"].values())
    (handoff,) = [s for s in steps if s["kind"] == "handoff"]
    assert handoff["name"] == "handoff triage -> billing"
    assert handoff["output"] == {"to_agent": "billing"}
    (guardrail,) = [s for s in steps if s["kind"] == "guardrail"]
    assert guardrail["name"] == "no_profanity" and guardrail["output"] == {"triggered": False}
    (tool_step,) = [s for s in steps if s["kind"] == "tool"]
    assert tool_step["status"] == "error"
    assert tool_step["error"]["type"].startswith("Error running tool")
    assert tool_step["agent_name"] == "billing"
    assert {s["name"] for s in steps if s["kind"] == "agent"} == {"triage", "billing"}


def test_it_marks_the_invocation_failed_when_the_run_fails(ingest_server, processor):
    agent = Agent(
        name="looper",
        instructions="loop",
        tools=[lookup_order],
        model=ScriptedModel(call("lookup_order", '{"order_id": 1}')),
    )
    with pytest.raises(MaxTurnsExceeded):
        Runner.run_sync(agent, "loop forever", max_turns=2)
    processor.force_flush()

    stored = only(ingest_server.store())
    assert stored["status"] == "error"
    (agent_step,) = [s for s in stored["steps"].values() if s["kind"] == "agent"]
    assert agent_step["status"] == "error"
    assert agent_step["error"]["message"] == "Max turns exceeded"
