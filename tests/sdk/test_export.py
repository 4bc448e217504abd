"""Export: batching, gzip, retries and the failure modes, over real HTTP to a local server.

The failure-mode tests prove the agent's calls neither block nor raise: against a server that
accepts a connection and never answers, the agent finishes all its work while the export thread
is still stuck in its first request; against a closed port everything is dropped and counted.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from traceview_sdk.export import build_payload, parse_retry_after

from .helpers import only, steps_by_name


class RecordingStop(threading.Event):
    """Stands in for the exporter's stop event to record retry delays instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def wait(self, timeout=None) -> bool:
        if timeout is not None:
            self.delays.append(timeout)
        return self.is_set()


def record_steps(client, count: int, agent: str = "batcher") -> str:
    with client.invocation(agent=agent) as inv:
        for i in range(count):
            with inv.step(f"step {i}"):
                pass
    return inv.trace_id


def test_it_gzips_batches_and_authenticates_with_the_bearer_key(ingest_server, make_client):
    client = make_client(ingest_server.url, api_key="tv_secret_key")
    record_steps(client, 3)
    client.flush(5)
    request = ingest_server.requests[0]
    assert request["path"] == "/api/v1/traces"
    assert request["headers"]["Authorization"] == "Bearer tv_secret_key"
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(gzip.decompress(request["raw"])) == json.loads(request["body"])
    assert len(only(ingest_server.store())["steps"]) == 4


def test_it_splits_records_into_batches_of_max_batch(ingest_server, make_client):
    client = make_client(ingest_server.url, max_batch=10, flush_interval=30)
    trace_id = record_steps(client, 35)
    client.flush(5)

    def records(payload: dict) -> int:
        inner = sum(len(i.get("steps", [])) + 1 for i in payload.get("invocations", []))
        return inner + len(payload.get("steps", []))

    payloads = ingest_server.accepted_json()
    assert len(payloads) >= 4
    assert all(records(p) <= 10 for p in payloads)
    assert len(ingest_server.store()[trace_id]["steps"]) == 36


def test_it_sends_on_the_flush_interval_without_an_explicit_flush(ingest_server, make_client):
    client = make_client(ingest_server.url, flush_interval=0.05)
    trace_id = record_steps(client, 1)
    assert ingest_server.wait_for(
        lambda: ingest_server.store().get(trace_id, {}).get("status") == "ok"
    )


def test_it_retries_after_429_honouring_retry_after(ingest_server, make_client):
    client = make_client(ingest_server.url)
    client.exporter._stop = stop = RecordingStop()
    ingest_server.answer((429, {"Retry-After": "7"}), (429, {"Retry-After": "3"}))
    trace_id = record_steps(client, 2)
    client.flush(5)
    assert [r["status"] for r in ingest_server.requests] == [429, 429, 202]
    assert stop.delays == [7.0, 3.0]
    assert ingest_server.requests[0]["body"] == ingest_server.requests[2]["body"]
    assert ingest_server.store()[trace_id]["status"] == "ok"


def test_it_retries_after_503_with_an_http_date_retry_after(ingest_server, make_client):
    client = make_client(ingest_server.url)
    client.exporter._stop = stop = RecordingStop()
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    ingest_server.answer((503, {"Retry-After": later}))
    record_steps(client, 1)
    client.flush(5)
    assert [r["status"] for r in ingest_server.requests] == [503, 202]
    assert 30 < stop.delays[0] <= 40


def test_it_backs_off_exponentially_on_server_errors(ingest_server, make_client):
    client = make_client(ingest_server.url, backoff_base=1.0, backoff_max=100)
    client.exporter._stop = stop = RecordingStop()
    ingest_server.answer(500, 502, 500, 408)
    record_steps(client, 1)
    client.flush(5)
    assert [r["status"] for r in ingest_server.requests] == [500, 502, 500, 408, 202]
    # Full backoff doubles each attempt; jitter takes it down by at most half.
    for attempt, delay in enumerate(stop.delays):
        assert 2**attempt * 0.5 <= delay <= 2**attempt


def test_it_gives_up_after_max_retries_and_counts_the_drop(ingest_server, make_client, caplog):
    client = make_client(ingest_server.url, max_retries=2)
    client.exporter._stop = RecordingStop()
    ingest_server.answer(500, 500, 500)
    record_steps(client, 2)
    with caplog.at_level(logging.WARNING, logger="traceview_sdk"):
        assert client.flush(5)
    assert len(ingest_server.requests) == 3
    assert client.stats["dropped"] == 5  # invocation start and end, root and two steps
    assert "dropping trace data" in caplog.text


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_it_does_not_retry_a_client_error_and_logs_it(ingest_server, make_client, caplog, status):
    client = make_client(ingest_server.url)
    ingest_server.answer(status)
    record_steps(client, 1)
    with caplog.at_level(logging.WARNING, logger="traceview_sdk"):
        client.flush(5)
    assert len(ingest_server.requests) == 1
    assert f"HTTP {status}" in caplog.text
    assert client.stats["dropped"] == 4  # invocation start and end, root and one step


