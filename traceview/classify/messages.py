"""The message-only path: traces that are just chat messages (multi-agent chat logs).

Such a trace has no structured tool calls: each step is one message (kind llm or other, its text
in `output` or `input`, the speaker in `agent_name`). Tools still run, but their output arrives as
a message from an executor ("exitcode: 1 ... Traceback", a speaker named like a terminal or tool,
role tool/function), or as a tool step without arguments of its own (how parsers of chat logs
record an execution result: the code it ran is in the message before it). The rules read what
the messages say:

- `messages.execution_error` (cause, tool): an executor message reports a failed run (non-zero
  exit code, traceback, "Error: ..."). The root is the turn that asked for that run (the latest
  turn before it with a code block, never an orchestrator's routing): that is where the faulty
  call was made. After a later successful run the executor is known to work, but the later run
  may be other code, a workaround: the finding stays, weaker, as the approach's (planning).
- `messages.ignored_error` (cause, tool): the message right after a failed execution carries on
  as if it had worked (claims success or a result): the error was ignored.
- `messages.orchestrator_stalled` (cause): an orchestrator's own judgment of the run, written
  into the log, says it is not progressing: a progress ledger (Magentic-One's JSON of
  `is_request_satisfied`, `is_in_loop`, `is_progress_being_made`, `next_speaker`,
  `instruction_or_question`, each with a reason and an answer, or any object judging progress or
  a loop that way) answering no progress or in a loop, or a replanning message ("we are stuck",
  "stalled", "new plan", an updated fact sheet). The first such judgment points back to the turn
  it judged: for a loop, the answer to the first of the repeated instructions; else the last
  contribution before it (a worker the reason names, else any worker). Loops are planning, and
  so is the orchestrator's own turn. A worker's turn that did not deliver is tool when it
  reports its own tools failing (quoted), context when its context overflowed, else planning:
  the worker is an agent that chose or read wrong. A stall the run got past (its answer came
  from a later turn) is evidence only.
- `messages.answer_source` (cause, planning): in a failed run, the turn that first said what
  the final answer gives (a final-answer channel or "FINAL ANSWER:" line, else the reason of the
  orchestrator's ledger judging the request satisfied): the wrong result entered there. When
  nobody said a figure of the answer, the answer is its own source (a figure no tool returned).
- `messages.first_contribution` (cause, planning, weak): in a failed run with no other signal,
  the first message after the task statement from a speaker that is not an executor, and not an
  orchestrator's ledger, routing decision or plan (those are its judgments, not contributions);
  an opening turn that is an agent's own, with a code block, counts. Mistakes in multi-agent
  chats compound from the first unverified contribution; this rule is weak and loses to any
  strong signal.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from traceview.classify import helpers
from traceview.classify.base import CAUSE, Finding, TraceView, is_tool_step, rule

_EXECUTOR = re.compile(
    r"terminal|executor|execution|interpreter|computer|tool|shell|console|sandbox|runner", re.I
)
_EXIT_OK = re.compile(r"exit ?code(?: was)?\s*[:=]?\s*0\b|execution succeeded", re.I)
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
    return view.once(_message_only)


def _message_only(view: TraceView) -> bool:
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
    """The turn that asked for the run whose result step `i` posts: the latest of the few turns
    before it that holds a code block, else the latest turn. An orchestrator's routing ("->
    ComputerTerminal: run it", "Next speaker ComputerTerminal") hands the code on; it did not
    write it."""
    latest = None
    for j in range(i - 1, max(-1, i - 9), -1):
        if _is_executor(view, j) or view.steps[j].kind == "agent" or judgment(view, j):
            continue
        if "```" in _text(view, j)[:20_000]:
            return j
        if latest is None:
            latest = j
    if latest is None:
        latest = next((j for j in range(i - 1, -1, -1) if not _is_executor(view, j)
                       and view.steps[j].kind != "agent"), None)
    return latest


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
        # A later successful run shows the executor works, so the tool error itself was got
        # past; but in a chat it may be other code altogether, a workaround of the approach that
        # failed, so the turn that asked for the failed run stays a (weaker) cause: of the
        # agent's approach (planning), no longer of the tool.
        out.append(
            view.finding(
                "messages.execution_error",
                "planning" if later_ok else "tool",
                author if author is not None else i,
                detail + (" (a later run succeeded: the approach asked for here, not the "
                          "executor, is in question)" if later_ok else ""),
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


# --- orchestrator judgments --------------------------------------------------------------------

# Speakers that direct the others rather than do the work.
_ORCHESTRATOR_NAME = re.compile(
    r"orchestrat|supervisor|manager|coordinator|router|planner|leader|controller", re.I
)
# Channels a speaker's role carries ("Orchestrator (thought)", "Orchestrator (-> WebSurfer)"):
# thinking aloud and addressing another speaker are the orchestrator's, not contributions.
_ROUTING_CHANNEL = re.compile(r"^\s*(?:->|→|to\b)\s*(.+)$|^thought$|^termination", re.I)
# "Next speaker WebSurfer", {"next": "researcher"}, "Routing to: coder".
_ROUTING_TEXT = re.compile(
    r"^\s*(?:next speaker|next agent|routing to|route to|handing (?:off|over) to|"
    r"transfer(?:ring)? to)\b[\s:]*([\w.-]+)", re.I
)
# Replanning: the orchestrator says the plan is not working and writes a new one.
_REPLAN = re.compile(
    r"\b(?:we are stuck|we're stuck|(?:we have |we've |i have |i've )?stalled|"
    r"re-?planning|new plan|revised plan|updated plan|update the plan|revise the plan|"
    r"updated fact sheet|change (?:of|the) (?:plan|approach)|"
    r"(?:try|take) a different (?:approach|strategy|plan))\b",
    re.I,
)
# Keys a progress ledger judges by, whatever the framework calls them.
_KEY_PROGRESS = re.compile(r"progress", re.I)
_KEY_LOOP = re.compile(r"loop|stuck|stall|repeat", re.I)
_KEY_SATISFIED = re.compile(r"satisf|complete|done|finished", re.I)
_KEY_NEXT = re.compile(r"^(?:next|route|goto|next_?(?:speaker|agent|worker|node|step))$", re.I)
_KEY_INSTRUCTION = re.compile(r"instruction|question|task_for|message_to", re.I)
# How a worker reports that the tool it drives failed it, in its own words.
_TOOL_TROUBLE = re.compile(
    r"\b[45]\d\d (?:Forbidden|Not Found|Unauthori[sz]ed|Service Unavailable|Bad Gateway|"
    r"Internal Server Error|Too Many Requests|Gateway Time-?out)\b|"
    r"\b(?:failed|unable|could not|couldn't|cannot|can't) (?:to )?(?:load|open|access|reach|"
    r"download|connect)\b|\baccess (?:is )?denied\b|\bcaptcha\b|\b(?:site|page|request) "
    r"(?:was |is )?blocked\b|\bcrash(?:ed|es)?\b",
    re.I,
)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(slots=True)
class Judgment:
    """What one orchestrator turn says about the run."""

    pos: int
    stuck: bool  # it judged the run not progressing or in a loop, or replanned
    loop: bool  # ... in a loop, specifically
    matched: str  # what matched, for the evidence
    reason: str
    next_speaker: str | None = None
    instruction: str | None = None
    satisfied: str | None = None  # a ledger's reason for judging the request satisfied


def _answer(value) -> tuple[object, str]:
    """A ledger entry -> (answer, reason): {"answer": .., "reason": ..} or a bare value."""
    if isinstance(value, dict):
        return value.get("answer", value.get("value")), str(value.get("reason") or "")
    return value, ""


def _truth(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return True if text in _TRUE else False if text in _FALSE else None


def _json_object(text: str) -> dict | None:
    """The first JSON (or Python literal) object in `text`, if any."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        return None
    body = text[start : end + 1]
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(body)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return value if isinstance(value, dict) else None
    return None


