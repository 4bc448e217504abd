"""Bodies arrive whole or are refused: chunked transfer, lying Content-Length, truncated gzip.

Node's OTLP exporters send `Transfer-Encoding: chunked` with no Content-Length; a body read as
empty once answered 200 and stored nothing. These tests post over real sockets, to the test live
server (Django's server with the de-chunking handler that `make run` uses) and to gunicorn (the
production server), and check what was stored.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import REPO, _database_url
from traceview.models import ApiKey, Invocation, Project, Step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(transactional_db):
    project = Project.objects.create(name="framing")
    _, raw = ApiKey.issue(project, name="framing")
    return raw


def native_body(trace_id: str, steps: int = 3) -> bytes:
    return json.dumps({"invocations": [{
        "trace_id": trace_id, "agent": "chunky", "status": "ok",
        "steps": [{"span_id": f"s{i}", "kind": "tool", "name": f"step {i}",
                   "parent_span_id": "s0" if i else None} for i in range(steps)],
    }]}).encode()


def otlp_json_body(trace_hex: str, spans: int = 3) -> bytes:
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "chunky"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_hex, "spanId": f"{i + 1:016x}", "name": f"span {i}",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
        } for i in range(spans)]}]}]}).encode()


def otlp_proto_body(trace_hex: str, spans: int = 3) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(spans):
        span = scope.spans.add(trace_id=bytes.fromhex(trace_hex), span_id=(i + 1).to_bytes(8),
                               name=f"span {i}", start_time_unix_nano=1_700_000_000 * 10**9,
                               end_time_unix_nano=1_700_000_001 * 10**9)
        assert span.name
    return request.SerializeToString()


def post_chunked(base_url: str, path: str, body: bytes, headers: dict, chunk: int = 700):
    """POST with Transfer-Encoding: chunked and no Content-Length, as Node's exporters do."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    pieces = (body[i:i + chunk] for i in range(0, len(body), chunk))
    conn.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def steps_of(trace_id: str) -> int:
    return Step.objects.filter(invocation__trace_id=trace_id).count()


ROUTES = [
    ("native", "/api/v1/traces", "application/json", lambda t: native_body(t), "nat-1"),
    ("otlp-json", "/v1/traces", "application/json", otlp_json_body, "a1" * 16),
    ("otlp-proto", "/v1/traces", "application/x-protobuf", otlp_proto_body, "b2" * 16),
]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(("name", "path", "content_type", "make", "trace_id"), ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_it_stores_a_chunked_body(live_server, key, name, path, content_type, make, trace_id,
                                  gzipped):
    body = make(trace_id)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    status, reply = post_chunked(live_server.url, path, body, headers)
    assert 200 <= status < 300, reply
    assert steps_of(trace_id) == 3


def test_it_keeps_the_connection_usable_after_a_chunked_body(live_server, key):
    url = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for trace_id in ("keep-1", "keep-2"):
        body = native_body(trace_id)
        conn.request("POST", "/api/v1/traces", body=iter([body[:50], body[50:]]),
                     headers=headers, encode_chunked=True)
        response = conn.getresponse()
        response.read()
        assert response.status == 202
    conn.close()
    assert (steps_of("keep-1"), steps_of("keep-2")) == (3, 3)


def test_it_answers_413_for_a_chunked_body_above_the_limit(live_server, key, settings):
    settings.TRACEVIEW_MAX_BODY_BYTES = 2000
    status, reply = post_chunked(live_server.url, "/api/v1/traces", native_body("big", 60),
                                 {"Authorization": f"Bearer {key}",
                                  "Content-Type": "application/json"})
    assert status == 413, reply
    assert not Invocation.objects.filter(trace_id="big").exists()


def test_it_answers_400_for_malformed_chunk_framing(live_server, key):
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/traces HTTP/1.1\r\nHost: localhost\r\n"
                     b"Transfer-Encoding: chunked\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]


def send_short_body(base_url: str, key: str, body: bytes, declared: int) -> bytes:
    """Send headers declaring `declared` bytes, then fewer, then close our side."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/traces HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nConnection: close\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\n"
                     b"Content-Length: " + str(declared).encode() + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_it_answers_400_when_less_arrives_than_content_length_declares(live_server, key):
    body = native_body("short")
    reply = send_short_body(live_server.url, key, body, len(body) + 500)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"truncated" in reply and str(len(body) + 500).encode() in reply
    assert not Invocation.objects.filter(trace_id="short").exists()


@pytest.mark.parametrize("path", ["/api/v1/traces", "/v1/traces"])
@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress), ("zstd", lambda b: zstandard.ZstdCompressor().compress(b))])
def test_it_answers_400_for_a_truncated_compressed_body(api, project, path, encoding, compress):
    body = compress(native_body("trunc") if "api" in path else otlp_json_body("c3" * 16))
    r = api.generic("POST", path, body[: len(body) - 12], content_type="application/json",
                    HTTP_CONTENT_ENCODING=encoding)
    assert r.status_code == 400, r.content
    assert b"truncated" in r.content
    assert Invocation.objects.count() == 0


def test_it_answers_411_for_chunked_input_a_server_did_not_de_chunk(api):
    # A WSGI server that passes chunked bodies through without terminating wsgi.input: Django
    # would read nothing, so the answer must say so rather than store an empty body.
    r = api.generic("POST", "/api/v1/traces", native_body("raw"), content_type="application/json",
                    HTTP_TRANSFER_ENCODING="chunked")
    assert r.status_code == 411, r.content
    assert b"chunked" in r.content


# ---------------------------------------------------------------------------------------------
# gunicorn, the production server


@pytest.fixture
def gunicorn_url(transactional_db, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": _database_url(), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "1"}
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "traceview.wsgi"], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail((tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


def test_gunicorn_stores_chunked_bodies_of_every_route(gunicorn_url, key):
    for _name, path, content_type, make, trace_id in ROUTES:
        status, reply = post_chunked(gunicorn_url, path, gzip.compress(make(trace_id)),
                                     {"Authorization": f"Bearer {key}",
                                      "Content-Type": content_type, "Content-Encoding": "gzip"})
        assert 200 <= status < 300, (path, reply)
        assert steps_of(trace_id) == 3, path


def test_gunicorn_answers_400_when_less_arrives_than_content_length_declares(gunicorn_url, key):
    body = native_body("g-short")
    reply = send_short_body(gunicorn_url, key, body, len(body) + 100)
    assert b" 400 " in reply.split(b"\r\n", 1)[0], reply[:200]
    assert not Invocation.objects.filter(trace_id="g-short").exists()
