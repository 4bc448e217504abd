"""Context failures: what the model saw was too long, cut, or missing what it needed.

- `context.length_error` (symptom): a provider refused the prompt (context_length_exceeded,
  "maximum context length", "prompt is too long" ...).
- `context.output_cut` (symptom): an LLM call stopped at finish_reason "length" with its prompt
  near the model's window (models_context.CONTEXT_WINDOWS). A cut with a small prompt is the
  output cap, not the context, and is left alone. When no finish reason was sent, a call whose
  prompt and output filled >= 98 % of the window is taken as cut.
- `context.tool_flood` (cause): a tool output large enough to fill much of the window of the
  model that reads it next (or, when the window is unknown, a very large output followed by a
  context symptom). When a flood precedes a context overflow, the root step is the tool step that
  flooded the window and the category stays context: the tool did what it was asked; what
  failed is how the agent let its output into the context.
- `context.instruction_dropped` (cause): a later model call of the same agent no longer sees the
  system instruction (or first user message) that earlier calls saw: history was truncated from
  the front.
- `context.retrieval_empty` (cause): a retrieval returned nothing, or nothing sharing a content
  word with its query, and no later retrieval did better before the answer.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from traceview.classify import helpers
from traceview.classify.base import CAUSE, SYMPTOM, Finding, TraceView, rule
from traceview.classify.models_context import context_window

NEAR_WINDOW = 0.85
FULL_WINDOW = 0.98
FLOOD_SHARE = 0.5
# Without a known window, an output this large (in estimated tokens) only counts as a flood
# when a context symptom follows it.
FLOOD_UNKNOWN_WINDOW = 20_000
_LENGTH_REASONS = {"length", "max_tokens", "max_output_tokens", "model_length"}
_RETRIEVAL_NAMES = (
    "retriev",
    "search",
    "lookup",
    "query",
    "rag",
    "vector",
    "knowledge",
    "kb",
    "passage",
    "semantic",
    "docs",
    "document",
    "faq",
    "wiki",
    "manual",
    "article",
    "corpus",
    "find",
    "recall",
)


def _symptom_positions(view: TraceView) -> tuple[list[int], list[int]]:
    """Where the window overflowed (a context-length error), and where a model call's output
    was cut near the window."""
    overflows, cuts = [], []
    for i, s in enumerate(view.steps):
        text = view.text(i, "error") or view.events_text(i)
        if text and helpers.CONTEXT_LENGTH.search(text):
            overflows.append(i)
        elif s.kind == "llm" and _cut_near_window(view, i):
            cuts.append(i)
    return overflows, cuts


def _cut_near_window(view: TraceView, i: int) -> tuple[int, int] | None:
    s = view.steps[i]
    if s.finish_reason is not None and s.finish_reason.lower() not in _LENGTH_REASONS:
        return None
    window = context_window(s.model)
    if window is None or s.input_tokens is None:
        return None
    # Some exports never carry a finish reason (the OpenAI Agents SDK's); then only a call whose
    # prompt and output together filled the window is taken as cut.
    near = NEAR_WINDOW if s.finish_reason is not None else FULL_WINDOW
    if s.input_tokens + (s.output_tokens or 0) >= near * window:
        return s.input_tokens, window
    return None


@rule("context.length_error", "context")
def length_error(view: TraceView) -> list[Finding]:
    # The error is re-raised on every span around the failing call (the agent run, the graph):
    # the root is the innermost step carrying it, the model call that was refused.
    carriers = []
    for i, _s in enumerate(view.steps):
        text = view.text(i, "error") or view.events_text(i)
        if text and helpers.CONTEXT_LENGTH.search(text):
            carriers.append(i)
    out = []
    if carriers:
        i = view.innermost(carriers)
        text = view.text(i, "error") or view.events_text(i)
        m = helpers.CONTEXT_LENGTH.search(text)
        detail = "context length exceeded: " + helpers.excerpt(text, m)
        out.append(view.finding("context.length_error", "context", i, detail, 0.95, role=SYMPTOM))
    if not out:
        for key, value in (view.inv.attributes or {}).items():
            if "error" in key.lower() or "reason" in key.lower():
                text = helpers.text_of(value, 1_000)
                m = helpers.CONTEXT_LENGTH.search(text)
                if m:
                    last = len(view.steps) - 1 if view.steps else None
                    detail = f"invocation attribute {key}: " + helpers.excerpt(text, m)
                    out.append(
                        view.finding(
                            "context.length_error", "context", last, detail, 0.9, role=SYMPTOM
                        )
                    )
                    break
    return out


@rule("context.output_cut", "context")
def output_cut(view: TraceView) -> list[Finding]:
    out = []
    for i in view.llm_steps:
        near = _cut_near_window(view, i)
        if near:
            used, window = near
            s = view.steps[i]
            detail = (
                f"finish_reason={s.finish_reason} with a {used}-token prompt; "
                f"{s.model} has a {window}-token window"
            )
            out.append(view.finding("context.output_cut", "context", i, detail, 0.85, role=SYMPTOM))
    return out


@rule("context.tool_flood", "context")
def tool_flood(view: TraceView) -> list[Finding]:
    if not view.tool_steps:
        return []
    overflows, cuts = _symptom_positions(view)
    default_model = next((view.steps[i].model for i in view.llm_steps if view.steps[i].model), None)
    out = []
    for i in view.tool_steps:
        value = view.result_value(i)
        tokens = helpers.estimate_tokens(helpers.size_of(value))
        if tokens < 2_000:
            continue
        reader = next((j for j in view.llm_steps if j > i), None)
        model = view.steps[reader].model if reader is not None else default_model
        window = context_window(model)
        followed = any(p > i for p in overflows)
        # An output cut at the length limit is rooted at the call that was cut
        # (CLASSIFICATION.md's root table): a big output before it is evidence, not the root.
        cut_after = not followed and any(p > i for p in cuts)
        if window is not None and tokens >= FLOOD_SHARE * window:
            share = f"{tokens / window:.0%} of {model}'s {window}-token window"
        elif window is not None and (followed or cut_after) and tokens >= 0.2 * window:
            share = f"{tokens / window:.0%} of {model}'s {window}-token window, before an overflow"
        elif window is None and followed and tokens >= FLOOD_UNKNOWN_WINDOW:
            share = "before an overflow"
        else:
            continue
        detail = f"{view.tool_name(i) or 'tool'} returned ~{tokens} tokens ({share})"
        if cut_after:
            detail += "; a later model call's output was cut at the length limit"
        # On its own a big output is no failure; it is the cause when the run failed.
        out.append(
            view.finding(
                "context.tool_flood",
                "context",
                i,
                detail,
                0.85 if followed else 0.3 if cut_after else 0.6,
                role=CAUSE,
                fails_run=False,
            )
        )
    return out


def _messages(value) -> list[dict] | None:
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value[:3]):
        # Senders mix bare strings (and worse) into message lists: only messages count.
        return [m for m in value if isinstance(m, dict)]
    return None


def _text(m: dict) -> str:
    # OpenAI-style content, else GenAI `parts` or LangChain `data` (what other SDKs send).
    if "content" in m:
        content = m["content"]
        if content.__class__ is str and len(content) <= 400:
            return content.strip()  # as text_of would: most messages, read at every call
        return helpers.text_of(content, 400).strip()
    return helpers.content_of(m)[:400]


def _first(messages: list[dict], roles: tuple[str, ...]) -> str | None:
    for m in messages:
        if helpers.role_of(m) in roles:
            content = _text(m)
            if content:
                return content
    return None


def _owner(view: TraceView, i: int) -> str:
    """The agent a model call belongs to: its nearest agent span, else its own agent name
    (exporters set `agent_name` on some model calls of a run and not on others)."""
    parent = view.steps[i].parent_span_id
    for _ in range(64):
        if parent is None or parent not in view.pos:
            break
        p = view.steps[view.pos[parent]]
        if p.kind == "agent":
            return p.agent_name or p.name or ""
        parent = p.parent_span_id
    return view.steps[i].agent_name or ""


@rule("context.instruction_dropped", "context", version=2)
def instruction_dropped(view: TraceView) -> list[Finding]:
    # Per agent: what its first call was told (the system message, and the first user message:
    # the task, often with instructions of its own) and every message content it has seen
    # since. A later call of the same agent that continues the conversation (shares earlier
    # messages, the same system message or none) but lacks one of them had its history cut
    # from the front. Apps that trim usually keep the system message and drop the task. A call
    # sharing nothing is a new conversation (a fresh task) and proves nothing; a call with its
    # own, different system message is another agent's (a sub-agent run as a tool).
    seen: dict[str, tuple[str | None, list[tuple[str, str]], set[str]]] = {}
    for i in view.llm_steps:
        s = view.steps[i]
        if (s.attributes or {}).get("context_messages"):
            # The input holds only the messages since the previous call (parsers of chat logs
            # store it so); what the model saw before them is not in the step to compare.
            continue
        msgs = _messages(s.input)
        if msgs is None:
            continue
        who = _owner(view, i)
        # The head (where the instructions are) and the tail (what this call adds) are enough to
        # compare, and keep this linear in long conversations.
        kept = msgs[:4] + msgs[4:][-40:]
        contents = _keys(kept)
        system = _first(msgs, ("system", "developer"))
        if who not in seen:
            anchors = [("system", system)] if system else []
            task = _first(msgs, ("user", "human"))
            if task:
                anchors.append(("first user", task))
            if anchors:
                seen[who] = (system, anchors, contents | _keys(_messages(s.output) or []))
            continue
        first_system, anchors, earlier = seen[who]
        if system is not None and system != first_system:
            continue
        missing = [(role, text) for role, text in anchors if text not in contents]
        # The same conversation continued: it shares messages other than what every run of
        # this agent starts with (its system message): a second run of a sub-agent shares only
        # that. Or the agent's system message is gone altogether: runtimes send it with every
        # call, so a later call of the same agent without any was cut (to its last turn).
        lost_system = system is None and first_system is not None and msgs and (
            "system", first_system) in missing
        if missing and (lost_system or (contents & earlier) - {text for _, text in anchors}):
            role, text = missing[0]
            detail = (
                f"the {role} message earlier calls saw is gone from this call's "
                f"{len(msgs)} messages: " + text
            )
            at = _trimming_step(view, i)
            answer_pos, _ = view.final_answer()
            return [
                view.finding(
                    "context.instruction_dropped",
                    "context",
                    at if at is not None else i,
                    helpers.excerpt(detail),
                    0.75,
                    role=CAUSE,
                    # The model answered without an instruction it had: the run failed.
                    fails_run=answer_pos is not None and answer_pos >= i,
                )
            ]
        if missing:
            continue
        if len(earlier) < 2_000:
            # What it was given, and what it answered: the tool calls it asked for come back
            # in the next call's input (by their ids) however much history was cut.
            earlier |= contents | _keys(_messages(s.output) or [])
    return []


def _keys(messages: list[dict]) -> set[str]:
    """What identifies each message across calls: its text, and the ids of the tool calls an
    assistant message asked for (a message that only calls tools has no text)."""
    keys = set()
    for m in messages:
        text = _text(m)
        if text and text != "None":
            keys.add(text)
        for call in m.get("tool_calls") or ():
            if isinstance(call, dict) and call.get("id"):
                keys.add(f"call:{call['id']}")
    return keys


_TRIMMING = re.compile(r"trim|truncat|compact|summari[sz]|prune|condens|window|memory", re.I)


def _trimming_step(view: TraceView, i: int) -> int | None:
    """The step that trimmed the history before model call `i`, when the trace has one (a
    `trim_messages` node, a memory or summarising step): the last such step since the model
    call before it."""
    before = [j for j in view.llm_steps if j < i]
    start = before[-1] if before else 0
    for j in range(i - 1, start, -1):
        s = view.steps[j]
        if s.kind not in ("llm", "agent") and _TRIMMING.search(s.name or ""):
            return j
    return None


def is_retrieval(view: TraceView, i: int) -> bool:
    return view.steps[i].kind == "retrieval" or _retrieval_name(view.tool_name(i))


@lru_cache(maxsize=2_048)
def _retrieval_name(name: str) -> bool:
    # By the words of its name: "search_docs", "kb.lookup", "retrievePassages", not
    # "delegate_research".
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return any(w.startswith(k) for w in words for k in _RETRIEVAL_NAMES)


@rule("context.retrieval_empty", "context", version=2)
def retrieval_empty(view: TraceView) -> list[Finding]:
    first_empty = None
    for i in view.tool_steps:
        if not is_retrieval(view, i) or view.problem(i) is not None:
            continue
        result = view.text(i, "result")
        value = view.result_value(i)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{") and len(value) < 2_000:
            # Exports that carry tool outputs as text (the OpenAI Agents SDK) send JSON as text.
            try:
                value = json.loads(value)
            except ValueError:
                pass
        empty = value in (None, "", [], {}) or (
            isinstance(value, dict) and any(value.get(k) == [] for k in _RESULT_LISTS)
        )
        why = "returned nothing"
        strength, irrelevant = 0.7, False
        if not empty:
            low = _best_score(value)
            if low is not None and low < LOW_SCORE:
                empty, why = True, f"returned only results scored {low:.2f} or less"
                irrelevant, strength = True, 0.75
        if not empty:
            m = helpers.EMPTY_RESULT.search(result[:300])
            if m and len(result) < 400:
                empty, why = True, "returned nothing: " + helpers.excerpt(result, m)
        if not empty:
            asked = _query_text(view, i)
            query = _stems(asked)
            found = _stems(result[:4_000]) if query else set()
            # Nothing in the results shares a word (stem) with the query: what came back is not
            # about what was asked. Only judged on results long enough to say so, and only a
            # question in words says what the results should be about (a search by city and
            # dates returns records that need not repeat them: then it is a weak hint).
            if query and len(found) >= 5 and not (query & found):
                empty, why = True, "returned nothing sharing a word with its query"
                irrelevant = _free_text(view, i)
                strength = 0.75 if irrelevant else 0.45
            elif query and len(found) >= 5 and _off_topic(asked, query, found):
                # Only common words of the question came back ("dose" for "apixaban dose on
                # dialysis"): none of what makes it specific.
                shared = ", ".join(sorted(query & found)[:3])
                empty = True
                why = f"returned results that share only common words ({shared}) with its query"
                irrelevant = _free_text(view, i)
                strength = 0.7 if irrelevant else 0.4
        if empty:
            if first_empty is None:
                first_empty = (i, why, strength, irrelevant)
        elif first_empty is not None:
            # A later retrieval found something: the agent got past the empty one.
            first_empty = None
    if first_empty is None:
        return []
    i, why, strength, irrelevant = first_empty
    answer_pos, answer = view.final_answer()
    if answer_pos is not None and answer_pos < i:
        return []
    # Results about something else, answered as if they were about the question: a failure on
    # its own. An answer that says nothing was found is honest about it.
    # So is an empty search answered with content: an answer that says nothing was found (or
    # gives up) is honest about it.
    answered_anyway = (
        bool(answer)
        and (irrelevant or _free_text(view, i))
        and not helpers.gives_up(answer)
        and not helpers.ADMITS_NOTHING.search(answer)
    )
    query = helpers.excerpt(
        helpers.text_of(view.steps[i].tool_arguments, 300) or view.text(i, "input"), limit=80
    )
    detail = f"{view.tool_name(i) or 'retrieval'} for {query!r} {why}, and the answer came after it"
    return [
        view.finding(
            "context.retrieval_empty",
            "context",
            i,
            helpers.excerpt(detail),
            strength,
            role=CAUSE,
            fails_run=answered_anyway,
        )
    ]


# Where a retrieval's result keeps its hits: an empty one of these is an empty search.
_RESULT_LISTS = (
    "documents", "results", "hits", "items", "matches", "passages", "chunks", "records",
    "nodes", "sources", "data",
)
_SCORE_KEYS = ("score", "relevance_score", "relevance", "similarity", "similarity_score")
# A hit whose relevance (a similarity in 0..1) is below this is not about the query.
LOW_SCORE = 0.2


def _best_score(value) -> float | None:
    """The highest relevance score among a retrieval's hits, when every hit carries one in
    0..1 (a distance or an unbounded score says nothing here); else None."""
    if isinstance(value, dict):
        value = next((value[k] for k in _RESULT_LISTS if isinstance(value.get(k), list)), None)
    if not isinstance(value, list) or not value or not all(isinstance(h, dict) for h in value):
        return None
    scores = []
    for hit in value:
        score = next((hit[k] for k in _SCORE_KEYS if k in hit), None)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            return None
        scores.append(float(score))
    return max(scores)


def _arguments(view: TraceView, i: int) -> Any:
    """The step's tool arguments, a JSON object sent as text read as the object."""
    args = view.steps[i].tool_arguments
    if isinstance(args, str) and args.strip()[:1] == "{":
        try:
            return json.loads(args)
        except ValueError:
            pass
    return args