def _ledger(obj: dict) -> dict[str, tuple[str, object, str]] | None:
    """A progress ledger's judgments by kind -> (key, answer, reason); None when `obj` judges
    neither progress nor a loop nor the request nor whom to hand to next."""
    found: dict[str, tuple[str, object, str]] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            continue
        answer, reason = _answer(value)
        for kind, pattern in (("progress", _KEY_PROGRESS), ("loop", _KEY_LOOP),
                              ("satisfied", _KEY_SATISFIED), ("next", _KEY_NEXT),
                              ("instruction", _KEY_INSTRUCTION)):
            if kind not in found and pattern.search(key) and (
                    kind != "next" or pattern.match(key) or "speaker" in key.lower()):
                found[kind] = (key, answer, reason)
                break
    # A progress or loop judgment makes a ledger; so does the request judged beside a hand-off.
    # A bare {"next": ...} is a supervisor's routing decision. Other objects are data.
    if {"progress", "loop"} & set(found) or {"satisfied", "next"} <= set(found):
        return found
    return found if "next" in found and len(obj) <= 3 else None


def _channel(view: TraceView, i: int) -> str:
    attrs = view.steps[i].attributes or {}
    return str(attrs.get("channel") or "")


def judgment(view: TraceView, i: int) -> Judgment | None:
    """What step `i` says as an orchestrator: a ledger, a routing decision or a replan."""
    s = view.steps[i]
    if _is_executor(view, i) or s.kind == "agent":
        return None
    text = _text(view, i)[:6_000]
    obj = _json_object(text) if "{" in text else None
    ledger = _ledger(obj) if obj else None
    if ledger:
        progress = ledger.get("progress")
        loop = ledger.get("loop")
        no_progress = progress is not None and _truth(progress[1]) is False
        in_loop = loop is not None and _truth(loop[1]) is True
        # Only the judgments that say stuck; a ledger that says neither quotes both.
        said = [x for flag, x in ((no_progress, progress), (in_loop, loop)) if flag] or [
            x for x in (progress, loop) if x is not None]
        matched = "; ".join(f"{key}: {str(answer).lower()}" for key, answer, _ in said)
        reasons = [r for flag, x in ((no_progress, progress), (in_loop, loop)) if flag
                   for r in (x[2],) if r]
        nxt = ledger.get("next")
        instruction = ledger.get("instruction")
        satisfied = ledger.get("satisfied")
        return Judgment(
            pos=i, stuck=no_progress or in_loop, loop=in_loop,
            matched="ledger " + (matched or "without a progress judgment"),
            reason=" ".join(reasons),
            next_speaker=str(nxt[1]).strip() if nxt and nxt[1] else None,
            instruction=str(instruction[1]) if instruction and instruction[1] else None,
            satisfied=(satisfied[2] or "") if satisfied and _truth(satisfied[1]) else None,
        )
    head = text[:400]
    m = _REPLAN.search(head)
    if m and _orchestrating(view, i):
        return Judgment(pos=i, stuck=True, loop=False, matched=f"replanning: {m.group(0)!r}",
                        reason=helpers.excerpt(text, m))
    channel = _channel(view, i)
    route = _ROUTING_TEXT.match(head)
    addressed = _ROUTING_CHANNEL.match(channel) if channel else None
    if route or (addressed and addressed.group(1)):
        to = route.group(1) if route else addressed.group(1).strip()
        return Judgment(pos=i, stuck=False, loop=False, matched=f"routing to {to}", reason="",
                        next_speaker=to, instruction=None if route else text[:1_000])
    if addressed or (channel and _ORCHESTRATOR_NAME.search(s.agent_name or "")):
        return Judgment(pos=i, stuck=False, loop=False, matched=f"{channel} channel", reason="")
    return None


