"""A real local HTTP server standing in for TraceView's ingest API, and SDK clients pointed at it.

The server speaks HTTP on 127.0.0.1, decodes gzip bodies, records every request and answers from
a script of responses (202 by default), so the tests exercise the SDK's real transport.
"""

from __future__ import annotations

import collections
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import traceview_sdk


class IngestServer:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: collections.deque = collections.deque()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = (
                    gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                )
                with server.lock:
                    status, headers = server.script.popleft() if server.script else (202, {})
                    server.requests.append(
                        {
                            "path": self.path,
                            "headers": self.headers,  # case-insensitive lookups
                            "raw": raw,
                            "body": body,
                            "status": status,
                        }
                    )
                reply = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, *responses) -> None:
        """Script the next responses: status codes or (status, headers) pairs."""
        for response in responses:
            self.script.append(response if isinstance(response, tuple) else (response, {}))

    def accepted_json(self, path: str = "/api/v1/traces") -> list[dict]:
        return [
            json.loads(r["body"]) for r in self.requests if r["status"] < 300 and r["path"] == path
        ]

    def store(self) -> dict:
        """What the server would hold after upserting every accepted request, by trace_id.

        Each invocation is a dict with its steps under "steps" keyed by span_id.
        """
        invocations: dict = {}

        def upsert(target: dict, record: dict) -> None:
            target.update((k, v) for k, v in record.items() if v is not None and k != "steps")

        for payload in self.accepted_json():
            for inv in payload.get("invocations", []):
                stored = invocations.setdefault(inv["trace_id"], {"steps": {}})
                upsert(stored, inv)
                for step in inv.get("steps", []):
                    upsert(stored["steps"].setdefault(step["span_id"], {}), step)
            for step in payload.get("steps", []):
                stored = invocations.setdefault(step["trace_id"], {"steps": {}})
                upsert(stored["steps"].setdefault(step["span_id"], {}), step)
        return invocations

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ingest_server():
    server = IngestServer()
    yield server
    server.close()


@pytest.fixture
def make_client():
    """Clients with test-friendly timings; each is shut down at the end of the test."""
    clients = []

    def make(url: str, api_key: str = "tv_test_key", **options) -> traceview_sdk.Client:
        options.setdefault("flush_interval", 0.05)
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_max", 0.05)
        client = traceview_sdk.Client(url, api_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=1)


@pytest.fixture
def sdk_client(ingest_server, make_client):
    return make_client(ingest_server.url)


@pytest.fixture
def default_client(ingest_server, make_client):
    """The module-level default client (used by decorators) pointed at the test server."""
    client = make_client(ingest_server.url)
    previous = traceview_sdk.client._default
    traceview_sdk.client._default = client
    yield client
    traceview_sdk.client._default = previous


@pytest.fixture
def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"
