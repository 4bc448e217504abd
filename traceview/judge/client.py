"""One call to an OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LiteLLM).

Real HTTP with httpx and explicit timeouts; no redirects are followed (the endpoint is the one
configured, nothing else). A 429 or a 5xx, a timeout or a refused connection is transient
(`JudgeUnavailable`, with the server's Retry-After when it sent one); any other refusal is not
(`JudgeRefused`). The reply is read up to a size limit and only its first choice's text and its
`usage` are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

MAX_REPLY_BYTES = 2 * 1024 * 1024
USER_AGENT = "TraceView-Judge/1"


class JudgeUnavailable(Exception):
    """The endpoint did not answer now; asking again later may work."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class JudgeRefused(Exception):
    """The endpoint answered with a refusal or a reply that is no chat completion."""


@dataclass(frozen=True, slots=True)
class Completion:
    content: str
    prompt_tokens: int | None
    completion_tokens: int | None


def endpoint_url(base: str) -> str:
    """The chat-completions URL of a base URL as OpenAI clients take it (".../v1"); a URL that
    already names the route is kept."""
    base = base.strip()
    if base.rstrip("/").endswith("/chat/completions"):
        return base.rstrip("/")
    return base.rstrip("/") + "/chat/completions"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _usage(reply: dict, key: str) -> int | None:
    usage = reply.get("usage")
    value = usage.get(key) if isinstance(usage, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def chat_complete(
    url: str,
    model: str,
    messages: list[dict[str, str]],
    *,
    api_key: str = "",
    max_tokens: int = 800,
    timeout_s: float = 60.0,
) -> Completion:
    """POST the messages and return the first choice's text with the reported token usage."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {
        "model": model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": max_tokens,
        "response_format": {"type": "json_object"},
    }
    timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            with client.stream("POST", endpoint_url(url), json=body, headers=headers) as reply:
                raw = bytearray()
                for chunk in reply.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_REPLY_BYTES:
                        raise JudgeRefused(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
                status = reply.status_code
                retry_after = retry_after_seconds(reply.headers.get("retry-after"))
    except httpx.TimeoutException as exc:
        raise JudgeUnavailable(f"no answer within {timeout_s:g} s ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise JudgeUnavailable(f"cannot reach the endpoint ({type(exc).__name__})") from None
    if status == 429 or status >= 500:
        raise JudgeUnavailable(f"HTTP {status}", retry_after)
    if status != 200:
        excerpt = bytes(raw[:200]).decode("utf-8", "replace")
        raise JudgeRefused(f"HTTP {status}: {excerpt}")
    try:
        reply = json.loads(bytes(raw))
        content = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeRefused("the reply is not a chat completion") from None
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise JudgeRefused("the reply's message content is not text")
    return Completion(content, _usage(reply, "prompt_tokens"), _usage(reply, "completion_tokens"))