def bookkeeping(view: TraceView, i: int) -> bool:
    """Whether step `i` of a chat log (the caller checked `is_message_only`) is an
    orchestrator's bookkeeping: a ledger, a routing decision ("Next speaker X"), a thought.
    Saying the same of it again is how orchestrators work, not a turn that changed nothing; an
    instruction addressed to a worker is not bookkeeping (the same instruction again and again
    is a loop)."""
    j = judgment(view, i)
    return j is not None and not (j.instruction and not j.matched.startswith("ledger"))


def _orchestrating(view: TraceView, i: int) -> bool:
    """Whether step `i` is an orchestrator's: its speaker is named like one, or speaks on a
    channel of its own (thought, -> another speaker)."""
    return bool(_ORCHESTRATOR_NAME.search(view.steps[i].agent_name or "") or _channel(view, i))


def _words(text: str) -> set[str]:
    return helpers.content_words(text[:1_000])


def _similar(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.6


def _worker_failure(view: TraceView, i: int) -> tuple[str, str]:
    """The category of a worker's turn that did not deliver, and what says so: its context
    window overflowing is context; its own tools failing (an error, an HTTP status or a
    blocked page, a timeout, a failed run, quoted) is tool; else the worker, an agent itself,
    chose or read wrong (a wrong link, a misread page), and that is planning, as
    CLASSIFICATION.md has an agent's own wrong decision."""
    text = _text(view, i)[:3_000]
    m = helpers.CONTEXT_LENGTH.search(text)
    if m:
        return "context", "context overflowing: " + helpers.excerpt(text, m, 60)
    for pattern in (helpers.HTTP_ERROR, _TOOL_TROUBLE, helpers.TIMEOUT, helpers.ERROR_PREFIX,
                    helpers.TRACEBACK, helpers.COMMAND_FAILED):
        m = pattern.search(text)
        if m:
            return "tool", "its tool failing: " + helpers.excerpt(text, m, 60)
    m = _execution_failed(text) if _is_executor(view, i) else None
    if m:
        return "tool", "its tool failing: " + helpers.excerpt(text, m, 60)
    return "planning", "the worker did not deliver, with no tool failure in its turn"


@rule("messages.orchestrator_stalled", "planning")
def orchestrator_stalled(view: TraceView) -> list[Finding]:
    if not is_message_only(view):
        return []
    judgments = [j for i in range(len(view.steps)) if (j := judgment(view, i)) is not None]
    first = next((j for j in judgments if j.stuck), None)
    if first is None:
        return []
    orchestrators = {view.steps[j.pos].agent_name for j in judgments}
    judged = {j.pos for j in judgments}

    def worker(k: int) -> bool:
        s = view.steps[k]
        return (s.kind != "agent" and k not in judged and s.agent_name not in orchestrators
                and (s.agent_name or "").lower() not in ("user", "human"))

    root = None
    how = ""
    if first.loop:
        # The loop started where the instruction now repeated was first given.
        current = first.instruction or next(
            (j.instruction for j in reversed(judgments) if j.pos < first.pos and j.instruction),
            None)
        earlier = next((j for j in judgments if j.pos < first.pos and j.instruction
                        and current and _similar(j.instruction, current)), None)
        if earlier is not None:
            root = next((k for k in range(earlier.pos + 1, first.pos) if worker(k)), None)
            how = (f"answering the first of the repeated instructions, at "
                   f"{view.steps[earlier.pos].span_id}")
    if root is None:
        named = [k for k in range(first.pos - 1, -1, -1) if worker(k)
                 and view.steps[k].agent_name
                 and view.steps[k].agent_name.lower() in first.reason.lower()]
        if named:
            root, how = named[0], "the worker its reason names"
        else:
            root = next((k for k in range(first.pos - 1, -1, -1) if worker(k)), None)
            how = "the last worker turn"
    if root is None:
        root, how = first.pos, "no worker turn before it"
    s = view.steps[root]
    category, why = "planning", "the orchestrator's own turn"
    if first.loop:
        why = "a loop"
    elif worker(root) and root != first.pos:
        category, why = _worker_failure(view, root)
    who = view.steps[first.pos].agent_name or "the orchestrator"
    # What matched and why first: the engine clips details, and the reason quoted is longest.
    detail = (f"{who} at {view.steps[first.pos].span_id} judged the run stuck ({first.matched})"
              f"; root {s.agent_name or 'a turn'} at {s.span_id} ({how}); {why}"
              + (f"; its reason: {first.reason}" if first.reason else ""))
    # The run got going again when the answer it gave came from a turn after the stall: the
    # stall is evidence, and the turn that said what the answer says is the root.
    src = answer_source(view)
    recovered = src is not None and src.said_pos is not None and src.said_pos > first.pos
    if recovered:
        detail = (f"got past: the answer came from {view.steps[src.said_pos].span_id}, after "
                  "it; " + detail)
    return [view.finding("messages.orchestrator_stalled", category, root, helpers.excerpt(detail),
                         0.7, role=CAUSE, fails_run=False, recovered=recovered)]


# --- where a failed chat's answer came from ------------------------------------------------------

# "FINAL ANSWER: 42", the orchestrator's "(final answer)" channel.
_FINAL_ANSWER = re.compile(r"^[\s*#]*final[ _]answer\b[\s*]*[:：]\s*", re.I | re.M)
_TERMINATE = re.compile(r"\bTERMINATE\b")
# The distinctive parts of an answer: a figure (an amount, a decimal, a number of two or more
# digits; single digits are everywhere in prose) and what its author emphasised.
_FIGURE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d{2,})(?![\w])")
_EMPHASIS = re.compile(r"\*\*([^*\n]{2,80})\*\*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")


