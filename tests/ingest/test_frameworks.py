"""Framework vocabularies through the live OTLP route: the real attribute sets in
langfuse-framework-traces (each observation's raw OTel attributes) sent back as the spans they
came from, plus MCP tool calls as the MCP semantic conventions describe them.

A fixture observation keeps its span's attributes except those Langfuse consumed into its own
input and output fields; for LangSmith-instrumented spans (the Claude Agent SDK's) those were
`gen_ai.prompt` and `gen_ai.completion`, restored here.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from ingest.formats.conventions import map_attributes
from traceview.models import Invocation, Step

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES", REPO.parent / "shared" / "fixtures"))


def framework_spans(name: str) -> list[dict]:
    path = FIXTURES / "langfuse-framework-traces" / f"{name}.trace.json"
    if not path.is_file():
        pytest.skip(f"fixture not found at {path} (set TRACEVIEW_FIXTURES)")
    data = json.loads(path.read_text())
    spans = []
    for obs in data["observations"]:
        meta = obs.get("metadata")
        meta = json.loads(meta) if isinstance(meta, str) else meta or {}
        attrs = dict(meta.get("attributes") or {})
        if "langsmith.span.kind" in attrs:
            for key, field in (("gen_ai.prompt", "input"), ("gen_ai.completion", "output")):
                if obs.get(field) is not None:
                    attrs[key] = obs[field] if isinstance(obs[field], str) else json.dumps(
                        obs[field])
        spans.append({
            "traceId": obs["traceId"], "spanId": obs["id"],
            "parentSpanId": obs.get("parentObservationId") or "",
            "name": obs["name"], "attributes": attrs,
            "startTimeUnixNano": _ns(obs["startTime"]), "endTimeUnixNano": _ns(obs["endTime"]),
            "status": {"code": 2 if obs.get("level") == "ERROR" else 0},
            "_resource": meta.get("resourceAttributes") or {},
        })
    return spans


def _ns(text: str) -> str:
    return str(int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9))


def otlp(spans: list[dict]) -> dict:
    resource = spans[0].pop("_resource", {})
    for s in spans:
        s.pop("_resource", None)
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": k, "value": {"stringValue": str(v)}} for k, v in resource.items()]},
        "scopeSpans": [{"spans": spans}]}]}


def send(api, spans) -> dict[str, Step]:
    r = api.post("/v1/traces", otlp(spans), format="json")
    assert r.status_code == 200, r.content
    return {s.name: s for s in Step.objects.select_related("payload")}


@pytest.mark.django_db
def test_claude_agent_sdk_tools_are_mcp_calls_with_their_arguments(api, project):
    steps = send(api, framework_spans("claude-agent-2025-12-22"))
    inv = Invocation.objects.get()
    assert (inv.agent.name, steps["claude.conversation"].kind) == ("claude.conversation", "agent")
    tools = Step.objects.filter(kind="tool").select_related("payload").order_by("started_at")
    assert [t.payload.tool_arguments for t in tools] == [{"city": "Berlin"},
                                                          {"city": "New York"}]
    assert all(t.tool_name == "mcp__weather__get_weather" for t in tools)
    assert all(t.payload.attributes["traceview.mcp_server"] == "weather" for t in tools)
    assert all(isinstance(t.payload.tool_result, str) and "Berlin" in tools[0].payload.tool_result
               for t in tools[:1])


@pytest.mark.django_db
def test_google_adk_names_the_app_and_its_agent(api, project):
    steps = send(api, framework_spans("google-adk-2025-08-28"))
    inv = Invocation.objects.get()
    assert inv.agent.name == "hello_app"
    assert steps["agent_run [hello_agent]"].agent_name == "hello_agent"
    tool = steps["execute_tool say_hello"]
    assert (tool.kind, tool.tool_name, tool.payload.tool_result) == (
        "tool", "say_hello", {"greeting": "Hello Langfuse 👋"})


@pytest.mark.django_db
def test_crewai_names_the_agent_by_its_role(api, project):
    steps = send(api, framework_spans("crewai-2025-07-11"))
    assert steps["Task._execute_core"].agent_name == "Software developer"
    assert (steps["completion"].kind, steps["completion"].input_tokens) == ("llm", 190)


@pytest.mark.django_db
def test_microsoft_agent_framework_keeps_tool_call_ids_and_usage(api, project):
    steps = send(api, framework_spans("microsoft-agent-2025-12-17"))
    tool = steps["get_weather"]
    assert (tool.kind, tool.tool_call_id) == ("tool", "call_CwaJHuXTm9dmHFQPlVbqyzJ0")
    inv = Invocation.objects.get()
    assert (inv.input_tokens, inv.output_tokens) == (293, 106)


def test_an_mcp_tool_call_is_a_tool_step_naming_its_server():
    fields = map_attributes({
        "mcp.method.name": "tools/call", "gen_ai.tool.name": "create_issue",
        "mcp.server.name": "github", "mcp.session.id": "s-1",
        "gen_ai.tool.call.arguments": json.dumps({
            "title": "flaky test", "_meta": {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16
                                             + "-01"}}),
        "gen_ai.tool.call.result": json.dumps({
            "content": [{"type": "text", "text": "rate limited, retry in 60s"}],
            "isError": True}),
    }, "tools/call create_issue")
    assert (fields.kind, fields.tool_name, fields.mcp_server) == ("tool", "create_issue",
                                                                  "github")
    assert fields.tool_arguments == {"title": "flaky test"}
    assert fields.tool_result == "rate limited, retry in 60s"
    assert (fields.failed, fields.error_message) == (True, "rate limited, retry in 60s")


def test_an_mcp_call_named_only_by_its_span_is_still_a_tool():
    fields = map_attributes({"mcp.method.name": "tools/call"}, "tools/call get_forecast")
    assert (fields.kind, fields.tool_name, fields.mcp_server) == ("tool", "get_forecast", None)
    ok = map_attributes({"mcp.method.name": "tools/call", "gen_ai.tool.call.result": json.dumps(
        {"content": [{"type": "text", "text": "sunny"}], "isError": False})}, "tools/call x")
    assert (ok.tool_result, ok.failed) == ("sunny", False)
