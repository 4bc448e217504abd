"""Reading request bodies: a size limit that holds after decompression, and decoding JSON.

Every ingest endpoint reads its body through `read_body`, so the limit, the encodings and the
errors are the same everywhere.
"""

from __future__ import annotations

import zlib

import orjson
from django.conf import settings
from rest_framework.exceptions import APIException, ParseError


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "payload_too_large"


class UnsupportedEncoding(APIException):
    status_code = 415
    default_code = "unsupported_encoding"


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
    return out


def read_body(request) -> bytes:
    """The raw request body, decompressed, or an APIException with the right status."""
    limit = _limit()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _too_large()
    data = request.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, limit)
    if encoding == "deflate":
        # "deflate" means zlib-wrapped by the spec, raw deflate by some senders: accept both.
        try:
            return _inflate(data, zlib.MAX_WBITS, limit)
        except ParseError:
            return _inflate(data, -zlib.MAX_WBITS, limit)
    raise UnsupportedEncoding(
        f"Content-Encoding {encoding!r} is not supported; use gzip or deflate"
    )


def parse_json(data: bytes):
    if not data.strip():
        raise ParseError("the body is empty; expected a JSON object")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"the body is not valid JSON: {exc}") from None
