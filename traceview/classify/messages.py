"""The message-only path: traces that are just chat messages (multi-agent chat logs).

Such a trace has no structured tool calls: each step is one message (kind llm or other, its text
in `output` or `input`, the speaker in `agent_name`). Tools still run, but their output arrives as
a message from an executor ("exitcode: 1 ... Traceback", a speaker named like a terminal or tool,
role tool/function), or as a tool step without arguments of its own (how parsers of chat logs
record an execution result: the code it ran is in the message before it). The rules read what
the messages say:

- `messages.execution_error` (cause, tool): an executor message reports a failed run (non-zero
  exit code, traceback, "Error: ..."). The root is the message that asked for that run (the
  previous message from another speaker): that is where the faulty call was made. A later
  successful run only weakens it (it may be other code), it does not count as a recovery.
- `messages.ignored_error` (cause, tool): the message right after a failed execution carries on
  as if it had worked (claims success or a result): the error was ignored.
- `messages.first_contribution` (cause, planning, weak): in a failed run with no other signal,
  the first message after the task statement from a speaker that is not an executor. Mistakes in
  multi-agent chats compound from the first unverified contribution; this rule is weak and loses
  to any strong signal.
"""

from __future__ import annotations

import re

from traceview.classify import helpers
from traceview.classify.base import CAUSE, Finding, TraceView, is_tool_step, rule

_EXECUTOR = re.compile(
    r"terminal|executor|execution|interpreter|computer|tool|shell|console|sandbox|runner", re.I
)
_EXIT_OK = re.compile(r"exit ?code\s*[:=]?\s*0\b|execution succeeded", re.I)
_CLAIM = re.compile(
    r"\b(?:the (?:final |correct )?(?:answer|result|count|total|number|value) (?:is|was|=)|"
    r"therefore|thus|in conclusion|we (?:have )?(?:found|verified|confirmed|determined)|"
    r"(?:has|have) been (?:verified|confirmed|identified|determined)|result(?:s)?:)",
    re.I,
)


def _posted_result(s) -> bool:
    # A tool step without arguments of its own: an execution result posted into the chat (the
    # code it ran is in the message before it), not a structured call.
    return is_tool_step(s) and s.tool_arguments in (None, "", {}, [])


def is_message_only(view: TraceView) -> bool:
    """The steps are messages that say who spoke (agent_name); tools appear only as results
    posted into the chat, never as structured calls with arguments."""
    messages = [s for s in view.steps if s.kind != "agent"]
    if len(messages) < 2:
        return False
    for s in messages:
        if s.kind not in ("llm", "other", None) and not _posted_result(s):
            return False
    if not any(s.kind in ("llm", "other", None) and not is_tool_step(s) for s in messages):
        return False
    return sum(1 for s in messages if s.agent_name) * 2 >= len(messages)


def _text(view: TraceView, i: int) -> str:
    if is_tool_step(view.steps[i]):
        return view.text(i, "result")
    return view.text(i, "output") or view.text(i, "input")


def _is_executor(view: TraceView, i: int) -> bool:
    s = view.steps[i]
    if is_tool_step(s):
        return True
    role = (s.attributes or {}).get("role") if s.attributes else None
    if role in ("tool", "function", "ipython"):
        return True
    if s.agent_name and _EXECUTOR.search(s.agent_name):
        return True
    head = _text(view, i)[:60].lower()
    return head.startswith("exitcode") or head.startswith("exit code")


def _execution_failed(text: str) -> re.Match | None:
    for m in helpers.EXIT_CODE.finditer(text[:400]):
        code = next((g for g in m.groups() if g is not None), "0")
        if code.lstrip("-") != "0":
            return m
    return helpers.TRACEBACK.search(text) or helpers.ERROR_PREFIX.search(text[:400])


def _author_of(view: TraceView, i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if not _is_executor(view, j) and view.steps[j].kind != "agent":
            return j
    return None


@rule("messages.execution_error", "tool")
def execution_error(view: TraceView) -> list[Finding]:
    if not is_message_only(view):
        return []
    out = []
    n = len(view.steps)
    for i in range(n):
        if not _is_executor(view, i):
            continue
        text = _text(view, i)
        m = _execution_failed(text)
        if not m:
            continue
        author = _author_of(view, i)
        later_ok = any(
            _is_executor(view, j)
            and _EXIT_OK.search(_text(view, j)[:200])
            and not _execution_failed(_text(view, j))
            for j in range(i + 1, n)
        )
        detail = "execution failed: " + helpers.excerpt(text, m)
        # A later successful run in a chat may be other code altogether, so a failure followed
        # by one stays a (weaker) cause rather than recovered.
        out.append(
            view.finding(
                "messages.execution_error",
                "tool",
                author if author is not None else i,
                detail + (" (a later run succeeded)" if later_ok else ""),
                0.55 if later_ok else 0.75,
                role=CAUSE,
                fails_run=False,
            )
        )
    return out


@rule("messages.ignored_error", "tool")
def ignored_error(view: TraceView) -> list[Finding]:
    if not is_message_only(view):
        return []
    n = len(view.steps)
    for i in range(n - 1):
        if not _is_executor(view, i):
            continue
        text = _text(view, i)
        m = _execution_failed(text)
        if not m:
            continue
        nxt = next((j for j in range(i + 1, n) if not _is_executor(view, j)), None)
        if nxt is None:
            continue
        reply = _text(view, nxt)[:1_500]
        claim = helpers.SUCCESS_CLAIM.search(reply) or _CLAIM.search(reply)
        if claim and not re.search(
            r"\berror\b|\bfail|\bfix|\bissue|\bproblem|\bbug", reply[:600], re.I
        ):
            detail = "the reply carries on after a failed execution: " + helpers.excerpt(
                reply, claim
            )
            return [
                view.finding(
                    "messages.ignored_error",
                    "tool",
                    nxt,
                    helpers.excerpt(detail),
                    0.8,
                    role=CAUSE,
                    fails_run=True,
                )
            ]
    return []


@rule("messages.first_contribution", "planning")
def first_contribution(view: TraceView) -> list[Finding]:
    """Weak: in a failed chat with no other signal, the first contribution after the opening.

    Mistakes in multi-agent chats compound: later agents build on what the first one asserted or
    computed, so when nothing explicit marks the failure, the first message after the task
    statement from a speaker that is not an executor is the likeliest place it started.
    """
    if not is_message_only(view) or not view.run_failed:
        return []
    for i in range(1, len(view.steps)):
        if _is_executor(view, i) or view.steps[i].kind == "agent":
            continue
        text = _text(view, i)
        if len(text.strip()) < 20:
            continue
        m = _CLAIM.search(text[:3_000])
        what = "states a result" if m else "first contribution after the task statement"
        detail = f"{view.steps[i].agent_name or 'agent'}: {what}: " + helpers.excerpt(
            text[:3_000], m
        )
        return [
            view.finding(
                "messages.first_contribution",
                "planning",
                i,
                helpers.excerpt(detail),
                0.4,
                role=CAUSE,
                fails_run=False,
            )
        ]
    return []
