"""Redaction applied on the export thread, before anything leaves the process.

Built-in patterns mask common credentials wherever they appear in a string (API keys of OpenAI,
Anthropic, AWS, GitHub, Slack, Google and Stripe; bearer tokens; passwords in URLs), and values
stored under keys that name a secret are masked whole. A user function then sees each native
record (an invocation or a step as a dict) and returns it, changed or not, or None to drop it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Callable

MASK = "[REDACTED]"

# (pattern, replacement). Replacements keep a prefix where it tells a reader what was removed.
BUILTIN_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    # Passwords in URLs: scheme://user:password@host
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]+:)[^\s/@]+(@)"), r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + MASK),
    (re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/]{12,}=*"), r"\1" + MASK),
    # Anthropic before OpenAI: both start with "sk-".
    (re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\bsk-(?:proj-|svcacct-|admin-|live-|None-)?[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), MASK),
    (
        re.compile(r"(?i)(aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}"),
        r"\1" + MASK,
    ),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), MASK),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK),
)

SECRET_KEY = re.compile(
    r"(?i)^(?:password|passwd|pwd|secret|client_secret|api[_\-]?key|apikey|access[_\-]?token|"
    r"auth[_\-]?token|refresh[_\-]?token|token|authorization|x[_\-]api[_\-]key|private[_\-]?key)$"
)

# Cheap gate: most strings contain none of these, and then no pattern can match.
_HINT = re.compile(
    r"(?i)sk-|akia|asia|abia|acca|agpa|aida|aroa|aws|gh[pousr]_|github_pat|xox|aiza"
    r"|_live_|_test_|eyj|bearer|basic|://"
)


class Redactor:
    def __init__(
        self,
        builtin: bool = True,
        patterns: Iterable[Any] = (),
        user: Callable[[dict], Any] | None = None,
    ):
        self.builtin = builtin
        self.extra = tuple(_compile(p) for p in patterns)
        self.user = user

    def text(self, value: str) -> str:
        if self.builtin and _HINT.search(value):
            for pattern, repl in BUILTIN_PATTERNS:
                value = pattern.sub(repl, value)
        for pattern, repl in self.extra:
            value = pattern.sub(repl, value)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if self.builtin and isinstance(key, str) and SECRET_KEY.match(key) and item:
                    out[key] = MASK
                else:
                    out[key] = self.value(item)
            return out
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def record(self, record: dict) -> dict | None:
        """Redact one native record; None means the user's function dropped it."""
        keep = {k: record[k] for k in _IDENTITY if k in record}
        redacted = self.value({k: v for k, v in record.items() if k not in _IDENTITY})
        redacted.update(keep)
        if self.user is not None:
            redacted = self.user(redacted)
        return redacted


# Ids and timestamps are ours, not user data; masking them would break upserts.
_IDENTITY = ("trace_id", "span_id", "parent_span_id", "started_at", "ended_at", "status", "kind")


def _compile(pattern: Any) -> tuple[re.Pattern, str]:
    if isinstance(pattern, tuple):
        regex, repl = pattern
    else:
        regex, repl = pattern, MASK
    return (re.compile(regex) if isinstance(regex, str) else regex), repl
