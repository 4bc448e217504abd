"""The export thread: a bounded in-memory queue drained in batches to the native ingest API.

The agent's thread only appends to a deque (no lock, no I/O, no serialization). A daemon thread
converts records to JSON, redacts them, batches by count and time, gzips and POSTs them, and
retries with exponential backoff on connection errors, 408, 429 and 5xx (honouring Retry-After).
When the queue is full, or a batch runs out of retries, data is dropped and counted; the first
drop is logged once. Nothing here ever raises into, or waits on behalf of, the agent's code,
except an explicit `flush()`.
"""

from __future__ import annotations

import atexit
import collections
import email.utils
import gzip
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import weakref
from datetime import datetime, timezone
from typing import Any

from .config import Config
from .redact import Redactor
from .serialize import to_record

logger = logging.getLogger("traceview_sdk")

USER_AGENT = "traceview-sdk/0.1"


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Exporter:
    def __init__(self, config: Config):
        self.config = config
        self.redactor = Redactor(config.builtin_redaction, config.redact_patterns, config.redact)
        self._buffer: collections.deque = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._deadline: float | None = None
        self._drop_logged = False
        self._disabled_logged = False
        self._status_logged: set = set()
        self.stats = collections.Counter()
        self.enabled = config.can_send
        _EXPORTERS.add(self)

    # -- calling thread ---------------------------------------------------------------------

    def submit(self, item: Any) -> None:
        """Queue one record for sending. Never blocks, never raises."""
        if not self.enabled:
            if not self._disabled_logged and self.config.enabled:
                self._disabled_logged = True
                logger.warning(
                    "traceview_sdk: TRACEVIEW_URL / TRACEVIEW_API_KEY not set; traces are not sent"
                )
            return
        buffer = self._buffer
        # len() and append() are atomic under the GIL; a few items over the bound in a race is
        # harmless, a lock on this path is not.
        if len(buffer) >= self.config.max_queue:
            self._drop(1, "queue full")
            return
        buffer.append(item)
        if self._thread is None:
            self._start()
        if len(buffer) >= self.config.max_batch and not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; True when it was sent (or dropped) within timeout."""
        if not self.enabled:
            return True
        marker = _FlushMarker()
        self._buffer.append(marker)
        if self._thread is None or not self._thread.is_alive():
            if not self._start():
                self._drain()
        self._wake.set()
        return marker.done.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within timeout (default config.shutdown_timeout), then stop the thread."""
        if timeout is None:
            timeout = self.config.shutdown_timeout
        # Retries that would outlive the deadline give up instead of holding up exit.
        self._deadline = time.monotonic() + timeout
        done = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if self.stats["dropped"]:
            logger.info("traceview_sdk: %d record(s) dropped in total", self.stats["dropped"])
        self.enabled = False
        return done

    def _start(self) -> bool:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return True
            if self._stop.is_set():
                return False
            thread = threading.Thread(target=self._run, name="traceview-export", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # Interpreter shutting down: the caller drains on its own thread instead.
                return False
            self._thread = thread
            return True

    def _drop(self, count: int, reason: str) -> None:
        self.stats["dropped"] += count
        if not self._drop_logged:
            self._drop_logged = True
            logger.warning(
                "traceview_sdk: dropping trace data (%s); later drops are only counted "
                "(Exporter.stats['dropped'])",
                reason,
            )

    def _after_fork(self) -> None:
        # The child has the parent's queue but not its thread; those records are the parent's
        # to send.
        self._buffer = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    # -- export thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.flush_interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # pragma: no cover - a bug here must not kill the thread
                logger.exception("traceview_sdk: export failed")

    def _drain(self) -> None:
        batch: list = []
        buffer = self._buffer
        while True:
            try:
                item = buffer.popleft()
            except IndexError:
                break
            if isinstance(item, _FlushMarker):
                if batch:
                    self._send_items(batch)
                    batch = []
                item.done.set()
                continue
            batch.append(item)
            if len(batch) >= self.config.max_batch:
                self._send_items(batch)
                batch = []
        if batch:
            self._send_items(batch)

    def _send_items(self, items: list) -> None:
        records = []
        for item in items:
            try:
                kind, record = to_record(item, self.config.max_value_chars)
                record = self.redactor.record(record)
            except Exception as exc:
                logger.debug("traceview_sdk: could not serialize a record: %r", exc)
                self._drop(1, "unserializable record")
                continue
            if record is not None:
                records.append((kind, record))
        if records:
            self._post_records(records)

    def _post_records(self, records: list) -> None:
        body = json.dumps(build_payload(records), default=repr, separators=(",", ":")).encode()
        if len(body) > self.config.max_body_bytes and len(records) > 1:
            half = len(records) // 2
            self._post_records(records[:half])
            self._post_records(records[half:])
            return
        outcome = self._send(body)
        if outcome == "ok":
            self.stats["sent_records"] += len(records)
            self.stats["sent_requests"] += 1
        elif outcome == "too_large" and len(records) > 1:
            half = len(records) // 2
            self._post_records(records[:half])
            self._post_records(records[half:])
        else:
            self._drop(len(records), outcome)

    def _send(self, body: bytes) -> str:
        config = self.config
        headers = {
            "Authorization": f"Bearer {config.api_key}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if config.gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        while True:
            status, retry_after, detail = self._post(config.endpoint, body, headers)
            if 200 <= status < 300:
                return "ok"
            if status == 413:
                return "too_large"
            if status and status < 500 and status not in (408, 429):
                if status not in self._status_logged:
                    self._status_logged.add(status)
                    logger.warning(
                        "traceview_sdk: server refused a batch with HTTP %d: %s", status, detail
                    )
                return f"refused with HTTP {status}"
            attempt += 1
            self.stats["retries"] += 1
            if attempt > config.max_retries:
                return f"server unavailable ({detail})"
            if retry_after is not None:
                delay = min(retry_after, config.retry_after_max)
            else:
                delay = min(config.backoff_max, config.backoff_base * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)
            if self._deadline is not None and time.monotonic() + delay > self._deadline:
                return "shutting down"
            if self._stop.wait(delay):
                return "shutting down"

    def _post(self, url: str, body: bytes, headers: dict) -> tuple[int, float | None, str]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                response.read()
                return response.status, None, ""
        except urllib.error.HTTPError as exc:
            detail = _read_detail(exc)
            return exc.code, parse_retry_after(exc.headers.get("Retry-After")), detail
        except Exception as exc:  # connection refused, DNS, timeout, reset: all retryable
            return 0, None, f"{type(exc).__name__}: {exc}"


def _read_detail(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(2000).decode("utf-8", "replace")
    except Exception:
        return ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def build_payload(records: list) -> dict:
    """Merge records into one native request body.

    An invocation sent at start and again at the end, or a step sent twice, collapses into one
    entry (later non-null fields win, as the server's upsert would do). Steps whose invocation is
    in the same body travel inside it; the rest go under the top-level "steps" key.
    """
    invocations: dict = {}
    steps: dict = {}
    for kind, record in records:
        if kind == "invocation":
            merged = invocations.setdefault(record["trace_id"], {})
            merged.update((k, v) for k, v in record.items() if v is not None)
        else:
            merged = steps.setdefault((record["trace_id"], record["span_id"]), {})
            merged.update((k, v) for k, v in record.items() if v is not None)
    loose = []
    for (trace_id, _), step in steps.items():
        parent = invocations.get(trace_id)
        if parent is not None:
            step = {k: v for k, v in step.items() if k != "trace_id"}
            parent.setdefault("steps", []).append(step)
        else:
            loose.append(step)
    payload: dict = {}
    if invocations:
        payload["invocations"] = list(invocations.values())
    if loose:
        payload["steps"] = loose
    return payload


_EXPORTERS: weakref.WeakSet[Exporter] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for exporter in list(_EXPORTERS):
        try:
            exporter.shutdown()
        except Exception:  # pragma: no cover - never fail interpreter exit
            pass


def _reset_after_fork() -> None:
    for exporter in list(_EXPORTERS):
        exporter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
