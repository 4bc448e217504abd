"""Reading request bodies: whole or not at all, a size limit that holds after decompression,
and decoding JSON.

Every ingest endpoint reads its body through `read_body`, so the framing, the limit, the
encodings and the errors are the same everywhere. A body that is not read to its declared end
(a `Content-Length` larger than what arrived, a truncated compressed stream) is a 400: an
ingest route never answers 2xx for data it did not fully read.
"""

from __future__ import annotations

import zlib

import orjson
import zstandard
from django.conf import settings
from rest_framework.exceptions import APIException, ParseError

from ingest.formats.values import nesting_reason, too_deep


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "payload_too_large"


class UnsupportedEncoding(APIException):
    status_code = 415
    default_code = "unsupported_encoding"


class LengthRequired(APIException):
    status_code = 411
    default_code = "length_required"


def _limit() -> int:
    return settings.TRACEVIEW_MAX_BODY_BYTES


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than {_limit()} bytes after decompression (TRACEVIEW_MAX_BODY_BYTES)"
    )


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"the body is not valid compressed data: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large()
    if not inflater.eof:
        raise ParseError(
            f"the compressed body is truncated: it ends before its end-of-stream marker "
            f"({len(data)} compressed bytes read)"
        )
    return out


# zstd can expand a few bytes into 128 KiB: fed this much at a time, one step's output stays
# small however the body was built, and the limit is checked between steps.
ZSTD_STEP = 1024


def _unzstd(data: bytes, limit: int) -> bytes:
    """zstd (LangSmith's client compresses its multipart batches), bounded like _inflate."""
    inflater = zstandard.ZstdDecompressor().decompressobj()
    out = bytearray()
    try:
        for start in range(0, len(data), ZSTD_STEP):
            out += inflater.decompress(data[start:start + ZSTD_STEP])
            if len(out) > limit:
                raise _too_large()
    except zstandard.ZstdError as exc:
        raise ParseError(f"the body is not valid zstd data: {exc}") from None
    if not inflater.eof:
        raise ParseError(
            f"the compressed body is truncated: it ends before the end of its zstd frame "
            f"({len(data)} compressed bytes read)"
        )
    return bytes(out)


def _read_raw(request, limit: int) -> bytes:
    """The body as sent, at most limit + 1 bytes, or an error if it did not arrive whole."""
    meta = request.META
    codings = [c.strip().lower() for c in meta.get("HTTP_TRANSFER_ENCODING", "").split(",")]
    if "chunked" in codings:
        # Django reads a body without Content-Length as empty. A server that de-chunks says
        # so with wsgi.input_terminated (gunicorn, mod_wsgi; our dev server turns chunked
        # bodies into plain ones before this point), and its stream ends with the body.
        if not meta.get("wsgi.input_terminated"):
            raise LengthRequired(
                "this server cannot read a chunked body (Transfer-Encoding: chunked); "
                "send a Content-Length, or run TraceView under gunicorn"
            )
        stream, out = meta["wsgi.input"], bytearray()
        while len(out) <= limit:
            chunk = stream.read(min(65536, limit + 1 - len(out)))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    raw_length = meta.get("CONTENT_LENGTH") or "0"
    try:
        declared = int(raw_length)
    except ValueError:
        raise ParseError(f"Content-Length {raw_length[:40]!r} is not a number") from None
    if declared < 0:
        raise ParseError("Content-Length is negative")
    if declared > limit:
        raise _too_large()
    data = request.read(declared)
    if len(data) < declared:
        raise ParseError(
            f"the body is truncated: {len(data)} of the {declared} bytes that Content-Length "
            f"declares arrived"
        )
    return data


def read_body(request) -> bytes:
    """The raw request body, decompressed, or an APIException with the right status."""
    limit = _limit()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    data = _read_raw(request, limit)
    if len(data) > limit:
        raise _too_large()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, limit)
    if encoding == "zstd":
        return _unzstd(data, limit)
    if encoding == "deflate":
        # "deflate" means zlib-wrapped by the spec, raw deflate by some senders: accept both.
        try:
            return _inflate(data, zlib.MAX_WBITS, limit)
        except ParseError:
            return _inflate(data, -zlib.MAX_WBITS, limit)
    raise UnsupportedEncoding(
        f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or zstd"
    )


def parse_json(data: bytes):
    if not data.strip():
        raise ParseError("the body is empty; expected a JSON object")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"the body is not valid JSON: {exc}") from None
    deep = too_deep(value)
    if deep is not None:
        raise ParseError({deep: [nesting_reason()]})
    return value
