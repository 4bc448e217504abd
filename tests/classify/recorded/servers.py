"""The two HTTP servers a recording needs: a scripted chat-completions model and a capture server.

`ModelStub` speaks the OpenAI chat-completions API (`POST /runs/<run>/v1/chat/completions`) so
that every framework talks to it through its real OpenAI client (`base_url=stub.base_url(run)`).
Each run follows its own script of turns, one turn per request: tool calls, a final answer, a
429. What a real provider decides from the request, the stub decides the same way from the
request it got: the prompt's tokens are counted from the messages and tools sent (4 characters a
token), a prompt over the model's window is a 400 `context_length_exceeded` with OpenAI's error
body, and an answer that does not fit in what is left of the window stops at `length`. So a
context failure happens because the conversation really grew, not because the script says so.

`CaptureServer` stands where TraceView would: it records each request exactly as an exporter
sent it (method, path, headers, body bytes) and answers the way each route expects.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

# Context windows the stub enforces, as the providers state them.
WINDOWS = {"gpt-4o": 128_000, "gpt-4o-mini": 128_000, "gpt-4": 8_192, "gpt-3.5-turbo": 16_385}


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


# --- turns of a script ------------------------------------------------------------------------


@dataclass
class Call:
    """The model asks for one or more tool calls: `Call(("lookup", {"id": 1}), ...)`."""

    calls: tuple
    text: str | None = None

    def __init__(self, *calls, text: str | None = None):
        self.calls, self.text = calls, text


@dataclass
class Say:
    """A final answer. `pad` adds that many tokens of usage (long answers, budget scenarios)."""

    text: str
    pad: int = 0


@dataclass
class RateLimited:
    """The provider refuses the request with a 429 (no retry-after: the client gives up)."""


@dataclass
class Script:
    model: str
    turns: list
    calls: int = 0
    requests: list = field(default_factory=list)  # (prompt tokens, status) per request
    ended: bool = False


# --- the model stub ---------------------------------------------------------------------------


def _error(status: int, message: str, type_: str, code: str | None, param: str | None = None):
    # The body OpenAI sends with an error, which the openai client turns into its exceptions.
    return status, {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ModelStub:
    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                m = re.match(r"^/runs/([^/]+)/v1/chat/completions$", self.path)
                if not m or m.group(1) not in stub.scripts:
                    status, reply = 404, {"error": {"message": f"no route {self.path}"}}
                else:
                    status, reply = stub.answer(stub.scripts[m.group(1)], json.loads(body))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("x-ratelimit-remaining-requests", "0")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ModelStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def start(self, model: str, turns: list) -> str:
        run = uuid.uuid4().hex[:12]
        self.scripts[run] = Script(model, list(turns))
        return run

    def base_url(self, run: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/runs/{run}/v1"

    def answer(self, script: Script, request: dict) -> tuple[int, dict]:
        model = script.model
        window = WINDOWS[model]
        sent = json.dumps(request.get("messages") or []) + json.dumps(request.get("tools") or [])
        prompt = tokens(sent)
        if prompt > window:
            script.requests.append((prompt, 400))
            return _error(
                400,
                f"This model's maximum context length is {window} tokens. However, your "
                f"messages resulted in {prompt} tokens. Please reduce the length of the messages.",
                "invalid_request_error", "context_length_exceeded", "messages",
            )
        if script.calls >= len(script.turns):
            script.ended = True
            turn = script.turns[-1]  # a run past its script repeats the last turn
        else:
            turn = script.turns[script.calls]
        script.calls += 1
        if isinstance(turn, RateLimited):
            script.requests.append((prompt, 429))
            return _error(
                429,
                f"Rate limit reached for {model} in organization org-scripted on tokens per min "
                "(TPM): Limit 30000, Used 29840, Requested 1210. Please try again in 2.1s.",
                "tokens", "rate_limit_exceeded",
            )
        room = window - prompt
        finish, message = "stop", {"role": "assistant", "content": None}
        if isinstance(turn, Say):
            text = turn.text
            completion = tokens(text) + turn.pad
            if completion > room:
                # The answer runs into the window: cut where the room ends, as a provider does.
                text, completion, finish = text[: room * 4], room, "length"
            message["content"] = text
        else:
            calls = []
            for name, args in turn.calls:
                arguments = json.dumps(args)
                calls.append({"id": f"call_{uuid.uuid4().hex[:20]}", "type": "function",
                              "function": {"name": name, "arguments": arguments}})
            completion = tokens(json.dumps(calls)) + tokens(turn.text or "")
            finish = "tool_calls"
            if completion > room:
                # A tool call cut by the window: its arguments end mid-JSON.
                last = calls[-1]["function"]
                last["arguments"] = last["arguments"][: max(1, room * 4 - 40)]
                completion, finish = room, "length"
            message["content"] = turn.text
            message["tool_calls"] = calls
        script.requests.append((prompt, 200))
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{model}-scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
            "system_fingerprint": "fp_scripted",
        }


# --- the capture server -----------------------------------------------------------------------

# Headers that describe the body; the rest (auth, user agent, host) is the recorder's business.
KEPT_HEADERS = ("content-type", "content-encoding")


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class CaptureServer:
    """Records what exporters post; answers like TraceView (200 OTLP, 204 Agents SDK)."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()
                           if k.lower() in KEPT_HEADERS}
                with capture.lock:
                    capture.requests.append(Captured("POST", self.path, headers, body))
                self._reply()

            def do_GET(self):
                self._reply()

            def _reply(self):
                if self.path.endswith("/v1/traces/ingest"):
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if "protobuf" in (self.headers.get("Content-Type") or ""):
                    data, ctype = ExportTraceServiceResponse().SerializeToString(), \
                        "application/x-protobuf"
                else:
                    data, ctype = b"{}", "application/json"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CaptureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def take(self) -> list[Captured]:
        """What arrived since the last call."""
        with self.lock:
            taken, self.requests = self.requests, []
        return taken
