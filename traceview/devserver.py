"""The development and test web server: Django's, taught to read chunked request bodies.

Node's OTLP exporters (and any client streaming a body of unknown size) send
`Transfer-Encoding: chunked` with no `Content-Length`. Production servers de-chunk before the
application sees the body (gunicorn and mod_wsgi set `wsgi.input_terminated`; nginx buffers and
forwards a `Content-Length`). Django's own server does neither: it hands the application a
stream limited to zero bytes, so a chunked body reads as empty. This handler does what nginx
does: it reads the chunks, and the application sees an ordinary body with a `Content-Length`.

`run_dev` serves with it, and the test suite's live server uses it (tests/conftest.py).
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, WSGIServer


class ChunkedBodyError(ValueError):
    pass


def read_chunked(stream, limit: int) -> tuple[bytes, bool]:
    """The de-chunked body read from `stream`, and whether it was read to its end.

    Stops once more than `limit` bytes have arrived: the caller answers 413 for such a body
    and closes the connection, since the rest of it is still on the wire.
    """
    out = bytearray()
    while True:
        line = stream.readline(1026)
        if not line.endswith(b"\n"):
            raise ChunkedBodyError("the chunked body ended inside a chunk header")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ChunkedBodyError(f"invalid chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ChunkedBodyError("negative chunk size")
        if size == 0:
            # Trailer fields, if any, then the empty line that ends the message.
            while True:
                trailer = stream.readline(8194)
                if not trailer.endswith(b"\n"):
                    raise ChunkedBodyError("the chunked body ended inside its trailer")
                if trailer in (b"\r\n", b"\n"):
                    return bytes(out), True
        take = min(size, limit + 1 - len(out))
        data = stream.read(take)
        if len(data) < take:
            raise ChunkedBodyError("the chunked body ended inside a chunk")
        out += data
        if len(out) > limit:
            return bytes(out), False
        if stream.readline(3) not in (b"\r\n", b"\n"):
            raise ChunkedBodyError("a chunk is not followed by CRLF")


class _Prefixed:
    """A read stream that serves `head` first, then `tail` (the connection's own stream)."""

    def __init__(self, head: bytes, tail):
        self._head = io.BytesIO(head)
        self._tail = tail

    def read(self, size=-1):
        data = self._head.read(size)
        if size is None or size < 0:
            return data + self._tail.read()
        if len(data) < size:
            data += self._tail.read(size - len(data))
        return data

    def readline(self, size=-1):
        line = self._head.readline(size)
        if line and (line.endswith(b"\n") or len(line) == size):
            return line
        return line + self._tail.readline(-1 if size is None or size < 0 else size - len(line))


class ChunkedBodyMixin:
    """De-chunks a request body before the WSGI environ is built from the headers."""

    _raw_rfile = None

    def handle_one_request(self):
        if self._raw_rfile is not None:
            self.rfile = self._raw_rfile
        super().handle_one_request()

    def parse_request(self):
        if not super().parse_request():
            return False
        codings = [c.strip().lower() for c in self.headers.get("Transfer-Encoding", "").split(",")]
        if "chunked" not in codings:
            return True
        if codings[-1] != "chunked" or len(codings) > 1:
            self.send_error(501, "Only Transfer-Encoding: chunked is supported")
            return False
        self._raw_rfile = self._raw_rfile or self.rfile
        try:
            body, complete = read_chunked(self._raw_rfile, settings.TRACEVIEW_MAX_BODY_BYTES)
        except ChunkedBodyError as exc:
            self.close_connection = True
            self.send_error(400, f"Malformed chunked body: {exc}")
            return False
        if not complete:
            # The rest of an oversized body is still on the wire: the application answers 413
            # for what was read, and the connection cannot be reused.
            self.close_connection = True
        del self.headers["Transfer-Encoding"]
        del self.headers["Content-Length"]
        self.headers["Content-Length"] = str(len(body))
        self.rfile = _Prefixed(body, self._raw_rfile)
        return True


class ChunkedWSGIRequestHandler(ChunkedBodyMixin, WSGIRequestHandler):
    pass


class QuietChunkedWSGIRequestHandler(ChunkedWSGIRequestHandler):
    def log_message(self, *args):
        pass


class DevWSGIServer(WSGIServer):
    """`runserver`'s server with the de-chunking handler, whatever handler it is given."""

    def __init__(self, server_address, handler_class, *args, **kwargs):
        super().__init__(server_address, ChunkedWSGIRequestHandler, *args, **kwargs)


class LiveTestServer(ThreadedWSGIServer):
    """The test live server's class (see tests/conftest.py), quiet and de-chunking."""

    def __init__(self, server_address, handler_class, *args, **kwargs):
        super().__init__(server_address, QuietChunkedWSGIRequestHandler, *args, **kwargs)


DEFAULT_ADDRPORT = "127.0.0.1:8000"


def dev_url(addrport: str = DEFAULT_ADDRPORT) -> str:
    """The address to open for `run_dev ADDRPORT`, read as runserver reads it: a bare port means
    127.0.0.1, and an IPv6 address is bracketed."""
    addrport = (addrport or DEFAULT_ADDRPORT).strip()
    if addrport.isdigit():
        return f"http://127.0.0.1:{addrport}/"
    host, _, port = addrport.rpartition(":")
    if not host:
        host, port = addrport, "8000"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"
