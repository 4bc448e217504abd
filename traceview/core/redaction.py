"""Redaction at ingest: secrets and personal data removed before anything is stored.

A project's rules (Project.redact_detectors, redact_patterns, redact_drop_keys) become a
`Redactor`; the store runs it over each step's messages, tool arguments and result, error,
attributes and events, and over the invocation's input, output and attributes, before any of it
is written. A match is replaced by a visible `[redacted: kind]`; a dropped attribute key is
removed; each step counts what was removed (Step.redactions).

- Built-in detectors (names for `redact_detectors`): `api_key` (OpenAI, Anthropic, AWS access
  key ids, GitHub, GitLab, Slack, Google API keys, Stripe live keys, TraceView's own `tv_` keys),
  `bearer_token` (the credential after `Bearer` / `Basic`), `url_password` (the password in
  `scheme://user:password@host`), `email`, `card_number` (13-19 digits, spaces or dashes allowed,
  that pass the Luhn check).
- Custom patterns are RE2 regular expressions (google-re2): matching takes time linear in the
  text whatever the pattern, so an untrusted trace cannot make a pattern backtrack for minutes.
  They run in multi-line mode (`^`/`$` match at line breaks). Patterns are validated when saved
  (`patterns_errors`) and bounded in number and length.
- Drop keys are exact attribute keys or `prefix.*`, applied at any depth of the attributes
  (resource attributes included).

Cost: most data holds nothing to redact, so each step is first checked whole: the built-ins'
looser gate expressions as one RE2 program over the step's data serialized as JSON by orjson
(a few microseconds, against over a hundred for walking every string in Python), dropped keys as
substrings of that JSON. Custom patterns are checked over the step's strings joined. Only a step
that passes a gate is rewritten string by string. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

try:  # google-re2: linear-time matching for patterns that come from users
    import re2
except ImportError:  # pragma: no cover - a dependency; kept importable for tooling
    re2 = None

MAX_PATTERNS = 20
MAX_PATTERN_CHARS = 500
MAX_DROP_KEYS = 100


def marker(kind: str) -> str:
    return f"[redacted: {kind}]"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class _Detector:
    """A built-in: a cheap test that must pass before the regular expression runs, the
    expression (every repetition bounded, so no input makes it slow), and which group is the
    secret (0: the whole match)."""

    def __init__(self, kind: str, hint: Callable[[str], bool], pattern: str, gate: str,
                 group: int = 0, check: Callable[[str], bool] | None = None):
        self.kind = kind
        self.hint = hint
        self.regex = re.compile(pattern, re.ASCII)
        # A looser RE2 expression that matches wherever `pattern` does, run over a step's data
        # as JSON (see Redactor.needed).
        self.gate = gate
        self.group = group
        self.check = check

    def found(self, text: str) -> bool:
        if not self.hint(text):
            return False
        if self.check is None:
            return self.regex.search(text) is not None
        return any(self.check(m.group(self.group)) for m in self.regex.finditer(text))

    def sub(self, text: str, counter: list[int]) -> str:
        if not self.hint(text):
            return text
        replacement = marker(self.kind)

        def replace(m: re.Match) -> str:
            secret = m.group(self.group)
            if self.check is not None and not self.check(secret):
                return m.group(0)
            counter[0] += 1
            if self.group == 0:
                return replacement
            start, end = m.span(self.group)
            whole = m.group(0)
            base = m.start(0)
            return whole[: start - base] + replacement + whole[end - base:]

        return self.regex.sub(replace, text)


_API_PREFIXES = ("sk-", "AKIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox",
                 "AIza", "glpat-", "sk_live_", "rk_live_", "tv_")


def _has_digit_run(text: str) -> bool:
    return _DIGITS.search(text) is not None


_DIGITS = re.compile(r"\d{4}")

DETECTORS: dict[str, _Detector] = {
    d.kind: d
    for d in (
        _Detector(
            "api_key",
            lambda t: any(p in t for p in _API_PREFIXES),
            r"(?<![A-Za-z0-9_\-])(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,300}"
            r"|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"
            r"|xox[abprs]-[A-Za-z0-9\-]{10,255}|AIza[0-9A-Za-z_\-]{35}"
            r"|glpat-[A-Za-z0-9_\-]{20,255}|[sr]k_live_[0-9A-Za-z]{24,255}"
            r"|tv_[A-Za-z0-9_\-]{32,255})",
            gate=r"sk-|AKIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|glpat-|[sr]k_live_|tv_",
        ),
        _Detector(
            "bearer_token",
            lambda t: "earer" in t or "asic" in t or "EARER" in t,
            r"(?i:\b(?:bearer|basic))[ \t]{1,10}([A-Za-z0-9\-._~+/]{8,4096}=*)",
            gate=r"(?i:bearer|basic)[ \t]",
            group=1,
        ),
        _Detector(
            "url_password",
            lambda t: "://" in t,
            r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@]{0,256}:([^\s@/?#]{1,256})@",
            gate=r"://[^\s:/?#@]*:[^\s@/?#]+@",
            group=1,
        ),
        _Detector(
            "email",
            lambda t: "@" in t,
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}"
            r"(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}\b",
            gate=r"@[A-Za-z0-9\-]+\.",
        ),
        _Detector(
            "card_number",
            _has_digit_run,
            r"(?<![\d])\d(?:[ \-]?\d){12,18}(?!\d)",
            gate=r"\d[\d \-]{11,}\d",
            check=lambda s: _luhn(s.replace(" ", "").replace("-", "")),
        ),
    )
}


def _compile_custom(pattern: str):
    if re2 is None:  # pragma: no cover
        raise ValueError("google-re2 is not installed")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20  # a bound on the compiled program; bigger patterns are refused
    return re2.compile("(?m)" + pattern, options)  # multi-line: ^ and $ at line breaks


def _pattern_items(patterns: Any) -> list[tuple[str, Any]]:
    items = []
    for i, p in enumerate(patterns if isinstance(patterns, list) else [patterns]):
        if isinstance(p, dict):
            items.append((str(p.get("name") or f"pattern {i + 1}"), p.get("pattern")))
        else:
            items.append((f"pattern {i + 1}", p))
    return items


def patterns_errors(patterns: Any) -> list[str]:
    """What is wrong with custom patterns, in words, for the project form."""
    if patterns in (None, ""):
        return []
    if not isinstance(patterns, list):
        return ["must be a list of patterns, or of {\"name\", \"pattern\"} objects"]
    if len(patterns) > MAX_PATTERNS:
        return [f"at most {MAX_PATTERNS} patterns"]
    errors = []
    for name, pattern in _pattern_items(patterns):
        if not isinstance(pattern, str) or not pattern:
            errors.append(f"{name}: the pattern must be a non-empty string")
            continue
        if len(pattern) > MAX_PATTERN_CHARS:
            errors.append(f"{name}: longer than {MAX_PATTERN_CHARS} characters")
            continue
        if len(name) > 50:
            errors.append(f"{name[:50]}…: the name must be at most 50 characters")
            continue
        try:
            regex = _compile_custom(pattern)
        except Exception as exc:  # noqa: BLE001 - re2 raises its own error type
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            errors.append(f"{name}: not a valid RE2 regular expression ({reason})")
            continue
        if regex.search("") is not None:
            errors.append(f"{name}: matches the empty string, which would redact everything")
    return errors


def detectors_errors(detectors: Any) -> list[str]:
    if detectors in (None, ""):
        return []
    if not isinstance(detectors, list) or not all(isinstance(d, str) for d in detectors):
        return ["must be a list of detector names"]
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown:
        return [f"unknown detector {', '.join(unknown)}; known: {', '.join(DETECTORS)}"]
    return []


def drop_keys_errors(keys: Any) -> list[str]:
    if keys in (None, ""):
        return []
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        return ["must be a list of attribute keys"]
    if len(keys) > MAX_DROP_KEYS:
        return [f"at most {MAX_DROP_KEYS} keys"]
    return []


class Redactor:
    """A project's rules, compiled once per request."""

    def __init__(self, detectors: Iterable[str] = (), patterns: Any = (),
                 drop_keys: Iterable[str] = ()):
        self.detectors = [DETECTORS[d] for d in detectors or () if d in DETECTORS]
        self.custom = []
        if patterns and not patterns_errors(list(patterns)):
            self.custom = [(name, _compile_custom(p)) for name, p in _pattern_items(list(patterns))]
        keys = list(drop_keys or ())
        self.drop_exact = frozenset(k for k in keys if not k.endswith("*"))
        self.drop_prefixes = tuple(k[:-1] for k in keys if k.endswith("*"))
        self.active = bool(self.detectors or self.custom or keys)
        # The built-ins' gates as one RE2 program: one linear pass over a step's JSON.
        self.gate = None
        if self.detectors and re2 is not None:
            options = re2.Options()
            options.log_errors = False
            self.gate = re2.compile("|".join(f"(?:{d.gate})" for d in self.detectors), options)
        # A dropped key appears in JSON as "key": (or "prefix...).
        self.key_needles = tuple(orjson.dumps(k) + b":" for k in self.drop_exact) + tuple(
            orjson.dumps(p)[:-1] for p in self.drop_prefixes)

    @classmethod
    def for_project(cls, project) -> Redactor:
        return cls(getattr(project, "redact_detectors", None) or (),
                   getattr(project, "redact_patterns", None) or (),
                   getattr(project, "redact_drop_keys", None) or ())

    # -- checking -------------------------------------------------------------------------

    def _text_found(self, text: str) -> bool:
        return any(d.found(text) for d in self.detectors) or any(
            r.search(text) is not None for _, r in self.custom)

    def _drop(self, key: Any) -> bool:
        return isinstance(key, str) and (
            key in self.drop_exact or (bool(self.drop_prefixes) and key.startswith(
                self.drop_prefixes)))

    def needed(self, values: Iterable[Any], attributes: Iterable[Any] = ()) -> bool:
        """Whether any of `values` (or attribute maps) may hold something to remove (a false
        alarm only costs the exact pass; a miss would store a secret, so every gate matches
        wherever its detector does)."""
        values, attributes = list(values), list(attributes)
        if self.custom:
            return self._needed_by_strings(values, attributes)
        # The built-ins and dropped keys are checked over the data as JSON, which costs a
        # fraction of walking it in Python. A secret is made of characters JSON does not
        # escape; the escapes around it that a detector's context may need (tab, newline,
        # quote, control characters) are put back or blanked first.
        try:
            data = orjson.dumps([*values, *attributes])
        except TypeError:  # non-string keys, integers beyond 64 bits
            return self._needed_by_strings(values, attributes)
        if b"\\" in data:
            data = (data.replace(b"\\n", b"\n").replace(b"\\t", b"\t")
                    .replace(b"\\r", b"\r").replace(b'\\"', b'"').replace(b"\\u00", b" "))
        if self.key_needles and any(n in data for n in self.key_needles):
            return True
        return self.gate is not None and self.gate.search(data) is not None

    def _needed_by_strings(self, values: list, attributes: list) -> bool:
        strings: list[str] = []
        for value in values:
            _collect(value, strings)
        for attrs in attributes:
            if self.drop_exact or self.drop_prefixes:
                if _has_key(attrs, self._drop):
                    return True
            _collect(attrs, strings)
        if not strings or not (self.detectors or self.custom):
            return False
        # One check over all of them: a separator no pattern crosses into a match that is not
        # in one string (a false alarm only costs the exact pass below).
        return self._text_found("\n\x00\n".join(strings))

    # -- rewriting --------------------------------------------------------------------------

    def text(self, value: str, counter: list[int]) -> str:
        for d in self.detectors:
            value = d.sub(value, counter)
        for name, regex in self.custom:
            value, n = regex.subn(marker(name), value)
            counter[0] += n
        return value

    def value(self, value: Any, counter: list[int], attributes: bool = False) -> Any:
        """`value` with every string redacted (and, in attributes, drop keys removed)."""
        if isinstance(value, str):
            return self.text(value, counter)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if attributes and self._drop(k):
                    counter[0] += 1
                    continue
                out[self.text(k, counter) if isinstance(k, str) else k] = self.value(
                    v, counter, attributes)
            return out
        if isinstance(value, list | tuple):
            return [self.value(v, counter, attributes) for v in value]
        return value