def _plain(text: str) -> str:
    return _THOUSANDS.sub("", text.lower())


def _is_task_statement(view: TraceView, i: int) -> bool:
    """The task, not a contribution: the chat's first message, whoever signs it (a group chat
    opens with the task and the plan handed down with it), and messages from the user or the
    system."""
    s = view.steps[i]
    return i == 0 or (s.kind == "other" and not is_tool_step(s))


def chat_answer(view: TraceView) -> tuple[int | None, str, bool]:
    """A chat's final answer: (position, what it answers, explicit). Explicit: the last message
    on a final-answer channel ("Orchestrator (final answer)") or with a "FINAL ANSWER:" line.
    Without one, an orchestrator's last ledger judging the request satisfied, by its reason
    ("the WebSurfer found 1.2 million visitors"). (None, "", False) when there is neither: a
    plain last message restates much of the discussion, and which of its figures is the answer
    would be a guess."""
    satisfied = None
    for i in range(len(view.steps) - 1, -1, -1):
        if view.steps[i].kind == "agent" or _is_executor(view, i) or _is_task_statement(view, i):
            continue
        text = _text(view, i)
        m = _FINAL_ANSWER.search(text[:4_000])
        if m or "final" in _channel(view, i).lower():
            return i, (text[m.end():] if m else text).strip()[:2_000], True
        if satisfied is None:
            j = judgment(view, i)
            if j is not None and j.satisfied:
                satisfied = (i, j.satisfied[:2_000])
    if satisfied is not None:
        return satisfied[0], satisfied[1], False
    return None, "", False


