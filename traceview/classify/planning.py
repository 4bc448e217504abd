"""Planning failures: the agent's own decisions went wrong while its tools and context were fine.

- `planning.repeated_call` (cause): the same tool with the same arguments called 3+ times. Strong
  when the calls got the same result each time (a loop that makes no progress, even when every
  call succeeds); weak when the results changed (polling). A loop of calls that all fail is
  left to the tool rules, which name the same first call.
- `planning.ping_pong` (cause): two tools alternating A B A B A B, or two agents handing the
  request back and forth A B A B; the run failed when no tool was called once the handoffs began.
- `planning.no_progress` (cause): the same turn 3+ times (the same speaker, the same model
  output and the same tool calls after it), or 4+ tool calls in a row returned the same result.
- `planning.wrong_tool` (cause): a tool answered that it cannot do this (unsupported operation,
  "this tool only ..."), and no other tool was tried after it.
- `planning.gave_up` (symptom): the final answer says the agent could not do the task.
- `planning.premature_answer` (cause): the run failed and the agent answered without calling any
  of the tools it declared.
- `planning.plan_deviation` (cause): the agent wrote a plan naming tools, then answered without
  calling a tool it planned (or called tools it did not plan instead).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from traceview.classify import helpers, messages
from traceview.classify.base import CAUSE, DECLARED_TOOL_KEYS, SYMPTOM, Finding, TraceView, rule
from traceview.classify.messages import is_message_only
from traceview.classify.tool import wrong_tool_said

LOOP_MIN = 3
_IDENT = re.compile(r"\b[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+\b")
PING_PONG_CYCLES = 3
# A request handed back to an agent that already passed it on, twice over (A B A B), is
# oscillation: a supervisor that sends work to the same worker again has the worker call tools
# in between, which is what tells the two apart (see ping_pong).
HANDOFF_PING_PONG_CYCLES = 2


def _result_key(view: TraceView, i: int) -> str:
    return view.text(i, "result")[:2_000]


@rule("planning.repeated_call", "planning")
def repeated_call(view: TraceView) -> list[Finding]:
    if is_message_only(view):
        # Execution results posted into a chat carry no arguments: equal "calls" say nothing.
        return []
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in view.tool_steps:
        groups[(view.tool_name(i), view.text(i, "args"))].append(i)
    out = []
    for (name, args), calls in groups.items():
        if len(calls) < LOOP_MIN:
            continue
        if all(view.problem(i) is not None for i in calls):
            continue
        results = {_result_key(view, i) for i in calls}
        same = len(results) == 1
        detail = f"{name}({helpers.excerpt(args, limit=80)}) called {len(calls)} times" + (
            ", same result each time" if same else ", results changed (polling?)"
        )
        out.append(
            view.finding(
                "planning.repeated_call",
                "planning",
                calls[0],
                detail,
                0.9 if same else 0.45,
                role=CAUSE,
                fails_run=same and len(calls) >= LOOP_MIN + 1,
            )
        )
    return out


def _alternation(
    seq: list[tuple[int, str]], cycles: int = PING_PONG_CYCLES
) -> tuple[int, str, str, int] | None:
    """The first run of A B A B ... with at least `cycles` cycles: (start, a, b, length)."""
    n = len(seq)
    start = 0
    while start + 2 * cycles <= n:
        a, b = seq[start][1], seq[start + 1][1]
        if a == b:
            start += 1
            continue
        end = start + 2
        while end < n and seq[end][1] == (a if (end - start) % 2 == 0 else b):
            end += 1
        if end - start >= 2 * cycles:
            return seq[start][0], a, b, end - start
        start += 1
    return None


@rule("planning.ping_pong", "planning")
def ping_pong(view: TraceView) -> list[Finding]:
    out = []
    calls = [(i, f"{view.tool_name(i)}({view.text(i, 'args')[:200]})") for i in view.tool_steps]
    found = _alternation(calls)
    if found:
        i, a, b, length = found
        pair = f"{helpers.excerpt(a, limit=80)} and {helpers.excerpt(b, limit=80)}"
        detail = f"alternated {length} times between {pair}"
        out.append(
            view.finding(
                "planning.ping_pong", "planning", i, detail, 0.85, role=CAUSE, fails_run=False
            )
        )
        return out
    handoffs = [
        (i, (s.agent_name or "") + "->" + (s.name or ""))
        for i, s in enumerate(view.steps)
        if s.kind == "handoff"
    ]
    found = _alternation(handoffs, HANDOFF_PING_PONG_CYCLES)
    if found:
        i, a, b, length = found
        # Nobody did any work on the request once the bouncing began: whatever the run ends
        # with (a limit, a promise that someone will follow up, an answer) rests on nothing.
        idle = not any(j > i for j in view.tool_steps)
        detail = f"agents handed off back and forth {length} times: {a} / {b}" + (
            ", and no tool was called after the first of them" if idle else "")
        out.append(
            view.finding(
                "planning.ping_pong",
                "planning",
                i,
                helpers.excerpt(detail),
                0.8,
                role=CAUSE,
                fails_run=idle,
            )
        )
    return out


def _turns(view: TraceView) -> list[tuple[int, str]]:
    """Each model call with what it led to: its output and the tool calls made before the next
    model call. A turn that repeats exactly is a turn that changed nothing."""
    turns: list[tuple[int, str]] = []
    tools = iter(view.tool_steps)
    nxt = next(tools, None)
    llm = view.llm_steps
    # An orchestrator's ledgers, routing and thoughts in a chat log repeat by design.
    chat = messages.is_message_only(view)
    for k, i in enumerate(llm):
        end = llm[k + 1] if k + 1 < len(llm) else len(view.steps)
        calls = []
        first_call = None
        while nxt is not None and nxt < end:
            if nxt > i:
                calls.append(view.tool_name(nxt) + view.text(nxt, "args")[:300])
                first_call = nxt if first_call is None else first_call
            nxt = next(tools, None)
        s = view.steps[i]
        text = view.text(i, "output").strip()[:2_000]
        # A loop is rooted at its first call; a turn without calls at the model call itself.
        at = first_call if first_call is not None else i
        if chat and messages.bookkeeping(view, i):
            continue
        # Within one run of an agent: sub-agents started one after another on different jobs
        # (each its own agent span) that answer alike are not one agent going round.
        run = _agent_span(view, i)
        turns.append((at, f"{run}\x00{s.agent_name or ''}\x00{text}\x00" + "\x00".join(calls)))
    return turns


def _agent_span(view: TraceView, i: int) -> str:
    """The span id of the agent run that step `i` belongs to (its nearest agent span), or ""."""
    parent = view.steps[i].parent_span_id
    for _ in range(64):
        if parent is None or parent not in view.pos:
            return ""
        p = view.steps[view.pos[parent]]
        if p.kind == "agent":
            return p.span_id
        parent = p.parent_span_id
    return ""


@rule("planning.no_progress", "planning", version=3)
def no_progress(view: TraceView) -> list[Finding]:
    seen: dict[str, list[int]] = defaultdict(list)
    for i, key in _turns(view):
        if len(key) < 24:
            continue
        where = seen[key]
        where.append(i)
        if len(where) >= LOOP_MIN:
            text = key.replace("\x00", " ")
            detail = f"the same turn came back {len(where)} times: " + helpers.excerpt(text)
            return [
                view.finding(
                    "planning.no_progress",
                    "planning",
                    where[0],
                    helpers.excerpt(detail),
                    0.8,
                    role=CAUSE,
                    fails_run=False,
                )
            ]
    if is_message_only(view):
        # Execution results posted into a chat are runs of different code: equal outputs (an
        # empty one, "exitcode: 0") are no call repeated.
        return []
    run_start, run_len, prev = None, 0, None
    for i in view.tool_steps:
        # Only results that say nothing (empty, "no results", an error) show calls getting
        # nowhere: distinct calls that return equal data (two regions with equal metrics)
        # are progress.
        key = (_result_key(view, i) or "(nothing)") if _says_nothing(view, i) else ""
        if key and key == prev:
            run_len += 1
        else:
            run_start, run_len, prev = i, 1, key
        if run_len >= LOOP_MIN + 1:
            detail = f"{run_len} tool calls in a row returned the same result: " + helpers.excerpt(
                key, limit=120
            )
            return [
                view.finding(
                    "planning.no_progress",
                    "planning",
                    run_start,
                    helpers.excerpt(detail),
                    0.7,
                    role=CAUSE,
                    fails_run=False,
                )
            ]
    return []


def _says_nothing(view: TraceView, i: int) -> bool:
    if view.problem(i) is not None:
        return True
    value = view.result_value(i)
    if isinstance(value, str) and value.strip()[:1] in ("[", "{") and len(value) < 4_000:
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if value in (None, "", [], {}):
        return True
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if lists:
            return not any(lists)
    text = view.text(i, "result")
    return len(text) < 300 and bool(helpers.EMPTY_RESULT.search(text) or _NONE_FOUND.search(text))


@rule("planning.wrong_tool", "planning", version=3)
def wrong_tool(view: TraceView) -> list[Finding]:
    """A tool that answered it cannot do this (unsupported, "this endpoint only returns ...",
    in the fields of its result that speak about the call, a short text, or an error raised
    while the agent had other tools) and the agent went on without another tool that worked:
    it picked a tool that cannot do the job. A failure on its own, whatever the answer says
    afterwards."""
    for n, i in enumerate(view.tool_steps):
        said = wrong_tool_said(view, i)
        if said is None:
            continue
        head, m = said
        name = view.tool_name(i)
        later = [
            j
            for j in view.tool_steps[n + 1 :]
            if view.tool_name(j) != name and view.problem(j) is None
        ]
        if later:
            continue  # the agent switched to another tool that worked
        detail = f"{name or 'tool'} cannot do what it was asked: " + helpers.excerpt(head, m)
        return [
            view.finding(
                "planning.wrong_tool", "planning", i, helpers.excerpt(detail), 0.75, role=CAUSE
            )
        ]
    return []


@rule("planning.false_success", "planning", version=3)
def false_success(view: TraceView) -> list[Finding]:
    """A final answer that claims the job was done when the trace does not support it: after a
    tool call failed and was never redone, unless a later call of another tool that acts (not
    one that looks something up) may have done it instead, or the claim names an act of the
    failed tool itself; or a claimed act whose tool was never called. The failure was seen and
    handled (`overrides`); the claim is the mistake, rooted at the model call that made it."""
    answer_pos, answer = view.final_answer()
    if not answer:
        return []
    m = helpers.success_claim(answer)
    if not m:
        return []
    acts = [_stem(a) for a in helpers.claimed_acts(answer)]
    unbacked = _claim_without_call(view, answer, answer_pos, m, acts)
    if unbacked is not None:
        return [unbacked]
    failed = _failed_before(view, answer_pos, acts)
    if failed is None:
        contradicted = _contradicted(view, answer_pos, answer, m, acts)
        return [contradicted] if contradicted is not None else []
    detail = (
        f"the final answer claims success after {view.tool_name(failed) or 'a tool call'} "
        f"failed and was never redone; claim: {m.group(0).strip()!r} in "
        + helpers.excerpt(answer, m)
    )
    return [
        view.finding(
            "planning.false_success",
            "planning",
            answer_pos,
            helpers.excerpt(detail),
            0.9,
            role=CAUSE,
            overrides=("tool",),
        )
    ]


# Outcomes an answer can claim, and states a tool reports that say the outcome is not there yet
# (or was refused): "has been approved" over {"status": "under_review"}.
_OUTCOMES = frozenset(_w[:4] for _w in (
    "approved accepted paid refunded shipped delivered confirmed completed resolved granted "
    "processed booked reserved issued released authorized authorised credited settled "
    "activated enabled closed fixed deployed merged published").split())
_NOT_YET = re.compile(
    r"^(?:pending|under[ _-]?review|in[ _-]?review|review(?:ing)?|awaiting\w*|waiting\w*|"
    r"draft|not[ _-]\w+|on[ _-]?hold|queued|open|new|submitted|requested|unpaid|unassigned|"
    r"rejected|declined|denied|failed|refused|cancel+ed|expired|blocked)$",
    re.IGNORECASE,
)
_STATE_KEYS = ("status", "state", "stage", "claim_status", "order_status", "payment_status",
               "approval_status", "decision")


def _contradicted(
    view: TraceView, answer_pos: int | None, answer: str, m: re.Match, acts: list[str]
) -> Finding | None:
    """An answer that claims an outcome ("has been approved", "was shipped") when the last
    state a tool reported before it says the outcome is not there ({"status": "under_review"},
    "pending", "declined"): a result the trace does not support."""
    claimed = [a for a in acts if a in _OUTCOMES]
    if not claimed or answer_pos is None:
        return None
    for i in reversed([j for j in view.tool_steps if j < answer_pos]):
        value = view.result_value(i)
        if isinstance(value, str) and value.strip()[:1] == "{" and len(value) < 8_000:
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if not isinstance(value, dict):
            continue
        state = next((value[k] for k in _STATE_KEYS if isinstance(value.get(k), str)), None)
        if state is None:
            continue
        if not _NOT_YET.match(state.strip()) or state.strip().lower()[:4] in claimed:
            return None
        detail = (
            f"the final answer claims it is {m.group(0).strip()!r} but "
            f"{view.tool_name(i) or 'a tool'} last reported {state!r}; claim: "
            + helpers.excerpt(answer, m)
        )
        return view.finding("planning.false_success", "planning", answer_pos,
                            helpers.excerpt(detail), 0.8, role=CAUSE)
    return None


def _failed_before(view: TraceView, answer_pos: int | None, acts: list[str]) -> int | None:
    """The first tool call before the answer that failed and that nothing made good."""
    failed = None
    for i in view.tool_steps:
        if answer_pos is not None and i > answer_pos:
            break
        problem = view.problem(i)
        if problem is None:
            if failed is not None and _may_have_done_it(view, i, failed, acts):
                failed = None  # another tool may have done what the failed one did not
        elif failed is None and problem.rule.startswith("tool.") and not view.recovered(i):
            failed = i
    return failed


def _may_have_done_it(view: TraceView, later: int, failed: int, acts: list[str]) -> bool:
    """Whether the successful tool call at `later` may back the claim that the failed call at
    `failed` could not: a call of a tool that acts (not `get_order`, `search_flights`), unless
    the claim names the act of the failed tool ("refunded" after `issue_refund` failed)."""
    name = view.tool_name(later)
    if helpers.is_query_tool(name):
        return False
    failed_words, words = _words(view.tool_name(failed)), _words(name)
    return not any(a in failed_words and a not in words for a in acts)


# Past forms whose first letters are not their verb's ("sent" of send_email).
_IRREGULAR = {"sent": "send", "paid": "pay", "bought": "buy", "made": "make", "built": "build",
              "written": "write", "set up": "set", "sold": "sell", "taken": "take",
              "given": "give", "run": "run", "put": "put", "found": "find", "held": "hold"}


def _stem(word: str) -> str:
    word = word.lower()
    return _IRREGULAR.get(word, word)[:4]


def _words(name: str) -> set[str]:
    return {_stem(w) for w in helpers.name_words(name) if len(w) >= 3}


def _claim_without_call(
    view: TraceView, answer: str, answer_pos: int | None, m: re.Match, acts: list[str]
) -> Finding | None:
    """An answer that claims an act ("I've refunded ...") the agent had a tool for
    (`issue_refund`: declared, or named in its instructions) and never called, nor any tool
    named for the same act: a success made up without doing the work."""
    if answer_pos is None:
        return None
    had = view.declared_tools or _instruction_tools(view)
    if not had:
        return None
    called = {view.tool_name(i) for i in view.tool_steps}
    called |= set().union(*view.requested.values()) if view.requested else set()
    done = {w for n in called for w in _words(n)}
    act = next((a for a in acts if a not in done and any(a in _words(n) for n in had)), None)
    if act is None:
        return None
    tools = sorted(n for n in had if act in _words(n))
    detail = (
        f"the final answer claims an act ({m.group(0).strip()!r}) that {tools[0]} does, but "
        f"{tools[0]} was never called; claim: " + helpers.excerpt(answer, m)
    )
    return view.finding(
        "planning.false_success",
        "planning",
        answer_pos,
        helpers.excerpt(detail),
        0.8,
        role=CAUSE,
    )


_TOOLISH = re.compile(r"`?\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b`?")


def _instruction_tools(view: TraceView) -> frozenset[str]:
    """Tool-shaped names (snake_case identifiers) in the agent's instructions, for exports
    that declare no tools."""
    return frozenset(_TOOLISH.findall(_instructions(view)))


# An answer this long that only says in passing that one part could not be done (neither in
# its opening nor in its closing sentences) delivers the rest: a caveat, not giving up.
_CAVEAT_SENTENCES = 6
_CAVEAT_WORDS = 80


@rule("planning.gave_up", "planning", version=3)
def gave_up(view: TraceView) -> list[Finding]:
    """The final answer says the agent could not do the job ("I wasn't able to", "I don't have
    access", "please try again later", "no he podido" ...; `helpers.gives_up`). A long answer
    that says so only in passing, in its middle, is a caveat: a weak hint, not a failure."""
    answer_pos, answer = view.final_answer()
    if not answer:
        return []
    tail = answer[-1_500:]
    m = helpers.gives_up(tail)
    if not m:
        return []
    sentences = [x for x in helpers.sentences(tail) if x[1].strip()]
    at = next((k for k, (start, piece) in enumerate(sentences)
               if start <= m.start() < start + len(piece)), 0)
    caveat = (
        len(sentences) >= _CAVEAT_SENTENCES
        and 2 <= at < len(sentences) - 2
        and len(tail.split()) >= _CAVEAT_WORDS
    )
    # An answer that relays what its tools returned ("none on Saturday; Friday 16:30 or 17:15")
    # delivers, whatever it could not find.
    relayed = _relayed(view, tail, answer_pos)
    caveat = caveat or len(relayed) >= _RELAYED
    # "I couldn't find any flights" after the search came back empty reports what the tool
    # found: an honest negative answer, not giving up although the tools worked.
    empty = _NOT_FOUND.match(tail, m.end()) and _came_back_empty(view, answer_pos)
    what = "says in passing it could not do a part" if caveat else "gives up"
    if empty:
        caveat, what = True, "reports that its last search came back empty"
    if relayed:
        what += f" (relaying {', '.join(sorted(relayed)[:3])} from its tools)"
    detail = (
        f"the final answer {what}"
        f" ({m.group(0).strip()!r}): " + helpers.excerpt(tail, m)
    )
    return [
        view.finding(
            "planning.gave_up", "planning", answer_pos, helpers.excerpt(detail),
            0.4 if caveat else 0.7, role=SYMPTOM, fails_run=not caveat,
        )
    ]


_RELAYED = 2  # figures of tool results an answer states to be delivering them
_NOT_FOUND = re.compile(r"\s*(?:find|locate|see|get|spot|identify)\b", re.IGNORECASE)
# A search's own words for coming back empty: "No flights found for this route".
_NONE_FOUND = re.compile(
    r"\bno \w+(?: \w+)? (?:were |was |could be )?(?:found|available|returned|matched)\b",
    re.IGNORECASE,
)


def _came_back_empty(view: TraceView, answer_pos: int | None) -> bool:
    """Whether the last tool call before the answer returned nothing: an empty value, an object
    whose lists are all empty, or a short text that says nothing was found."""
    before = [i for i in view.tool_steps if answer_pos is None or i < answer_pos]
    return bool(before) and view.problem(before[-1]) is None and _says_nothing(view, before[-1])


def _relayed(view: TraceView, answer: str, answer_pos: int | None) -> set[str]:
    """The figures of `answer` that tool results before it returned."""
    stated = helpers.figures(answer)
    if not stated:
        return set()
    returned: set[str] = set()
    for i in view.tool_steps:
        if answer_pos is not None and i > answer_pos:
            break
        returned |= helpers.figures(view.text(i, "result"))
    return stated & returned


def _instructions(view: TraceView) -> str:
    """What the agent was told before its first model call: system or developer messages (in
    any SDK's message shape), else instructions an agent or model span carries as an attribute
    (the Agents SDK, GenAI `gen_ai.system_instructions`)."""
    for value in [view.inv.input] + [view.steps[i].input for i in view.llm_steps[:1]]:
        messages = helpers.messages_of(value)
        if not messages:
            continue
        told = [
            helpers.content_of(m)[:2_000]
            for m in messages
            if helpers.role_of(m) in ("system", "developer")
        ]
        if told:
            return "\n".join(told)
    for s in [view.steps[i] for i in view.llm_steps[:1]] + [
        s for s in view.steps if s.kind == "agent"
    ]:
        for key in _INSTRUCTION_KEYS:
            value = (s.attributes or {}).get(key)
            if value:
                return helpers.text_of(value, 2_000)
    return ""


_INSTRUCTION_KEYS = ("instructions", "gen_ai.system_instructions", "system_prompt")


# "Read files with read_file", "use the search_docs tool", "call get_weather": an instruction
# to use a tool by its name.
_USE_TOOL = re.compile(
    r"\b(?:with|use|using|call|calling|via|through|run|query)\s+(?:the\s+)?`?"
    r"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`?",
    re.IGNORECASE,
)


_SUBSTANTIVE = 6  # content words in an answer that states something


@rule("planning.premature_answer", "planning", version=3)
def premature_answer(view: TraceView) -> list[Finding]:
    """The agent answered without calling any tool although it had tools for the job: tools it
    was told to use by name, or (any tools it declared) an answer stating figures found nowhere
    in what it was given. Rooted at the model call that answered."""
    if view.tool_steps:
        return []
    answer_pos, answer = view.final_answer()
    if answer_pos is None or not answer or view.steps[answer_pos].status == "error":
        return []
    if helpers.messages_of(view.steps[answer_pos].input) is None:
        # Not a model call that saw a conversation: a message of a chat log.
        return []
    told = _instructions(view)
    named = {m.group(1) for m in _USE_TOOL.finditer(told)}
    if view.declared_tools is not None:
        named &= set(view.declared_tools)
        if not named and len(helpers.content_words(answer)) >= _SUBSTANTIVE:
            # Instructions that name a tool it has in other words ("check stock in
            # inventory_db first", "answers come from `kb_search`"), and an answer with
            # substance (not a greeting or a question back).
            named = {
                t for t in view.declared_tools
                if len(t) >= 4 and re.search(rf"(?<![\w.-]){re.escape(t)}(?![\w-])", told)
            }
    why = None
    strength = 0.75
    if named:
        why = f"it was told to use {', '.join(sorted(named)[:4])}"
    elif view.declared_tools:
        given = helpers.text_of(view.inv.input, 20_000) + "\n" + view.text(answer_pos, "input")
        unexplained = sorted(helpers.figures(answer) - helpers.figures(given))
        if unexplained:
            tools = ", ".join(sorted(view.declared_tools)[:6])
            why = f"it had {tools} and states {', '.join(unexplained[:3])}, which it was not given"
    if why is None:
        why = _task_for_a_tool(view, answer_pos, answer, told)
        strength = 0.65
    if why is None:
        return []
    detail = "answered without calling any tool: " + why + "; answer: " + helpers.excerpt(
        answer, limit=100
    )
    return [
        view.finding(
            "planning.premature_answer",
            "planning",
            answer_pos,
            helpers.excerpt(detail),
            strength,
            role=CAUSE,
        )
    ]


# Words of tool names and descriptions that say nothing about what a tool is for.
_GENERIC = frozenset(
    "get set run call make create update add new use tool tools api data info details detail "
    "item items record records value values result results request service helper util utils "
    "function func action query search find fetch list lookup look check read write send "
    "return returns given current latest using based input output text string number id ids "
    "name names type types one all".split()
)
# An answer that asks back rather than states: "could you share your order number?"
_ASKS_BACK = re.compile(
    r"\?\s*$|\b(?:could|can|would) you (?:please )?(?:share|provide|send|confirm|tell|give|"
    r"let me know|clarify|specify)|\bplease (?:share|provide|send|confirm|tell|give|let me know|"
    r"clarify|specify)|\bwhich (?:one|\w+) (?:would|do) you\b"
    # or only returns a courtesy: "you're welcome, have a great day"
    r"|\byou(?:'re| are) (?:very )?welcome\b|\b(?:happy|glad) to help\b|\bhave a (?:great|"
    r"nice|good|lovely|wonderful) (?:day|evening|trip|weekend)\b",
    re.IGNORECASE,
)


def _purpose_words(text: str) -> set[str]:
    return {_stem5(w) for w in helpers.content_words(text) if w not in _GENERIC}


def _stem5(word: str) -> str:
    return word[:5]


def _task_for_a_tool(view: TraceView, answer_pos: int, answer: str, told: str) -> str | None:
    """Why an answer given without any tool call needed a tool: the request is about what a tool
    the agent had is for (a word of its name or description), and the answer states something
    new (not a question back, not what its instructions already say). None otherwise."""
    tools = _tool_purposes(view)
    if not tools or helpers.gives_up(answer) or _ASKS_BACK.search(answer):
        return None
    msgs = helpers.messages_of(view.steps[answer_pos].input) or []
    task = next((helpers.content_of(m) for m in reversed(msgs) if helpers.role_of(m) in (
        "user", "human")), "")
    asked = _purpose_words(task[:2_000])
    said = {_stem5(w) for w in helpers.content_words(answer)} - {
        _stem5(w) for w in helpers.content_words(task[:2_000])}
    if len(said) < 4:
        return None  # restates the question, a greeting, an acknowledgement
    if told and len(said & {_stem5(w) for w in helpers.content_words(told)}) >= 0.6 * len(said):
        return None  # answered from what its instructions say (a policy, a price list)
    for name, purpose in sorted(tools.items()):
        shared = asked & purpose
        if shared:
            return (f"the request is about {', '.join(sorted(shared)[:3])}, which {name} is for, "
                    "and it answered without calling it")
    return None


def _tool_purposes(view: TraceView) -> dict[str, set[str]]:
    """What each tool the agent had is for: the words of its name and of its description
    (where the export sends the tools' definitions)."""
    had = view.declared_tools or _instruction_tools(view)
    out = {name: _purpose_words(" ".join(helpers.name_words(name))) for name in had}
    for name, description in _tool_descriptions(view).items():
        if name in out:
            out[name] |= _purpose_words(description[:300])
    return {name: words for name, words in out.items() if words}


def _tool_descriptions(view: TraceView) -> dict[str, str]:
    """Descriptions of the declared tools, by name, from the definitions an export sends (the
    GenAI `gen_ai.tool.definitions`, OpenInference `llm.tools.*.tool.json_schema`, the tools
    of a model request)."""
    found: dict[str, str] = {}

    def walk(value, depth=0):
        if depth > 4 or len(found) > 64:
            return
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except ValueError:
                return
        if isinstance(value, list):
            for item in value[:64]:
                walk(item, depth + 1)
        elif isinstance(value, dict):
            if isinstance(value.get("function"), dict):
                walk(value["function"], depth + 1)
            elif isinstance(value.get("name"), str) and isinstance(value.get("description"), str):
                found.setdefault(value["name"], value["description"])

    sources = [view.inv.attributes or {}] + [
        view.steps[i].attributes or {} for i, s in enumerate(view.steps)
        if s.kind in ("agent", "llm")
    ]
    for attrs in sources:
        for key, value in attrs.items():
            if key in DECLARED_TOOL_KEYS or (key.startswith("llm.tools.") and key.endswith(
                    ".tool.json_schema")):
                walk(value)
    for i in view.llm_steps:
        value = view.steps[i].input
        if isinstance(value, dict):
            walk(value.get("tools"))
    return found


@rule("planning.plan_deviation", "planning")
def plan_deviation(view: TraceView) -> list[Finding]:
    known = set(view.declared_tools or ()) | {view.tool_name(i) for i in view.tool_steps}
    known.discard("")
    if not known or not view.run_failed:
        return []
    for i in view.llm_steps:
        text = view.text(i, "output")
        if not helpers.PLAN_HEADER.search(text):
            continue
        items = helpers.PLAN_ITEM.findall(text)
        if len(items) < 2:
            continue
        planned = []
        for item in items:
            # Tool names the trace knows, and identifiers shaped like tool names (snake_case or
            # dotted) once at least one known tool is in the plan.
            for name in sorted(known | set(_IDENT.findall(item)), key=item.find):
                if (
                    name in item
                    and name not in planned
                    and (name in known or "_" in name or "." in name)
                ):
                    planned.append(name)
        if not any(p in known for p in planned):
            continue
        if len(planned) < 2:
            continue
        called = [j for j in view.tool_steps if j > i]
        names = [view.tool_name(j) for j in called]
        skipped = [p for p in planned if p not in names]
        if not skipped:
            return []
        off_plan = next((j for j in called if view.tool_name(j) not in planned), None)
        answer_pos, _ = view.final_answer()
        at = off_plan if off_plan is not None else answer_pos
        detail = f"planned {', '.join(planned)} but never called {', '.join(skipped)}"
        if off_plan is not None:
            detail += f"; called {view.tool_name(off_plan)} instead"
        return [
            view.finding(
                "planning.plan_deviation",
                "planning",
                at,
                helpers.excerpt(detail),
                0.65,
                role=CAUSE,
                fails_run=False,
            )
        ]
    return []
