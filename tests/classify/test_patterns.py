"""The classifier's patterns, compiled to be quick to search (helpers.compile_scan), find what
the plain patterns find."""

import re

import pytest

from traceview.classify import helpers
from traceview.classify.helpers import compile_scan

# Texts that each vocabulary matches somewhere (at the start, mid-line, at the end, in another
# case, through Unicode case folding: "ſ" is an s, "K" a k), and texts it must not match.
TEXTS = [
    "",
    " ",
    "id: 28\nstatus: shipped\nid: 5\nstatus: shipped",
    '{"error": null, "results": []}',
    '{"error": "Invalid arguments: missing required field \'id\'"}',
    "HTTP/1.1 502 Bad Gateway\nupstream timed out",
    "404 Not Found: /orders/7",
    '{"status_code": 500, "detail": "boom"}',
    "Error: the tool only supports US equities; use the fx endpoint instead",
    "UNSUPPORTED operation. This endpoint only returns quotes.",
    "Traceback (most recent call last):\n  File \"x.py\", line 3\nKeyError: 'id'",
    "process exited with code 2; returncode=0",
    "Max turns (30) exceeded",
    "GraphRecursionError: Recursion limit of 25 reached",
    "BudgetExceededError: budget exceeded, max budget: $0.015",
    "token budget of 3,500 tokens exhausted",
    "This model's maximum context length is 8192 tokens",
    "the run deadline passed after 120 s",
    "too many sub-agents: at most 3 allowed",
    "I'm unable to complete this; unfortunately there is no way to proceed.",
    "Your refund has been ſuccessfully processed. All done!",
    "I have booked the room and emailed the customer.",
    "Nothing was booked: the payment could not be processed.",
    "No results found. 0 documents matched.",
    "Plan:\n1. search_docs for the policy\n2. send_email to the customer\n- done",
    "The total is $1,234.50, up 12.5 from 1,222.00 (v2.1.3).",
    "KELVIN \u212a and ſ and İstanbul: TIMEOUT, Rate Limit, too many requests (429)",
    "rate_limit_error\ncommand not found\nModuleNotFoundError: No module named 'x'",
    "validation error for lookup_order\nfield required",
    "unknown tool 'frobnicate'; function foo does not exist",
]


def _plain(pattern: re.Pattern) -> re.Pattern:
    """The pattern compile_scan was given: its lookahead taken off."""
    m = re.fullmatch(r"\(\?=\[(?:\\.|[^\]\\])*\]\)\(\?:(.*)\)", pattern.pattern, re.DOTALL)
    return re.compile(m.group(1) if m else pattern.pattern, pattern.flags)


PATTERNS = {
    name: value for name, value in vars(helpers).items() if isinstance(value, re.Pattern)
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_it_finds_what_the_plain_pattern_finds(name):
    fast = PATTERNS[name]
    plain = _plain(fast)
    for text in TEXTS + [t.upper() for t in TEXTS] + [t.lower() for t in TEXTS]:
        for pos in range(0, len(text) + 1, 7):
            a, b = fast.search(text, pos), plain.search(text, pos)
            assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups())), (text, pos)
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


def test_it_quickens_the_vocabularies():
    for name in ("CANNOT_DO", "EMPTY_RESULT", "GIVING_UP", "SUCCESS_CLAIM", "SCHEMA_REJECTED"):
        assert PATTERNS[name].pattern.startswith("(?=["), name


def test_it_leaves_patterns_it_cannot_bound_as_they_are():
    # A match that may be empty, a match that may start with any character, a global flag.
    for source in (r"a*", r"(?:x|y)?z*", r".error", r"[^a]b", r"\w+ing", r"(?i)error"):
        assert compile_scan(source).pattern == source
    assert compile_scan(r"\bfoo|bar\b", re.I).pattern.startswith("(?=[fb])")