def _answer_parts(answer: str, explicit: bool) -> list[str]:
    """What in an answer another turn would have had to say first: the whole of a short
    explicit answer (a name, a title), its figures, its emphasised phrases."""
    text = _TERMINATE.sub("", answer).strip()
    parts = []
    short = " ".join(text.split()).strip(" .*\"'")
    if explicit and 2 <= len(short) <= 80 and "\n" not in text.strip():
        parts.append(short)
    for m in _EMPHASIS.finditer(text):
        phrase = next(g for g in m.groups() if g is not None).strip(" .:*")
        if len(phrase) >= 2 and not phrase.endswith(":"):
            parts.append(phrase)
    parts += [m.group(1) for m in _FIGURE.finditer(text)]
    seen, out = set(), []
    for p in parts:
        key = _plain(p)
        if key not in seen and (len(key) >= 3 or key.isdigit()):
            seen.add(key)
            out.append(p)
    return out


def _part_pattern(part: str) -> re.Pattern:
    """`part` as a whole word or figure, any case; a figure of four digits or more with or
    without thousands separators (1204000, 1,204,000)."""
    plain = _plain(part)
    whole = plain.split(".")[0]
    if whole.isdigit() and len(whole) >= 4:
        digits = [re.escape(c) for c in whole]
        key = "".join(d + ("[,\u202f ]?" if (len(digits) - k - 1) % 3 == 0 else "")
                      for k, d in enumerate(digits[:-1])) + digits[-1]
        key += re.escape(plain[len(whole):])
    else:
        key = re.escape(plain)
    return re.compile(rf"(?<![\w.]){key}(?![\w])", re.I)


@dataclass(slots=True)
class Source:
    """The turn that first said what a failed chat's answer says."""

    answer_pos: int
    # The first message that said it (an execution result, or a turn); None when none did and
    # the answer is its own source (a figure nobody reported).
    said_pos: int | None
    root: int  # that turn, for an execution result the turn that asked for the run, or the answer
    part: str  # what it said
    explicit: bool  # a final answer, or else a ledger that judged the request satisfied


