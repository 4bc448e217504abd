"""Tool failures: a tool (or retriever) call that errored, returned an error, or could not run.

Signals, for each tool step:
- the step's status is error, or it carries an error type/message or an exception event;
- the status is OK but the result is an error: an HTTP 4xx/5xx status line, an `Error: ...`
  line at the top, an `{"error": ...}` object, a traceback, a non-zero exit code, a shell failure;
- the arguments were rejected by the tool's schema;
- the tool is not one the agent has (declared tools on the invocation or an agent span), or the
  runtime said so;
- a timeout or a rate limit.

A failure the agent got past (the same tool succeeded later; for an unknown tool or rejected
arguments, any tool succeeded later) is *recovered*: it is kept as evidence but never the root.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from traceview.classify import helpers
from traceview.classify.base import CAUSE, Finding, ToolProblem, TraceView, rule

HEAD = 400  # status lines and "Error:" prefixes are only trusted near the top of a result


def _first(pattern: re.Pattern, text: str) -> re.Match | None:
    return pattern.search(text) if text else None


def _classify_error_text(text: str) -> tuple[str, float, re.Match | None]:
    """Which kind of tool failure an error text describes."""
    for name, pattern, strength in (
        ("tool.rate_limited", helpers.RATE_LIMIT, 0.9),
        ("tool.timeout", helpers.TIMEOUT, 0.9),
        ("tool.unknown_tool", helpers.UNKNOWN_TOOL, 0.9),
        ("tool.schema_rejected", helpers.SCHEMA_REJECTED, 0.9),
    ):
        m = _first(pattern, text)
        if m:
            return name, strength, m
    return "tool.error_status", 0.9, None


_FAILED_STATES = frozenset(
    {"error", "failed", "failure", "declined", "rejected", "denied", "unsuccessful", "aborted"}
)
_SUCCESS_FLAGS = ("success", "ok", "succeeded", "successful")
def _act_keys(name: str, value: dict) -> tuple[str, ...]:
    """Keys of a result named for the act of its tool ("refunded" of `issue_refund`, "booked"
    of `book_room`): `{"refunded": false}` says the act did not happen."""
    words = _act_stems(name)
    if not words:
        return ()
    # One word, a participle ("refunded", "booked"): not a noun of the name ("visa_required"
    # of `visa_rules` states a fact).
    return tuple(
        k for k in value
        if isinstance(k, str) and k.isalpha() and k.lower().endswith("ed") and len(k) >= 5
        and k.lower()[:4] in words
    )


@lru_cache(maxsize=4_096)
def _act_stems(name: str) -> frozenset[str]:
    """The stems of the words of a tool's name when it is named for an act (none for a tool
    that looks something up). Cached: a run calls its few tools many times."""
    parts = [w.lower() for w in re.split(r"[^a-zA-Z0-9]+", name or "") if w]
    if not parts or parts[0] in helpers.QUERY_VERBS:
        return frozenset()
    return frozenset(w[:4] for w in parts if len(w) >= 4)


def _error_in_result(view: TraceView, i: int) -> tuple[str, re.Match | None, str] | None:
    """An error returned with an OK status: (what, match, text) or None."""
    value = view.result_value(i)
    if isinstance(value, str) and value.lstrip()[:1] == "{" and len(value) < 20_000:
        # Exports that carry tool outputs as text (the OpenAI Agents SDK) send JSON as text.
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict):
        for key in ("error", "errors", "exception", "error_message"):
            if value.get(key) not in (None, "", [], {}, False):
                return "error field", None, helpers.text_of(value.get(key), 1_000)
        status = value.get("status") or value.get("state") or value.get("outcome")
        if isinstance(status, str) and status.lower() in _FAILED_STATES:
            return "status field", None, helpers.text_of(value, 1_000)
        for key in _SUCCESS_FLAGS + _act_keys(view.tool_name(i), value):
            if value.get(key) is False:
                return f"{key}=false", None, helpers.text_of(value, 1_000)
        code = value.get("status_code") or value.get("statusCode") or value.get("exit_code")
        if isinstance(code, int) and (code >= 400 or (code != 0 and code < 100)):
            return f"code {code}", None, helpers.text_of(value, 1_000)
    if isinstance(value, dict):
        # An object's own fields were read above; its nested records are data ("jobs": [{
        # "status": "failed", "error": "Timeout ..."}] is the answer to "which jobs failed?").
        # Only its top-level texts (an output, a message) can still read as an error.
        text = "\n".join(v for v in value.values() if isinstance(v, str))[:helpers.TEXT_LIMIT]
    elif isinstance(value, list):
        return None  # records, lines of a log: data
    else:
        text = view.text(i, "result")
    if not text:
        return None
    head = text[:HEAD]
    m = helpers.HTTP_ERROR.search(head)
    if m:
        return "HTTP error", m, text
    m = helpers.ERROR_PREFIX.search(head)
    if m:
        return "error line", m, text
    m = helpers.TRACEBACK.search(text)
    if m:
        return "traceback", m, text
    for m in helpers.EXIT_CODE.finditer(text):
        code = next((g for g in m.groups() if g is not None), "0")
        if code.lstrip("-") != "0":
            return "non-zero exit code", m, text
    m = helpers.ERROR_KEY.search(head) if head.lstrip()[:1] == "{" else None
    if m:
        return "error field", m, text
    return _act_refused(view.tool_name(i), value)


def _act_refused(name: str, value) -> tuple[str, re.Match | None, str] | None:
    """A tool named for an act (`issue_refund`, `book_room`, not `get_order`) that reports in
    a few words, or in the fields that speak about the call, that the act did not happen:
    "Card declined by issuer", {"message": "booking rejected: no availability"}. What a tool
    that looks something up returns is data, whatever words it holds."""
    if not name or helpers.is_query_tool(name):
        return None
    if isinstance(value, dict):
        text = " ".join(
            v for k in helpers.SAYS_KEYS + ("result", "outcome")
            if isinstance(v := value.get(k), str)
        )[:ACT_REPORT]
    elif isinstance(value, str) and len(value) <= ACT_REPORT:
        text = value
    else:
        return None
    # Its own act is no failure: `block_card` answering "card blocked".
    own = {w[:3] for w in helpers.name_words(name)}
    for m in helpers.ACT_FAILED.finditer(text):
        if m.group(0).split()[-1].lower()[:3] not in own:
            return "the act did not happen", m, text
    return None


# Longer texts than this are more than a report of one act.
ACT_REPORT = 300


def tool_problem(view: TraceView, i: int) -> ToolProblem | None:
    s = view.steps[i]
    name = view.tool_name(i)
    declared = view.declared_tools
    error_text = view.text(i, "error") or view.events_text(i)
    if s.status == "error" or s.error_type or s.error_message:
        limit = helpers.limit_kind(error_text)
        if limit is not None:
            # The run's owners stopped this call (a run deadline passed, too many sub-agents, a
            # budget spent): a budget failure, which budget.limit_error roots; not the tool's.
            detail = f"{name or 'tool'} stopped by a {limit[0]} limit: " + helpers.excerpt(
                error_text, limit[1]
            )
            return ToolProblem("budget.limit_error", detail, 0.9)
        kind, strength, m = _classify_error_text(error_text)
        if kind == "tool.error_status" and declared is not None and name and name not in declared:
            kind = "tool.unknown_tool"
        if kind == "tool.error_status" and wrong_tool_said(view, i):
            # The tool refused a job it is not for while the agent had others: a choice of
            # tool, left to planning.wrong_tool.
            return None
        detail = f"{name or 'tool'} failed: " + helpers.excerpt(error_text or "status error", m)
        # An error that names no tool of its own (OpenHands' `error` observation of a malformed
        # call, which no action caused) is got past by any later successful tool call.
        return ToolProblem(
            kind,
            detail,
            strength,
            kind in ("tool.unknown_tool", "tool.schema_rejected")
            or not (s.tool_name or s.name in view.tool_names),
        )
    if declared is not None and name and name not in declared and s.kind == "tool":
        detail = f"{name} is not among the agent's tools ({', '.join(sorted(declared)[:8])})"
        return ToolProblem("tool.unknown_tool", helpers.excerpt(detail), 0.85, True)
    if wrong_tool_said(view, i):
        # The tool ran and said this is not its job: a choice of tool, left to planning.
        return None
    found = _error_in_result(view, i)
    if found is None:
        return None
    what, m, text = found
    kind, _, m2 = _classify_error_text(text[:2_000])
    if kind == "tool.error_status":
        kind = "tool.error_result"
    else:
        m = m2
    detail = f"{name or 'tool'} returned an error ({what}) with an OK status: " + helpers.excerpt(
        text, m
    )
    # Error results are read from free text, so they are a little less sure than a status.
    return ToolProblem(kind, detail, 0.8, kind in ("tool.unknown_tool", "tool.schema_rejected"))


def wrong_tool_said(view: TraceView, i: int) -> tuple[str, re.Match] | None:
    """Whether tool step `i` said it cannot do what it was asked (helpers.cannot_do): in a
    result, always a choice of tool; in an error, only when the agent had other tools to
    choose (else the one tool it had is broken for this job). Read once a step: tool_problem
    and planning.wrong_tool both ask."""
    return view.once(_wrong_tool_said, i)


def _wrong_tool_said(view: TraceView, i: int) -> tuple[str, re.Match] | None:
    s = view.steps[i]
    if s.status == "error" or s.error_type or s.error_message:
        if not (view.tool_names - {view.tool_name(i)}):
            return None
        return helpers.cannot_do(None, view.text(i, "error") or view.events_text(i) or " ")
    return helpers.cannot_do(view.result_value(i))


def _problems(view: TraceView, rule_name: str) -> list[Finding]:
    out = []
    for i in view.tool_steps:
        p = view.problem(i)
        if p is None or p.rule != rule_name:
            continue
        recovered = view.recovered(i)
        out.append(
            view.finding(
                p.rule,
                "tool",
                i,
                p.detail + (" (recovered: a later call succeeded)" if recovered else ""),
                p.strength,
                role=CAUSE,
                recovered=recovered,
                # An OK run with a failed tool call it never got past, and no successful tool
                # call after it, answered without what it asked for.
                fails_run=not recovered and not _later_success(view, i),
            )
        )
    return out


def _later_success(view: TraceView, i: int) -> bool:
    return any(j > i and view.problem(j) is None for j in view.tool_steps)


@rule("tool.error_status", "tool")
def error_status(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.error_status")


@rule("tool.error_result", "tool", version=2)
def error_result(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.error_result")


@rule("tool.schema_rejected", "tool")
def schema_rejected(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.schema_rejected")


@rule("tool.unknown_tool", "tool")
def unknown_tool(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.unknown_tool")


@rule("tool.timeout", "tool")
def timeout(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.timeout")


@rule("tool.rate_limited", "tool")
def rate_limited(view: TraceView) -> list[Finding]:
    return _problems(view, "tool.rate_limited")


@rule("tool.refused_call", "tool")
def refused_call(view: TraceView) -> list[Finding]:
    """A model call asked for a tool call that no tool step ran because the runtime refused it
    before any tool span: a tool that does not exist (the Agents SDK raises ModelBehaviorError,
    pydantic-ai sends a retry prompt, LangGraph answers with an error message) or arguments
    that failed the tool's schema. The tool is not among the declared ones, or the runtime said
    why; reported as tool.unknown_tool or tool.schema_rejected, rooted at the model call that
    asked for it. Any later successful tool call is a recovery."""
    declared = view.declared_tools
    out = []
    for k, i in enumerate(view.llm_steps):
        asked = view.requested[i]
        if not asked:
            continue
        end = view.llm_steps[k + 1] if k + 1 < len(view.llm_steps) else len(view.steps)
        ran = {view.tool_name(j) for j in range(i + 1, end)} | {
            view.steps[j].name or "" for j in range(i + 1, end)
        }
        if any(view.steps[j].kind == "handoff" for j in range(i + 1, end)):
            continue  # a handoff is asked for as a call and recorded as a handoff
        missing = sorted(n for n in asked - ran if n)
        if not missing:
            continue
        rule_name, why = "tool.unknown_tool", None
        undeclared = [n for n in missing if declared is not None and n not in declared]
        if undeclared:
            tools = ", ".join(sorted(declared or ())[:8])
            why = f"{undeclared[0]} is not among the agent's tools ({tools})"
        else:
            said = _runtime_said(view, end, missing)
            if said:
                rule_name, why = said
        if why is None:
            continue
        recovered = any(j > i and view.problem(j) is None for j in view.tool_steps)
        what = "does not exist" if rule_name == "tool.unknown_tool" else "rejected its arguments"
        out.append(
            view.finding(
                rule_name,
                "tool",
                i,
                helpers.excerpt(f"the model asked for a tool call the runtime {what}: " + why),
                0.85,
                role=CAUSE,
                recovered=recovered,
            )
        )
        break
    return out


def _runtime_said(view: TraceView, end: int, names: list[str]) -> tuple[str, str] | None:
    """Where the runtime said a call of one of `names` was refused before it ran (no such tool,
    or arguments that failed its schema): in an error of any step (the agent run carries it),
    or in what the next model call was told (a retry prompt)."""
    texts = [view.text(j, "error") or view.events_text(j) for j in range(len(view.steps))]
    if end < len(view.steps) and view.steps[end].kind == "llm":
        texts.append(view.text(end, "input")[-2_000:])
    for text in texts:
        if not text or not any(n in text for n in names):
            continue
        for rule_name, pattern in (
            ("tool.unknown_tool", helpers.UNKNOWN_TOOL),
            ("tool.schema_rejected", helpers.SCHEMA_REJECTED),
        ):
            m = pattern.search(text)
            if m:
                return rule_name, "the runtime said so: " + helpers.excerpt(text, m)
    return None


@rule("tool.provider_error", "tool")
def provider_error(view: TraceView) -> list[Finding]:
    """An LLM call that failed for a reason other than context or budget (outage, rate limit).

    The model provider is a dependency like any tool; context-length and limit errors on LLM
    steps are left to the context and budget rules.
    """
    out = []
    for i in view.llm_steps:
        s = view.steps[i]
        if s.status != "error" and not s.error_type and not s.error_message:
            continue
        text = view.text(i, "error") or view.events_text(i)
        if helpers.CONTEXT_LENGTH.search(text) or helpers.limit_kind(text):
            continue
        kind, _, m = _classify_error_text(text)
        # A later successful LLM call means the client retried its way past it.
        recovered = any(j > i and view.steps[j].status != "error" for j in view.llm_steps)
        out.append(
            view.finding(
                "tool.provider_error",
                "tool",
                i,
                f"model call failed ({kind.split('.')[-1]}): "
                + helpers.excerpt(text or "status error", m),
                0.7,
                role=CAUSE,
                recovered=recovered,
            )
        )
    return out
