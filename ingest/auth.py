"""API-key authentication for ingest and the read API.

Keys travel as `Authorization: Bearer <key>`, or as clients send them without being told:
`X-API-Key: <key>` (LangSmith and several SDKs), Basic auth with the key as the password (Langfuse
sends `public_key:secret_key`), and `Bearer%20<key>` percent-encoded, as
`OTEL_EXPORTER_OTLP_HEADERS` requires and some exporters forward without decoding. Only the key's
SHA-256 is stored.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import unquote

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from traceview.models import ApiKey

LAST_USED_GRANULARITY = timedelta(minutes=1)


def key_from_headers(meta) -> tuple[str | None, str | None]:
    """(secret, public key) from the request. The public key comes only with Basic auth, where
    Langfuse clients send `public_key:secret_key`."""
    header = meta.get("HTTP_AUTHORIZATION", "").strip()
    if "%" in header:
        # Keys and base64 never hold "%": only an encoding of the header can have put it there.
        header = unquote(header)
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        return (password or user or None), ((user or None) if password else None)
    return meta.get("HTTP_X_API_KEY", "").strip() or None, None


def api_key_lookup(raw: str | None) -> ApiKey | None:
    if not raw or len(raw) > 200:
        return None
    key = (
        ApiKey.objects.select_related("project")
        .filter(hashed_key=ApiKey.hash(raw), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        # Written at most once a minute: a busy exporter must not turn reads into writes.
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
    return key


def api_key_authenticate(meta) -> ApiKey | None:
    """The API key that request headers (a WSGI environ's HTTP_* keys) present; None when they
    present none; AuthenticationFailed when the key is wrong. The gRPC server passes its
    metadata in the same shape, so both transports take the same credentials."""
    raw, public = key_from_headers(meta)
    if raw is None:
        return None
    key = api_key_lookup(raw)
    if key is None:
        raise exceptions.AuthenticationFailed("invalid or revoked API key")
    if public is not None and public != key.public_key:
        raise exceptions.AuthenticationFailed("the public key does not belong to this secret")
    return key


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key = api_key_authenticate(request.META)
        return None if key is None else (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="traceview"'


class HasProjectKey(BasePermission):
    message = "an API key is required: send 'Authorization: Bearer <key>'"

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The key as the schema names it, so clients (and schemathesis) know to send it."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