def _query_text(view: TraceView, i: int) -> str:
    # The values of the arguments: their names ("query", "question") are not what was asked.
    args = _arguments(view, i)
    if isinstance(args, dict):
        return helpers.text_of(list(args.values()), 1_000)
    return helpers.text_of(args, 1_000) or view.text(i, "input")


def _free_text(view: TraceView, i: int) -> bool:
    """Whether the query is a question in words: one argument (or the input) with 3+ words."""
    args = _arguments(view, i)
    values = list(args.values()) if isinstance(args, dict) else [args or view.text(i, "input")]
    return any(isinstance(v, str) and len(helpers.content_words(v)) >= 3 for v in values)


# A query word this long, or with a digit in it, is what makes the question specific (a drug,
# a product code, a name); words shorter are common ("dose", "price", "hotel").
_SPECIFIC_LEN = 7


def _off_topic(asked: str, query: set[str], found: set[str]) -> bool:
    """Whether results share with a query of 3+ words under half of its words (stems) and
    none of its specific ones."""
    if len(query) < 3 or len(query & found) * 2 >= len(query):
        return False
    specific = {
        w[:5] for w in helpers.content_words(asked)
        if len(w) >= _SPECIFIC_LEN or any(c.isdigit() for c in w)
    }
    return bool(specific) and not (specific & found)


def _stems(text: str) -> set[str]:
    # Five letters stand in for a stem: "doses" meets "dose", "dialysis" meets "dialyses".
    return {w[:5] for w in helpers.content_words(text)}
