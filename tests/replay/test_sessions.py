"""Sessions: the session id read at ingest from each convention that carries one, the session
page (turns in order, inputs and outputs, totals, failed turns) and the list's session filter."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from tests.conftest import post_native
from tests.pages_data import T0, store, support_run
from traceview.core.trace import session_of
from traceview.models import Invocation, Project

XSS = '<script>alert("x")</script>'


@pytest.mark.parametrize("attributes, steps, expected", [
    ({"session_id": "s-1", "conversation_id": "c-1"}, [], "s-1"),
    ({"conversation_id": "c-1"}, [], "c-1"),
    ({"group_id": "g-1"}, [], "g-1"),
    ({"user_id": "u-1"}, [{"metadata": '{"thread_id": "t-1", "langgraph_step": 3}'}], "t-1"),
    ({}, [{"metadata": {"langfuse_session_id": "lf-1"}}], "lf-1"),
    ({"user_id": "u-1"}, [{"metadata": "not json thread_id"}], None),
    (None, [], None),
])
def test_it_reads_the_session_id_each_convention_sends(attributes, steps, expected):
    assert session_of(attributes, steps) == expected


def _native(trace_id, attributes, status="ok", start=T0):
    def at(seconds):
        return (start + timedelta(seconds=seconds)).isoformat()

    return {"trace_id": trace_id, "agent": "chat-bot", "status": status, "attributes": attributes,
            "input": f"question of {trace_id}", "output": f"answer of {trace_id}",
            "steps": [{"span_id": "root", "kind": "agent", "name": "chat-bot", "status": status,
                       "started_at": at(0), "ended_at": at(2)}]}


def test_it_fills_the_session_at_ingest_from_every_format(api, project):
    post_native(api, {"invocations": [_native("nat", {"conversation_id": "conv-native"})]})
    otlp = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
        "traceId": "ab" * 16, "spanId": "cd" * 8, "name": "invoke_agent",
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "gen_ai.conversation.id",
                        "value": {"stringValue": "conv-otlp"}}]}]}]}]}
    r = api.post("/v1/traces", json.dumps(otlp), content_type="application/json")
    assert r.status_code == 200, r.content
    agents = {"data": [{"object": "trace", "id": "trace_sdk1", "workflow_name": "wf",
                        "group_id": "conv-agents-sdk"}]}
    r = api.post("/v1/traces/ingest", json.dumps(agents), content_type="application/json")
    assert r.status_code in (200, 204), r.content
    key = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    basic = base64.b64encode(f"pk-x:{key}".encode()).decode()
    batch = {"batch": [{"id": "e1", "type": "trace-create", "timestamp": "2026-01-01T00:00:00Z",
                        "body": {"id": "lf-trace", "name": "turn", "sessionId": "conv-langfuse"}}]}
    r = api.post("/api/public/ingestion", json.dumps(batch), content_type="application/json",
                 HTTP_AUTHORIZATION=f"Basic {basic}")
    assert r.status_code == 207, r.content
    sessions = dict(Invocation.objects.values_list("trace_id", "session_id"))
    assert sessions == {"nat": "conv-native", "ab" * 16: "conv-otlp",
                        "trace_sdk1": "conv-agents-sdk", "lf-trace": "conv-langfuse"}


def _conversation(api, project):
    turns = []
    for i, status in enumerate(("ok", "error", "ok")):
        turns.append(_native(f"turn-{i}", {"session_id": "chat-42"}, status,
                             start=T0 + timedelta(minutes=i)))
    turns[1]["input"] = XSS
    # Arrives out of order; the page orders by start.
    post_native(api, {"invocations": [turns[2], turns[0], turns[1]]})
    post_native(api, {"invocations": [_native("elsewhere", {"session_id": "chat-43"})]})


def test_it_shows_a_session_as_its_turns_in_order(browser_client, api, project):
    _conversation(api, project)
    response = browser_client.get("/sessions/", {"id": "chat-42"})
    body = response.content.decode()
    assert response.status_code == 200
    order = [body.index(f"answer of turn-{i}") for i in range(3)]
    assert order == sorted(order)
    assert "elsewhere" not in body
    assert XSS not in body and "&lt;script&gt;" in body
    assert 'id="session-failed"' in body and '<dd id="session-failed-count">1</dd>' in body


def test_it_filters_the_list_by_session_and_links_runs_to_their_session(
    browser_client, api, project
):
    _conversation(api, project)
    body = browser_client.get("/", {"session": "chat-42"}).content.decode()
    assert "turn-0" in body and "turn-2" in body and "elsewhere" not in body
    inv = Invocation.objects.get(trace_id="turn-1")
    page = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert 'id="session-link"' in page and "chat-42" in page


def test_it_hides_sessions_of_other_projects(browser_client, project):
    other = Project.objects.create(name="other")
    data = support_run(other, "foreign")
    data.attributes = {"session_id": "secret-session"}
    store(other, data)
    assert browser_client.get("/sessions/", {"id": "secret-session"}).status_code == 404
    assert browser_client.get("/sessions/").status_code == 404


def test_it_filters_the_api_by_session(api, project):
    _conversation(api, project)
    rows = api.get("/api/v1/invocations", {"session": "chat-42"}).json()["results"]
    assert sorted(r["trace_id"] for r in rows) == ["turn-0", "turn-1", "turn-2"]
    assert {r["session_id"] for r in rows} == {"chat-42"} and rows[0]["unpriced_calls"] == 0
    assert api.get("/api/v1/invocations", {"session": "a\x00b"}).status_code == 400


@pytest.mark.parametrize("name, session", [
    ("google-adk-2025-08-28", "demo-session"),
    ("langgraph-python-2025-08-22", "demo-thread-1"),
])
def test_it_reads_the_session_of_real_langfuse_exports(project, name, session):
    import os
    from pathlib import Path

    from ingest.formats.langfuse import langfuse_export_to_invocations
    from ingest.store import invocations_store

    path = Path(os.environ.get("TRACEVIEW_FIXTURES", "../shared/fixtures"),
                "langfuse-framework-traces", f"{name}.trace.json")
    if not path.exists():
        pytest.skip(f"fixture not found at {path} (set TRACEVIEW_FIXTURES)")
    result = invocations_store(project, langfuse_export_to_invocations(json.loads(
        path.read_text())))
    assert Invocation.objects.get(id=result.invocation_ids[0]).session_id == session
