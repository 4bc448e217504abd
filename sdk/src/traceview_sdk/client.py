"""The client: one configuration and one export thread, shared by everything that records.

Most programs use the default client, built from TRACEVIEW_URL / TRACEVIEW_API_KEY on first use
or by `configure(...)`. A `Client` can also be made explicitly and passed to `invocation()`,
`@agent(client=...)` and the framework hooks.
"""

from __future__ import annotations

import threading
from typing import Any

from .config import config_from
from .export import Exporter
from .record import Invocation


class Client:
    def __init__(self, url: str | None = None, api_key: str | None = None, **options: Any):
        self.config = config_from(url, api_key, **options)
        self.exporter = Exporter(self.config)

    def invocation(
        self,
        agent: str | None = None,
        version: str | None = None,
        name: str | None = None,
        budget: dict | None = None,
        trace_id: str | None = None,
        input: Any = None,
        attributes: dict | None = None,
    ) -> Invocation:
        return Invocation(self, agent, version, name, budget, trace_id, input, attributes)

    def submit_invocation(self, record: dict) -> None:
        """Queue a ready native invocation record (used by the framework hooks)."""
        self.exporter.submit(("invocation", record))

    def submit_step(self, record: dict) -> None:
        """Queue a ready native step record; it must carry trace_id and span_id."""
        self.exporter.submit(("step", record))

    def flush(self, timeout: float | None = None) -> bool:
        return self.exporter.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        return self.exporter.shutdown(timeout)

    @property
    def stats(self) -> dict:
        return dict(self.exporter.stats)


_default: Client | None = None
_default_lock = threading.Lock()


def get_client() -> Client:
    global _default
    client = _default
    if client is None:
        with _default_lock:
            if _default is None:
                _default = Client()
            client = _default
    return client


def configure(url: str | None = None, api_key: str | None = None, **options: Any) -> Client:
    """Replace the default client; the previous one sends what it holds first."""
    global _default
    client = Client(url, api_key, **options)
    with _default_lock:
        previous, _default = _default, client
    if previous is not None:
        previous.shutdown()
    return client
