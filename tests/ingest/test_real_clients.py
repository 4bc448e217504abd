"""Real client libraries posting to a live test server, unchanged except for endpoint and key.

opentelemetry-sdk with the OTLP/HTTP exporter (protobuf, and the exporter's own encoder as JSON),
openai-agents with a scripted model (its own BackendSpanExporter, and the OpenInference
instrumentor exporting OTLP), and the Langfuse SDK. Every client gets its own tracer provider or
processor, set up and torn down inside the test, and each test checks what was stored through the
read API, so a broken mapping fails here.
"""

from __future__ import annotations

import json

import pytest
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests.ingest.clients import (
    assert_genai_run,
    by_name,
    emit_genai_run,
    invocation,
    provider_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_accepts_the_otlp_http_protobuf_exporter(live_server, key):
    exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces",
                                headers={"Authorization": f"Bearer {key.raw}"})
    provider = provider_for(exporter)
    trace_id = emit_genai_run(provider)
    provider.shutdown()
    assert_genai_run(key, trace_id)


class JsonExporter(SpanExporter):
    """The installed exporter speaks protobuf only; this posts its encoder's output as JSON
    (the proto3 JSON mapping, so ids travel as base64), as JSON-only senders do."""

    def __init__(self, url: str, token: str):
        self.url, self.token, self.statuses = url, token, []

    def export(self, spans):
        from google.protobuf import json_format

        body = json_format.MessageToJson(encode_spans(spans))
        r = requests.post(self.url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        self.statuses.append(r.status_code)
        return SpanExportResult.SUCCESS if r.ok else SpanExportResult.FAILURE


def test_it_accepts_the_otlp_exporters_json_encoding(live_server, key):
    exporter = JsonExporter(f"{live_server.url}/v1/traces", key.raw)
    provider = provider_for(exporter)
    trace_id = emit_genai_run(provider)
    provider.shutdown()
    assert exporter.statuses == [200]
    assert_genai_run(key, trace_id)


# ---------------------------------------------------------------------------------------------
# OpenAI Agents SDK

agents = pytest.importorskip("agents")

from agents import (  # noqa: E402
    Agent,
    MaxTurnsExceeded,
    ModelResponse,
    Runner,
    Usage,
    function_tool,
    set_trace_processors,
    set_tracing_disabled,
)
from agents.models.interface import Model  # noqa: E402
from agents.tracing import generation_span  # noqa: E402
from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)


class ScriptedModel(Model):
    """Returns canned turns; records a generation span with usage, as the SDK's models do."""

    def __init__(self, *turns):
        self.turns = list(turns)

    async def get_response(self, system_instructions, input, model_settings, tools,
                           output_schema, handoffs, tracing, **kwargs):
        output = self.turns.pop(0) if len(self.turns) > 1 else self.turns[0]
        with generation_span(model="fake-gpt", disabled=tracing.is_disabled()) as span:
            span.span_data.usage = {"input_tokens": 50, "output_tokens": 5}
        usage = Usage(requests=1, input_tokens=50, output_tokens=5, total_tokens=55)
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


def tool_call(name: str, arguments: str) -> list:
    return [ResponseFunctionToolCall(id="fc_1", call_id="call_1", name=name,
                                     arguments=arguments, type="function_call")]


def answer(text: str) -> list:
    return [ResponseOutputMessage(
        id="msg_1", role="assistant", status="completed", type="message",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[])])]


@function_tool
def lookup_order(order_id: int) -> str:
    """Look up an order."""
    return f"order {order_id} ships Monday"


@pytest.fixture
def agents_processor(live_server, key):
    exporter = BackendSpanExporter(api_key=key.raw, endpoint=f"{live_server.url}/v1/traces/ingest")
    processor = BatchTraceProcessor(exporter)
    set_tracing_disabled(False)
    set_trace_processors([processor])
    yield processor
    set_trace_processors([])
    processor.shutdown()
    # Its HTTP client keeps a connection alive, which holds a live-server thread and that
    # thread's database connection open until the test database cannot be dropped.
    exporter.close()


def test_it_accepts_the_openai_agents_exporter(agents_processor, key):
    agent = Agent(name="support-bot", tools=[lookup_order], model=ScriptedModel(
        tool_call("lookup_order", '{"order_id": 4411}'), answer("It ships Monday.")))
    result = Runner.run_sync(agent, "Where is order 4411?")
    assert result.final_output == "It ships Monday."
    agents_processor.force_flush()
    trace_id = _only_trace_id(key)
    detail = invocation(key, trace_id)
    assert (detail["agent"], detail["status"], detail["name"]) == (
        "support-bot", "ok", "Agent workflow")
    assert (detail["input_tokens"], detail["output_tokens"]) == (100, 10)
    # Besides these, the SDK records its own task and turn spans (kind "other").
    kinds = sorted(s["kind"] for s in detail["steps"] if s["kind"] != "other")
    assert kinds == ["agent", "llm", "llm", "tool"], kinds
    (tool,) = [s for s in detail["steps"] if s["kind"] == "tool"]
    assert (tool["tool_name"], tool["status"]) == ("lookup_order", "ok")


