"""A stub chat-completions server over real HTTP, for the judge's tests.

It listens on 127.0.0.1 on a free port in a thread of the test process and answers POSTs to
`/v1/chat/completions` from a script: each request takes the next scripted reply (the last one
repeats), or a `responder(request_body) -> reply` computes it. A reply is a dict:

    {"content": "<the message text>", "usage": (prompt_tokens, completion_tokens) | None}
    {"status": 429, "headers": {"Retry-After": "2"}, "body": "..."}
    {"hang": 5.0}            # sleep before answering (a timeout on the client's side)
    {"hold": threading.Event(), "then": <reply>}   # answer only once the event is set

Every request is recorded (`requests`: its time, headers and JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(category, root, evidence, summary="The run failed.", confidence=0.8, **extra) -> str:
    """The text of a well-formed judge answer."""
    return json.dumps({
        "category": category, "root_step": root, "confidence": confidence, "summary": summary,
        "evidence": [{"step": s, "quote": q} for s, q in evidence], **extra,
    })


def reply(content: str, usage=(1200, 80)) -> dict:
    return {"content": content, "usage": usage}


class StubServer:
    def __init__(self):
        self.script: list[dict] = []
        self.responder = None
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                record = {"at": time.monotonic(), "path": self.path,
                          "headers": dict(self.headers), "body": body}
                with stub._lock:
                    stub.requests.append(record)
                    if stub.responder is not None:
                        scripted = None
                    elif len(stub.script) > 1:
                        scripted = stub.script.pop(0)
                    else:
                        scripted = stub.script[0] if stub.script else {"status": 500}
                if scripted is None:
                    scripted = stub.responder(body)
                self._answer(scripted)

            def _answer(self, scripted: dict):
                if "hold" in scripted:
                    scripted["hold"].wait(30)
                    return self._answer(scripted["then"])
                if "hang" in scripted:
                    time.sleep(scripted["hang"])
                    scripted = scripted.get("then", {"status": 504})
                status = scripted.get("status", 200)
                headers = scripted.get("headers", {})
                if "content" in scripted:
                    envelope = {
                        "id": "chatcmpl-stub", "object": "chat.completion", "model": "stub",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": scripted["content"]}}],
                    }
                    if scripted.get("usage"):
                        p, c = scripted["usage"]
                        envelope["usage"] = {"prompt_tokens": p, "completion_tokens": c,
                                             "total_tokens": p + c}
                    payload = json.dumps(envelope).encode()
                else:
                    payload = scripted.get("body", "").encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> StubServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def prompts(self) -> list[str]:
        return [r["body"]["messages"][-1]["content"] for r in self.requests if r["body"]]