def test_it_splits_a_batch_the_server_finds_too_large(ingest_server, make_client):
    client = make_client(ingest_server.url, flush_interval=30)
    ingest_server.answer(413)
    trace_id = record_steps(client, 9)
    client.flush(5)
    assert [r["status"] for r in ingest_server.requests] == [413, 202, 202]
    assert len(ingest_server.store()[trace_id]["steps"]) == 10
    assert client.stats.get("dropped", 0) == 0


def test_it_splits_a_body_over_max_body_bytes_before_sending(ingest_server, make_client):
    client = make_client(ingest_server.url, flush_interval=30, max_body_bytes=4000)
    with client.invocation(agent="big") as inv:
        for i in range(8):
            with inv.step(f"step {i}") as step:
                step.set_output("x" * 1000)
    client.flush(5)
    assert len(ingest_server.requests) > 2
    assert all(len(r["body"]) <= 4000 for r in ingest_server.requests)
    assert len(ingest_server.store()[inv.trace_id]["steps"]) == 9


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


class BlackHole:
    """Accepts connections and never answers until released."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        self.released = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def release(self) -> None:
        self.released.set()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def test_it_never_blocks_the_agent_while_the_server_hangs(make_client, caplog):
    hole = BlackHole()
    client = make_client(hole.url, timeout=60, max_queue=100, max_batch=10, max_retries=0)
    try:
        record_steps(client, 1)
        assert wait_until(lambda: len(hole.accepted) == 1)  # the exporter is stuck in a request
        with caplog.at_level(logging.WARNING, logger="traceview_sdk"):
            for _ in range(20):
                record_steps(client, 50)
            # The agent is done although the exporter is still waiting on its first request.
            assert len(hole.accepted) == 1 and not hole.released.is_set()
        assert client.stats["dropped"] > 0
        assert caplog.text.count("dropping trace data") == 1
    finally:
        hole.release()


def test_it_neither_blocks_nor_raises_when_the_server_is_down(make_client, closed_port_url, caplog):
    client = make_client(closed_port_url, max_retries=3)

    with caplog.at_level(logging.WARNING, logger="traceview_sdk"):
        for _ in range(5):
            with pytest.raises(KeyError):
                with client.invocation(agent="offline") as inv:
                    with inv.step("lookup", kind="tool"):
                        pass
                    raise KeyError("agent's own error propagates untouched")
        assert client.flush(10)
    assert client.stats["dropped"] == 20  # per run: start, end, root, one step
    assert client.stats["retries"] >= 3
    assert caplog.text.count("dropping trace data") == 1


def run_script(body: str, url: str) -> subprocess.CompletedProcess:
    script = "import traceview_sdk\n" + textwrap.dedent(body)
    env = {"TRACEVIEW_URL": url, "TRACEVIEW_API_KEY": "tv_script", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


def test_it_flushes_at_interpreter_exit(ingest_server):
    result = run_script(
        """
        with traceview_sdk.invocation(agent="short-lived", trace_id="exit-1") as inv:
            with inv.step("only step"):
                pass
        """,
        ingest_server.url,
    )
    assert result.returncode == 0, result.stderr
    stored = ingest_server.store()["exit-1"]
    assert stored["status"] == "ok"
    assert "only step" in steps_by_name(stored)


def test_it_leaves_the_run_on_the_server_when_the_agent_crashes(ingest_server):
    result = run_script(
        """
        @traceview_sdk.tool
        def charge(amount):
            raise RuntimeError("card declined")

        with traceview_sdk.invocation(agent="checkout", trace_id="crash-1"):
            with traceview_sdk.step("validate cart"):
                pass
            charge(12)
        """,
        ingest_server.url,
    )
    assert result.returncode == 1 and "card declined" in result.stderr
    stored = ingest_server.store()["crash-1"]
    assert stored["status"] == "error"
    steps = steps_by_name(stored)
    assert steps["validate cart"]["status"] == "ok"
    assert steps["charge"]["error"]["type"] == "RuntimeError"


def test_it_merges_records_of_one_batch_into_one_body():
    payload = build_payload(
        [
            ("invocation", {"trace_id": "t1", "status": "running", "agent": "a"}),
            ("step", {"trace_id": "t1", "span_id": "s1", "name": "x"}),
            ("step", {"trace_id": "t2", "span_id": "s9", "name": "late"}),
            ("invocation", {"trace_id": "t1", "status": "ok", "ended_at": "2026-01-01T00:00:00Z"}),
        ]
    )
    assert payload == {
        "invocations": [
            {
                "trace_id": "t1",
                "status": "ok",
                "agent": "a",
                "ended_at": "2026-01-01T00:00:00Z",
                "steps": [{"span_id": "s1", "name": "x"}],
            }
        ],
        "steps": [{"trace_id": "t2", "span_id": "s9", "name": "late"}],
    }


def test_it_parses_retry_after_in_seconds_and_as_a_date():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=5), usegmt=True)
    assert parse_retry_after(past) == 0.0
