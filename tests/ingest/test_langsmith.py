"""LangSmith's runs API and OTel mode, driven by the real `langsmith` client against a live server.

The first test is the README's row run as written: a LangChain agent that knows nothing of
TraceView, started with three environment variables in a process of its own. The others drive
the client in-process through each of its routes (zstd multipart, plain multipart, /runs/batch,
POST /runs + PATCH /runs/<id>), the update-before-create order, and the OTel mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ingest.clients import by_name, invocation
from traceview.models import Invocation, Step

langsmith = pytest.importorskip("langsmith")
pytest.importorskip("langchain_core")

from langchain_core.tracers.context import tracing_v2_enabled  # noqa: E402

from ingest.formats.langsmith import parse_error  # noqa: E402
from tests.ingest.langchain_agent import (  # noqa: E402
    scripted_model,
    support_agent_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "tests" / "ingest" / "langchain_agent.py"


def run_script(env: dict, *args: str, script: str = AGENT.name) -> str:
    """One of the agent scripts beside this file, in a process of its own with `env`."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "OTEL_"))}
    proc = subprocess.run([sys.executable, str(AGENT.with_name(script)), *args],
                          env={**clean, **env},
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def only_trace_id(key) -> str:
    (trace_id,) = Invocation.objects.filter(project=key.project).values_list("trace_id",
                                                                              flat=True)
    return trace_id


def assert_agent_run(detail: dict) -> None:
    """The scripted agent's successful run, as stored."""
    assert (detail["agent"], detail["name"], detail["status"]) == (
        "support_agent", "support_agent", "ok")
    assert (detail["input_tokens"], detail["output_tokens"]) == (120, 11)
    steps = detail["steps"]
    assert sorted(s["kind"] for s in steps) == ["agent", "llm", "llm", "tool"]
    (root,) = [s for s in steps if s["parent_span_id"] is None]
    assert root["kind"] == "agent"
    assert all(s["parent_span_id"] == root["span_id"] for s in steps if s is not root)
    (tool,) = [s for s in steps if s["kind"] == "tool"]
    assert (tool["tool_name"], tool["status"]) == ("lookup_order", "ok")


def assert_step_payloads(key, detail: dict) -> None:
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw}")
    steps = {}
    for s in detail["steps"]:
        steps.setdefault(s["kind"], []).append(
            api.get(f"/api/v1/invocations/{detail['id']}/steps/{s['span_id']}").json())
    first, second = sorted(steps["llm"], key=lambda s: s["started_at"])
    assert first["input"] == [
        {"role": "system", "content": "You help with orders."},
        {"role": "user", "content": "Where is order 4411?"}]
    assert first["output"] == [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "name": "lookup_order", "arguments": {"order_id": 4411}}]}]
    assert second["input"][-1] == {"role": "tool", "content": "order 4411 ships Monday",
                                   "tool_call_id": "call_1", "name": "lookup_order"}
    assert second["output"] == [{"role": "assistant", "content": "It ships Monday."}]
    (tool,) = steps["tool"]
    assert (tool["tool_arguments"], tool["tool_result"], tool["tool_call_id"]) == (
        {"order_id": 4411}, "order 4411 ships Monday", "call_1")


def test_it_stores_a_langchain_agent_traced_with_only_the_environment(live_server, key):
    out = run_script({"LANGSMITH_TRACING": "true", "LANGSMITH_ENDPOINT": live_server.url,
                      "LANGSMITH_API_KEY": key.raw}, "4411")
    assert "It ships Monday." in out
    assert "Failed" not in out and "Traceback" not in out, out
    detail = invocation(key, only_trace_id(key))
    assert_agent_run(detail)
    assert_step_payloads(key, detail)


def test_it_records_the_failing_tool_and_run_with_the_exception(live_server, key):
    out = run_script({"LANGSMITH_TRACING": "true", "LANGSMITH_ENDPOINT": live_server.url,
                      "LANGSMITH_API_KEY": key.raw}, "13")
    assert "failed: order 13 is not in the database" in out
    detail = invocation(key, only_trace_id(key))
    assert (detail["status"], detail["error_count"]) == ("error", 2)
    failed = {s["kind"]: s for s in detail["steps"] if s["status"] == "error"}
    assert set(failed) == {"agent", "tool"}
    for step in failed.values():
        assert (step["error_type"], step["error_message"]) == (
            "ValueError", "order 13 is not in the database")


# ---------------------------------------------------------------------------------------------
# Each route of the client, in-process

BATCH = {"use_multipart_endpoint": True, "size_limit": 100, "size_limit_bytes": 20_000_000,
         "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
         "scale_down_nempty_trigger": 4}
ROUTES = {
    "multipart-zstd": None,  # the server's own /info
    "multipart": {"batch_ingest_config": BATCH, "instance_flags": {}},
    "batch": {"batch_ingest_config": {**BATCH, "use_multipart_endpoint": False}},
}


