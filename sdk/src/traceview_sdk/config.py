"""Settings for the SDK, read from arguments first and the environment second.

`TRACEVIEW_URL` is the server's base address (``http://host:8000``); the native ingest endpoint
``/api/v1/traces`` is appended. `TRACEVIEW_API_KEY` is sent as a Bearer token. Without both the
SDK still records (so instrumented code runs unchanged) but sends nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

INGEST_PATH = "/api/v1/traces"


@dataclass
class Config:
    url: str | None = None
    api_key: str | None = None
    # Export: one request carries at most max_batch records and goes out at least every
    # flush_interval seconds; max_queue bounds memory when the server is slow or down.
    flush_interval: float = 1.0
    max_batch: int = 500
    max_queue: int = 10_000
    # Well under the server's 16 MiB default, so a batch is split before the server refuses it.
    max_body_bytes: int = 4 * 1024 * 1024
    timeout: float = 10.0
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    shutdown_timeout: float = 5.0
    gzip: bool = True
    # Redaction: built-in secret patterns, extra regexes, then the user's function per record.
    redact: Callable[[dict], Any] | None = None
    builtin_redaction: bool = True
    redact_patterns: tuple = ()
    max_value_chars: int = 100_000
    enabled: bool = True

    @property
    def endpoint(self) -> str | None:
        if not self.url:
            return None
        base = self.url.rstrip("/")
        return base if base.endswith(INGEST_PATH) else base + INGEST_PATH

    @property
    def can_send(self) -> bool:
        return bool(self.enabled and self.url and self.api_key)


def config_from(url: str | None = None, api_key: str | None = None, **options: Any) -> Config:
    """Build a Config: explicit arguments win, then TRACEVIEW_* variables."""
    env = os.environ
    disabled = env.get("TRACEVIEW_DISABLED", "").strip().lower() in ("1", "true", "yes")
    options.setdefault("enabled", not disabled)
    unknown = set(options) - set(Config.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown traceview_sdk option(s): {', '.join(sorted(unknown))}")
    return Config(
        url=url or env.get("TRACEVIEW_URL") or None,
        api_key=api_key or env.get("TRACEVIEW_API_KEY") or None,
        **options,
    )
