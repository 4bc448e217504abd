"""What the real-client tests share: reading back what was stored, a GenAI run emitted through
the OpenTelemetry SDK and its expected steps, and the OTLP/gRPC server as a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode
from rest_framework.test import APIClient

from tests.conftest import REPO, _database_url


def invocation(key, trace_id: str) -> dict:
    """The stored invocation with its steps, through the read API."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw}")
    found = api.get("/api/v1/invocations", {"trace_id": trace_id}).json()["results"]
    assert len(found) == 1, (trace_id, found)
    return api.get(f"/api/v1/invocations/{found[0]['id']}").json()


def step_detail(key, invocation_id: int, span_id: str) -> dict:
    """One step with its payload (messages, tool arguments, attributes), through the read API."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw}")
    return api.get(f"/api/v1/invocations/{invocation_id}/steps/{span_id}").json()


def by_name(detail: dict) -> dict[str, dict]:
    return {s["name"]: s for s in detail["steps"]}


def emit_genai_run(provider: TracerProvider) -> str:
    tracer = provider.get_tracer("tests.real_clients")
    with tracer.start_as_current_span("invoke_agent planner") as root:
        root.set_attributes({"gen_ai.operation.name": "invoke_agent",
                             "gen_ai.agent.name": "planner"})
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 15,
                "gen_ai.response.finish_reasons": ["tool_calls"],
            })
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attributes({"gen_ai.operation.name": "execute_tool",
                                 "gen_ai.tool.name": "search", "gen_ai.tool.call.id": "call_9"})
            tool.record_exception(TimeoutError("search timed out after 30s"))
            tool.set_status(Status(StatusCode.ERROR, "search timed out after 30s"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    return trace_id


def provider_for(exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-client"}))
    # The batch processor, as OTEL_* environment set-ups use: the run arrives in one request.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def assert_genai_run(key, trace_id: str) -> None:
    detail = invocation(key, trace_id)
    assert (detail["agent"], detail["status"], detail["step_count"]) == ("planner", "ok", 3)
    assert (detail["input_tokens"], detail["output_tokens"]) == (120, 15)
    steps = by_name(detail)
    root = steps["invoke_agent planner"]
    assert (root["kind"], root["parent_span_id"]) == ("agent", None)
    chat = steps["chat gpt-4o"]
    assert (chat["kind"], chat["model"], chat["parent_span_id"]) == ("llm", "gpt-4o",
                                                                    root["span_id"])
    tool = steps["execute_tool search"]
    assert (tool["kind"], tool["tool_name"], tool["status"]) == ("tool", "search", "error")
    assert tool["error_type"] == "TimeoutError"
    assert "timed out" in tool["error_message"]


class GrpcServer:
    """`manage.py serve_otlp_grpc` in a process of its own, on a free port of 127.0.0.1, on the
    test database (or the one `env` names)."""

    def __init__(self, tmp_path: Path, env: dict | None = None):
        self.log_path = tmp_path / f"otlp-grpc-{time.monotonic_ns()}.log"
        env = {**os.environ, "DATABASE_URL": _database_url(), **(env or {})}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve_otlp_grpc", "--bind", "127.0.0.1:0",
                 "--threads", "4"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not (m := re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.log_path.read_bytes())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the OTLP/gRPC server did not start:\n{self.log()}")
            time.sleep(0.1)
        self.port = int(m.group(1))
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