@pytest.fixture
def client_for(live_server, key, monkeypatch):
    monkeypatch.delenv("LANGSMITH_DISABLE_RUN_COMPRESSION", raising=False)
    clients = []

    def make(**kwargs):
        client = langsmith.Client(api_url=live_server.url, api_key=key.raw, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.flush()
        client.cleanup()
        # Its keep-alive connection holds a live-server thread and that thread's database
        # connection open until the test database cannot be dropped.
        client.session.close()


@pytest.mark.parametrize("route", ROUTES)
def test_it_accepts_each_route_of_the_client(client_for, key, route):
    client = client_for(info=ROUTES[route])
    with tracing_v2_enabled(project_name="support", client=client):
        answer = support_agent_for(scripted_model(4411)).invoke("Where is order 4411?")
    assert answer == "It ships Monday."
    client.flush()
    detail = invocation(key, only_trace_id(key))
    assert_agent_run(detail)
    assert_step_payloads(key, detail)
    inv = Invocation.objects.get(project=key.project)
    assert inv.attributes["langsmith_project"] == "support"


def test_it_accepts_single_runs_and_an_update_that_arrives_first(client_for, key):
    client = client_for(auto_batch_tracing=False)
    trace, child = uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    dotted = f"{start:%Y%m%dT%H%M%S%fZ}{trace}"
    child_dotted = f"{dotted}.{start + timedelta(seconds=1):%Y%m%dT%H%M%S%fZ}{child}"
    # The child's update is sent before its create: the create must not undo it.
    client.update_run(child, trace_id=trace, dotted_order=child_dotted, parent_run_id=trace,
                      end_time=start + timedelta(seconds=2),
                      outputs={"documents": [{"page_content": "refund policy"}]})
    client.create_run("search_docs", inputs={"query": "refunds"}, run_type="retriever",
                      id=child, trace_id=trace, dotted_order=child_dotted, parent_run_id=trace,
                      start_time=start + timedelta(seconds=1))
    client.create_run("planner", inputs={"question": "refund?"}, run_type="chain", id=trace,
                      trace_id=trace, dotted_order=dotted, start_time=start,
                      extra={"metadata": {"revision_id": "1.4.0", "thread_id": "t-9"}})
    client.update_run(trace, trace_id=trace, dotted_order=dotted, end_time=start +
                      timedelta(seconds=3), outputs={"answer": "30 days"})
    detail = invocation(key, str(trace))
    assert (detail["agent"], detail["agent_version"], detail["status"]) == (
        "planner", "1.4.0", "ok")
    steps = by_name(detail)
    search = steps["search_docs"]
    assert (search["kind"], search["status"], search["parent_span_id"]) == (
        "retrieval", "ok", str(trace))
    stored = Step.objects.select_related("payload").get(span_id=str(child))
    assert stored.payload.input == {"query": "refunds"}
    assert stored.payload.output == {"documents": [{"page_content": "refund policy"}]}
    assert Invocation.objects.get(trace_id=str(trace)).attributes["session_id"] == "t-9"


def test_it_answers_json_errors_the_client_can_print(client, key):
    r = client.post("/runs/batch", {"post": [{"name": "no id"}]}, content_type="application/json",
                    HTTP_X_API_KEY=key.raw)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"path": "post[0].id", "reason": "required: the run's id"}]
    r = client.patch(f"/runs/{uuid.uuid4()}", {"end_time": "2026-01-01T00:00:00Z"},
                     content_type="application/json", HTTP_X_API_KEY=key.raw)
    assert (r.status_code, r.json()["errors"][0]["path"]) == (400, "trace_id")
    r = client.post("/runs", {"id": "r1", "trace_id": "r1", "start_time": "yesterday"},
                    content_type="application/json", HTTP_X_API_KEY=key.raw)
    assert r.json()["errors"] == [{"path": "post[0].start_time",
                                   "reason": "not an RFC 3339 timestamp"}]
    assert not Invocation.objects.exists()
    r = client.post("/runs", {"id": "r1", "trace_id": "r1"}, content_type="application/json")
    assert r.status_code == 401 and r["Content-Type"] == "application/json"


@pytest.mark.parametrize("text, expected", [
    ("ValueError('order 13 is cursed')Traceback (most recent call last):\n  File \"a.py\", "
     "line 1, in f\n    raise ValueError(\"order 13 is cursed\")\nValueError: order 13 is cursed",
     ("ValueError", "order 13 is cursed", True)),
    ("TimeoutError('search timed out')", ("TimeoutError", "search timed out", False)),
    ("KeyError: 'sku'", ("KeyError", "'sku'", False)),
    ("the model refused", (None, "the model refused", False)),
])
def test_it_reads_type_and_message_from_langchain_errors(text, expected):
    error_type, message, traceback = parse_error(text)
    assert (error_type, message, traceback is not None) == expected


# ---------------------------------------------------------------------------------------------
# OTel mode


def test_it_reads_langsmiths_otel_mode_as_ordinary_steps(live_server, key):
    out = run_script({"LANGSMITH_TRACING": "true", "LANGSMITH_OTEL_ENABLED": "true",
                      "LANGSMITH_OTEL_ONLY": "true", "LANGSMITH_ENDPOINT": live_server.url,
                      "LANGSMITH_API_KEY": key.raw}, "4411")
    assert "It ships Monday." in out and "Failed" not in out, out
    detail = invocation(key, only_trace_id(key))
    assert_agent_run(detail)
    assert_step_payloads(key, detail)
    assert json.dumps(detail).count("lc_run--") == 0
