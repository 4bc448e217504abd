"""Langfuse as users run it: the SDK's @observe decorator over OTel (v3 and later, against a live
server), and SDK v2 ingestion batches whose tool calls are plain spans.

No OTEL_SERVICE_NAME anywhere: the agent must come from what Langfuse itself shows, the trace's
name or its root observation.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from rest_framework.test import APIClient

from tests.ingest.clients import by_name, invocation
from traceview.models import Invocation, Step

langfuse = pytest.importorskip("langfuse")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lf(live_server, key, monkeypatch):
    for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST",
                 "LANGFUSE_BASE_URL", "LANGFUSE_TRACING_ENVIRONMENT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    provider = TracerProvider()
    client = langfuse.Langfuse(public_key=key.public_key, secret_key=key.raw,
                               host=live_server.url, tracer_provider=provider, flush_at=1)
    yield client
    client.flush()
    client.shutdown()
    provider.shutdown()


def decorated_agent():
    from langfuse import observe

    @observe(as_type="generation")
    def chat(messages, temperature=0):
        return {"role": "assistant", "content": "", "tool_calls": [{
            "id": "call_7", "type": "function",
            "function": {"name": "refund", "arguments": '{"order": 7}'}}]}

    @observe(as_type="tool")
    def refund(order: int):
        return f"order {order} refunded"

    @observe()
    def support(question: str):
        chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}])
        return refund(order=7)

    return support


def step_detail(key, detail, name):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw}")
    step = by_name(detail)[name]
    return api.get(f"/api/v1/invocations/{detail['id']}/steps/{step['span_id']}").json()


def only_trace_id(key) -> str:
    (trace_id,) = Invocation.objects.filter(project=key.project).values_list("trace_id",
                                                                              flat=True)
    return trace_id


def test_it_names_the_agent_after_the_root_observation_and_reads_decorated_calls(lf, key):
    agent = decorated_agent()
    assert agent("refund order 7?", langfuse_public_key=key.public_key) == "order 7 refunded"
    lf.flush()
    detail = invocation(key, only_trace_id(key))
    assert (detail["agent"], detail["name"], detail["status"]) == ("support", "support", "ok")
    chat = step_detail(key, detail, "chat")
    assert chat["kind"] == "llm"
    assert chat["input"] == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "refund order 7?"}]
    assert chat["output"][0]["tool_calls"] == [
        {"id": "call_7", "name": "refund", "arguments": {"order": 7}}]
    refund = step_detail(key, detail, "refund")
    assert (refund["kind"], refund["tool_arguments"], refund["tool_result"]) == (
        "tool", {"order": 7}, "order 7 refunded")
    root = step_detail(key, detail, "support")
    assert root["input"] == "refund order 7?"


def test_it_names_the_agent_after_the_trace_name_when_there_is_one(lf, key):
    from langfuse import propagate_attributes

    with propagate_attributes(trace_name="refund-bot"):
        decorated_agent()("refund order 7?", langfuse_public_key=key.public_key)
    lf.flush()
    detail = invocation(key, only_trace_id(key))
    assert (detail["agent"], detail["name"]) == ("refund-bot", "refund-bot")


# ---------------------------------------------------------------------------------------------
# SDK v2 ingestion batches (the v2 SDK cannot be installed beside v3+; these are its events)


def event(i, kind, body):
    return {"id": f"ev-{i}", "type": kind, "timestamp": "2026-01-01T00:00:00Z", "body": body}


def v2_batch(trace_id: str, spans: list[dict]) -> dict:
    t = "2026-01-01T00:00:0{}Z".format
    return {"batch": [
        event(0, "trace-create", {"id": trace_id, "name": "weather-bot", "timestamp": t(0)}),
        event(1, "span-create", {"id": "root", "traceId": trace_id, "name": "agent",
                                 "startTime": t(0), "endTime": t(9)}),
        event(2, "generation-create", {
            "id": "gen", "traceId": trace_id, "parentObservationId": "root", "name": "chat",
            "model": "gpt-4o-mini", "startTime": t(1), "endTime": t(2),
            "input": {"args": [[{"role": "user", "content": "weather in Paris and Rome?"}]],
                      "kwargs": {}},
            "output": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_p", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_r", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
            "usage": {"input": 20, "output": 9}}),
        *[event(3 + i, "span-create", {"traceId": trace_id, "parentObservationId": "root",
                                       "startTime": t(3), "endTime": t(4), **span})
          for i, span in enumerate(spans)],
    ]}


def test_it_makes_tool_steps_of_v2_spans_that_ran_tools(client, key):
    spans = [
        # asked for by the generation: matched by name, the call id by its arguments
        {"id": "s-rome", "name": "get_weather", "input": {"args": [], "kwargs": {"city": "Rome"}},
         "output": "Rome: 25C"},
        {"id": "s-paris", "name": "get_weather", "input": {"city": "Paris"},
         "output": "Paris: 21C"},
        # named as a tool
        {"id": "s-named", "name": "tool: send_email", "input": {"to": "a@b.c"}, "output": "sent"},
        # its output is a tool message
        {"id": "s-shaped", "name": "lookup", "input": {"q": "x"},
         "output": {"role": "tool", "tool_call_id": "call_z", "content": "found"}},
        # an ordinary span stays one
        {"id": "s-plain", "name": "format_answer", "input": {"text": "x"}, "output": "y"},
    ]
    r = client.post("/api/public/ingestion", v2_batch("lf-v2-tools", spans),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=_basic(key.public_key, key.raw))
    assert r.status_code == 207 and r.json()["errors"] == []
    steps = {s.span_id: s for s in Step.objects.select_related("payload")}
    got = {sid: (s.kind, s.tool_name, s.tool_call_id, s.payload.tool_arguments,
                 s.payload.tool_result) for sid, s in steps.items() if sid.startswith("s-")}
    assert got == {
        "s-rome": ("tool", "get_weather", "call_r", {"city": "Rome"}, "Rome: 25C"),
        "s-paris": ("tool", "get_weather", "call_p", {"city": "Paris"}, "Paris: 21C"),
        "s-named": ("tool", "send_email", "", {"to": "a@b.c"}, "sent"),
        "s-shaped": ("tool", "lookup", "call_z", {"q": "x"}, "found"),
        "s-plain": ("other", "", "", None, None),
    }
    assert steps["gen"].payload.input == [
        {"role": "user", "content": "weather in Paris and Rome?"}]
    inv = Invocation.objects.get()
    assert (inv.agent.name, inv.tool_call_count) == ("weather-bot", 4)


def _basic(public: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()


def test_decorated_inputs_stay_whole_when_they_are_not_one_argument():
    from ingest.formats.conventions import unwrap_call

    both = {"args": ["<Agent object>", "hi"], "kwargs": {"k": 1}}
    assert unwrap_call(both) == both
    assert unwrap_call(json.dumps({"args": [{"a": 1}]})) == {"a": 1}
    assert unwrap_call({"args": [], "kwargs": {}}) == {}
    assert unwrap_call({"args": "x"}) == {"args": "x"}