def _collect(value: Any, out: list[str]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str):
                    out.append(k)
                stack.append(v)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _has_key(value: Any, drop: Callable[[Any], bool]) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if drop(k):
                    return True
                if isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(i for i in item if isinstance(i, dict | list))
    return False


STEP_TEXT_FIELDS = ("input", "output", "tool_arguments", "tool_result", "error_message",
                    "error_traceback")


def redact_step(redactor: Redactor, step: Any) -> int:
    """Redact one StepData in place; the number of values replaced or dropped."""
    values = [getattr(step, f) for f in STEP_TEXT_FIELDS]
    attrs = [a for a in (step.attributes, step.events) if a]
    if not redactor.needed(values, attrs):
        return 0
    counter = [0]
    for f in STEP_TEXT_FIELDS:
        v = getattr(step, f)
        if v is not None:
            setattr(step, f, redactor.value(v, counter))
    if step.attributes:
        step.attributes = redactor.value(step.attributes, counter, attributes=True)
    if step.events:
        step.events = redactor.value(step.events, counter, attributes=True)
    return counter[0]


def redact_invocation(redactor: Redactor, inv: Any) -> None:
    """Redact an InvocationData and its steps in place, counting on each step."""
    if not redactor.active:
        return
    if redactor.needed([inv.input, inv.output], [inv.attributes] if inv.attributes else []):
        counter = [0]
        inv.input = redactor.value(inv.input, counter)
        inv.output = redactor.value(inv.output, counter)
        if inv.attributes:
            inv.attributes = redactor.value(inv.attributes, counter, attributes=True)
    for step in inv.steps:
        n = redact_step(redactor, step)
        if n:
            step.redactions = n
