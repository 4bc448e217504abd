"""Node: `@opentelemetry/sdk-node` with its OTLP exporters, configured only by the environment,
against a live test server (http/protobuf, http/json) and the OTLP/gRPC server (grpc); and the
Vercel AI SDK's OpenTelemetry integration on the SDK's own mock model.

tests/node/ pins the packages (package.json and its lock); `npm ci` installs them on first use.
The tests skip, saying so, when node or npm is not installed. Node's HTTP exporters stream their
bodies (`Transfer-Encoding: chunked`), which the live server de-chunks as gunicorn does.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO
from tests.ingest.clients import GrpcServer, assert_genai_run, invocation, step_detail
from traceview.models import Invocation

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = REPO / "tests" / "node"


@pytest.fixture(scope="module")
def node():
    """The node executable, with tests/node's packages installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: the Node clients are not tested")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed in {NODE_DIR}:\n{done.stderr[-4000:]}"
    return node


@pytest.fixture(scope="module")
def grpc_server(django_db_setup, tmp_path_factory):
    started = GrpcServer(tmp_path_factory.mktemp("grpc"))
    yield started
    started.stop()


def node_run(node: str, endpoint: str, protocol: str, raw_key: str) -> tuple[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_SERVICE_NAME": "node-agent",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{raw_key}",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOG_LEVEL": "warn",
    }
    done = subprocess.run([node, "agent.js"], cwd=NODE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return done.stdout.strip().splitlines()[-1], output


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_it_accepts_the_node_sdk(node, live_server, grpc_server, key, protocol):
    endpoint = grpc_server.endpoint if protocol == "grpc" else live_server.url
    trace_id, output = node_run(node, endpoint, protocol, key.raw)
    # Any export that failed (traces, logs or metrics, a 404 or a refusal) is reported here.
    assert "error" not in output.lower(), output
    assert_genai_run(key, trace_id)
    detail = invocation(key, trace_id)
    chat = next(s for s in detail["steps"] if s["name"] == "chat gpt-4o")
    assert step_detail(key, detail["id"], chat["span_id"])["input"] == [
        {"role": "user", "content": "Find the refund policy."}]


def test_it_accepts_the_vercel_ai_sdk(node, live_server, key):
    # The AI SDK's OpenTelemetry integration (@ai-sdk/otel) on its own mock model: a tool call,
    # then an answer, exported over OTLP/HTTP by sdk-node.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_EXPORTER_OTLP_ENDPOINT": live_server.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{key.raw}",
        "OTEL_LOG_LEVEL": "warn",
    }
    done = subprocess.run([node, "vercel-ai.mjs"], cwd=NODE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "error" not in output.lower(), output
    (trace_id,) = Invocation.objects.filter(project=key.project).values_list("trace_id",
                                                                              flat=True)
    detail = invocation(key, trace_id)
    assert (detail["agent"], detail["status"]) == ("support-bot", "ok")
    assert (detail["input_tokens"], detail["output_tokens"]) == (130, 21)
    assert sorted(s["kind"] for s in detail["steps"]) == [
        "agent", "llm", "llm", "other", "other", "tool"]
    tool = next(s for s in detail["steps"] if s["kind"] == "tool")
    tool = step_detail(key, detail["id"], tool["span_id"])
    assert (tool["tool_name"], tool["tool_call_id"]) == ("lookup_order", "call_1")
    assert tool["tool_arguments"] == {"orderId": 4411}
    assert tool["tool_result"] == {"orderId": 4411, "status": "shipped"}
    first, second = sorted((s for s in detail["steps"] if s["kind"] == "llm"),
                           key=lambda s: s["started_at"])
    assert (second["input_tokens"], second["output_tokens"]) == (80, 9)
    second = step_detail(key, detail["id"], second["span_id"])
    roles = [m["role"] for m in second["input"]]
    assert roles == ["system", "user", "assistant", "tool"], second["input"]
    assert second["input"][2]["tool_calls"][0]["name"] == "lookup_order"
    assert second["input"][3]["tool_call_id"] == "call_1"
    assert second["output"] == [{"role": "assistant",
                                 "content": "Order 4411 shipped on Monday."}]