def test_it_records_a_run_that_exceeds_its_turns_as_failed(agents_processor, key):
    looping = ScriptedModel(tool_call("lookup_order", '{"order_id": 1}'))
    agent = Agent(name="looper", tools=[lookup_order], model=looping)
    with pytest.raises(MaxTurnsExceeded):
        Runner.run_sync(agent, "loop", max_turns=2)
    agents_processor.force_flush()
    detail = invocation(key, _only_trace_id(key))
    assert detail["status"] == "error"
    (agent_step,) = [s for s in detail["steps"] if s["kind"] == "agent"]
    assert agent_step["status"] == "error"
    assert "Max turns" in (agent_step["error_type"] + agent_step["error_message"])
    kinds = sorted(s["kind"] for s in detail["steps"] if s["kind"] != "other")
    # Two model calls; the run stops when the second asks for another tool call.
    assert kinds == ["agent", "llm", "llm", "tool"], kinds


def _only_trace_id(key) -> str:
    from traceview.models import Invocation

    (trace_id,) = Invocation.objects.filter(project=key.project).values_list("trace_id",
                                                                              flat=True)
    return trace_id


def test_it_accepts_the_openinference_instrumentor(live_server, key):
    instrumentation = pytest.importorskip("openinference.instrumentation.openai_agents")
    exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces",
                                headers={"Authorization": f"Bearer {key.raw}"})
    provider = provider_for(exporter)
    instrumentor = instrumentation.OpenAIAgentsInstrumentor()
    set_tracing_disabled(False)
    set_trace_processors([])  # nothing sent to OpenAI; the instrumentor adds its own processor
    instrumentor.instrument(tracer_provider=provider)
    try:
        agent = Agent(name="support-bot", tools=[lookup_order], model=ScriptedModel(
            tool_call("lookup_order", '{"order_id": 4411}'), answer("It ships Monday.")))
        Runner.run_sync(agent, "Where is order 4411?")
    finally:
        instrumentor.uninstrument()
        set_trace_processors([])
        provider.shutdown()
    detail = invocation(key, _only_trace_id(key))
    assert detail["status"] == "ok"
    assert (detail["input_tokens"], detail["output_tokens"]) == (100, 10)
    kinds = sorted(s["kind"] for s in detail["steps"])
    assert kinds.count("agent") >= 1 and kinds.count("llm") == 2 and kinds.count("tool") == 1
    (tool,) = [s for s in detail["steps"] if s["kind"] == "tool"]
    assert tool["tool_name"] == "lookup_order"
    assert detail["steps_truncated"] is False
    assert all(s["parent_span_id"] in {x["span_id"] for x in detail["steps"]}
               for s in detail["steps"] if s["parent_span_id"])


# ---------------------------------------------------------------------------------------------
# Langfuse SDK (v3+ exports OTLP to /api/public/otel/v1/traces with Basic auth)


def test_it_accepts_the_langfuse_sdk(live_server, key, monkeypatch):
    langfuse = pytest.importorskip("langfuse")
    for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST",
                 "LANGFUSE_BASE_URL", "LANGFUSE_TRACING_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    provider = TracerProvider()
    client = langfuse.Langfuse(public_key=key.public_key, secret_key=key.raw,
                               host=live_server.url, tracer_provider=provider, flush_at=1)
    with client.start_as_current_observation(name="support", as_type="agent",
                                             input={"question": "refund?"}) as agent:
        with client.start_as_current_observation(
            name="chat", as_type="generation", model="gpt-4o-mini",
            usage_details={"input": 40, "output": 8},
        ) as generation:
            generation.update(output="calling refund")
        with client.start_as_current_observation(name="refund", as_type="tool") as tool:
            tool.update(level="ERROR", status_message="payments service unavailable")
        agent.update(output="sorry")
        trace_id = agent.trace_id
    client.flush()
    client.shutdown()
    provider.shutdown()
    detail = invocation(key, trace_id)
    assert (detail["input_tokens"], detail["output_tokens"]) == (40, 8)
    steps = by_name(detail)
    assert (steps["support"]["kind"], steps["support"]["parent_span_id"]) == ("agent", None)
    assert (steps["chat"]["kind"], steps["chat"]["model"]) == ("llm", "gpt-4o-mini")
    refund = steps["refund"]
    assert (refund["kind"], refund["status"]) == ("tool", "error")
    assert refund["error_message"] == "payments service unavailable"
    assert detail["error_count"] == 1
    assert json.loads(json.dumps(detail["input"])) in ({"question": "refund?"}, None)