def answer_source(view: TraceView) -> Source | None:
    """In a failed chat, the first turn that said what the final answer says (a figure, a name):
    where the answer's content entered the conversation."""
    if not is_message_only(view) or not view.run_failed:
        return None
    pos, answer, explicit = chat_answer(view)
    if pos is None:
        return None
    given = [view.text(i, "output") or view.text(i, "input")
             for i in range(pos) if _is_task_statement(view, i)]
    for source in (view.inv.input, (view.inv.attributes or {}).get("question")):
        if isinstance(source, str):
            given.append(source)
    patterns = [(p, _part_pattern(p)) for p in _answer_parts(answer, explicit)]
    patterns = [(p, rx) for p, rx in patterns if not any(rx.search(g) for g in given)]
    if not patterns:
        return None
    # A bare figure turns up everywhere in pages and printouts ("12 results"): it counts where
    # it is said about the task's subject, a word of the task within a sentence or so of it.
    task_words = set().union(*(helpers.content_words(g[:2_000]) for g in given))

    def said(rx: re.Pattern, part: str, text: str) -> bool:
        for m in rx.finditer(text):
            if not _FIGURE.fullmatch(part.strip()):
                return True
            near = text[max(0, m.start() - 150): m.end() + 150]
            if helpers.content_words(near) & task_words:
                return True
        return False

    for i in range(pos):
        if view.steps[i].kind == "agent" or _is_task_statement(view, i):
            continue
        text = _text(view, i)
        part = next((p for p, rx in patterns if said(rx, p, text)), None)
        if part is None:
            continue
        root = i
        if _is_executor(view, i):
            author = _author_of(view, i)
            root = author if author is not None else i
        return Source(answer_pos=pos, said_pos=i, root=root, part=part, explicit=explicit)
    # No turn said it. A figure of the answer that appears nowhere before it, in any context, is
    # one no agent or tool reported: the answer claims a result the trace does not support, and
    # it is the mistake (CLASSIFICATION.md). Names are not judged so: they may be paraphrased.
    figures = [p for p, rx in patterns if _FIGURE.fullmatch(p.strip())]
    if figures and not any(_part_pattern(f).search(_text(view, i))
                           for f in figures for i in range(pos)):
        return Source(answer_pos=pos, said_pos=None, root=pos, part=figures[0],
                      explicit=explicit)
    return None


@rule("messages.answer_source", "planning")
def answer_source_rule(view: TraceView) -> list[Finding]:
    """In a failed chat, the answer is wrong; the first turn that said what it says (the figure
    or name it gives) is where the wrong result entered the run: later turns repeated or built
    on it. For an execution result, the turn that asked for that run. Planning: the agents took
    a result the trace does not support."""
    src = answer_source(view)
    if src is None:
        return []
    s = view.steps[src.root]
    answer = "the final answer" if src.explicit else "the ledger judging the request satisfied"
    if src.said_pos is None:
        detail = (f"{answer} at {s.span_id} ({s.agent_name or 'a turn'}) gives {src.part!r}, "
                  "a figure no turn, page or execution before it reported: "
                  + helpers.excerpt(_text(view, src.answer_pos)[:2_000]))
        return [view.finding("messages.answer_source", "planning", src.root,
                             helpers.excerpt(detail), 0.5, role=CAUSE, fails_run=False)]
    how = "an execution it asked for printed" if src.said_pos != src.root else "it said"
    said = _text(view, src.said_pos)[:3_000]
    detail = (f"{answer} at {view.steps[src.answer_pos].span_id} gives {src.part!r}, "
              f"which {s.agent_name or 'a turn'} at {s.span_id} first said ({how}): "
              + helpers.excerpt(said, _part_pattern(src.part).search(said), 120))
    return [view.finding("messages.answer_source", "planning", src.root, helpers.excerpt(detail),
                         0.6, role=CAUSE, fails_run=False)]


@rule("messages.first_contribution", "planning", version=2)
def first_contribution(view: TraceView) -> list[Finding]:
    """Weak: in a failed chat with no other signal, the first contribution after the opening.

    Mistakes in multi-agent chats compound: later agents build on what the first one asserted or
    computed, so when nothing explicit marks the failure, the first message after the task
    statement from a speaker that is not an executor is the likeliest place it started. A group
    chat whose first message is an agent's own turn (the task handed down, then its work) starts
    with that agent's contribution when the turn carries work of its own, a code block.
    """
    if not is_message_only(view) or not view.run_failed:
        return []
    for i in range(len(view.steps)):
        if _is_executor(view, i) or view.steps[i].kind == "agent" or judgment(view, i):
            continue
        text = _text(view, i)
        if i == 0 and not (view.steps[0].kind == "llm" and "```" in text):
            continue
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
