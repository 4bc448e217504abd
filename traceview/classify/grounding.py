"""Whether a final answer's specific facts come from what the agent was given.

CLASSIFICATION.md: a run failed when "its final answer claims a result the trace does not
support (... a figure no tool returned)", a planning failure rooted at the model call that
answered. The rule here reads the specific facts of the final answer (amounts, figures of three
or more digits, decimals, percentages, identifiers such as "KL-55821") and looks for each in what
the agent had read before it: the user's and system's messages, every model call's input, the
tools' arguments and results. A figure counts as read when it is one, or is one step of
arithmetic away from them: a sum, difference, product or ratio of two (a total, a rate, seconds
from milliseconds), the total or mean of one field over the records the tools returned, a count
of them, written another way (rounded, "1.64M", "18,35" for 18.35, a percentage of a fraction).
Dates and times are not judged (they are reformatted and computed: "by Friday"), nor are small
numbers (one or two digits: "within 5 working days").

It stays silent when it cannot judge: a chat log (the message rules read those), an answer that
gives up, or tool results too large to read whole (an answer may aggregate a table of hundreds
of records, and what was read is cut to its head and tail). Then a figure found nowhere is only
a doubt for the judge.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from traceview.classify import context, helpers
from traceview.classify.base import CAUSE, Finding, TraceView, rule
from traceview.classify.messages import is_message_only
from traceview.classify.planning import _ASKS_BACK, _SUBSTANTIVE, _instructions, _tool_descriptions
from traceview.classify.planning import _GENERIC as _GENERIC_WORDS

# Tool results larger than the rules read (helpers.text_of keeps head and tail), or holding more
# lines or records than this, are a table an answer may aggregate (a mean, a share, a total over
# some of them): such an answer is not judged.
READABLE = helpers.TEXT_LIMIT
MAX_ROWS = 40
# Known figures kept for the arithmetic (each pair of them is tried).
MAX_KNOWN = 160
# Factors an answer scales a figure by: counts, time, percent, thousands, and the common unit
# conversions (miles and km, pounds and kg, inches and cm, feet and m, gallons and litres).
_CONSTANTS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 24, 52, 60, 100, 365, 1000, 3600,
              1.609344, 2.20462, 2.54, 3.28084, 3.78541)

_CURRENCY = (
    r"[$€£¥₹]|R\$|(?:EUR|USD|GBP|CHF|JPY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|INR|CNY|BRL|MXN|"
    r"ZAR|SGD|HKD|KRW|TRY|RUB|AED|SAR)\b"
)
_CURRENCY_AFTER = (
    r"\s?(?:[$€£¥₹]|(?:EUR|USD|GBP|CHF|JPY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|INR|CNY|BRL|"
    r"MXN|ZAR|SGD|HKD|KRW|TRY|RUB|AED|SAR)\b|(?:euros?|dollars?|pounds?|francs?|kronor|kroner|"
    r"yen|reais|rupees?|z[łl]oty)\b)"
)
# A number as people write it: 1,640,000 / 1.350 / 118,35 / 1 250,50 / 7.9 / 3208, with a
# currency before or after, a scale word and a percent sign.
_NUMBER = re.compile(
    r"(?P<cur>(?:" + _CURRENCY + r")\s?)?"
    r"(?<![\w.,/:-])(?P<num>\d{1,3}(?:[,.'\u00a0\u202f ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
    r"(?![\w/:-]|[.,]\d)"
    r"(?P<scale>\s?(?:k|K|M|bn|million|billion|thousand|mln|mio|Mio|Mrd|mil)\b)?"
    r"(?P<pct>\s?%|\s?per ?cent\b)?(?P<deg>\s?°|\s?degrees?\b)?"
    r"(?P<curafter>" + _CURRENCY_AFTER + r")?",
    re.IGNORECASE,
)
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mln": 1e6, "mio": 1e6,
           "mil": 1e6, "bn": 1e9, "billion": 1e9, "mrd": 1e9}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|mai|"
    r"juni|juli|oktober|dezember|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
    r"octubre|noviembre|diciembre|janvier|février|mars|avril|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|januari|februari|maart|mei|augustus|gennaio|febbraio|aprile|"
    r"maggio|giugno|luglio|settembre|ottobre|dicembre)\.?"
)
# Dates, times, durations and versions: reformatted and computed, not judged.
_NOT_JUDGED = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?\S*)?"
    r"|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.(?!\d)"
    r"|\b\d{1,2}(?::\d{2}){1,2}\b"
    r"|\b" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b"
    r"|\b\d{1,2}(?:st|nd|rd|th|\.)?\s+(?:of\s+|de\s+)?" + _MONTH + r"(?:,?\s+(?:de\s+)?\d{4})?"
    r"|\b(?:19|20)\d{2}\b(?![.,]\d)"
    r"|\bv(?:ersion)?\s?\d+(?:\.\d+)+\b|\b\d+\.\d+\.\d+\b"
    r"|\bhttps?://\S+"
    # Code the answer writes (a patch, a command, a config) is its work, not a claimed fact.
    r"|```.*?(?:```|$)|`[^`\n]+`",
    re.IGNORECASE | re.DOTALL,
)
# An identifier: letters and three or more digits, "KL-55821", "CLM-30418", "1Z999AA1012".
_IDENT = re.compile(
    r"(?<![\w-])(?=[A-Z0-9_/-]*\d{3})(?=[A-Z0-9_/-]*[A-Z])[A-Z0-9][A-Z0-9_/-]{3,}[A-Z0-9](?![\w-])"
)
_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGIT = re.compile(r"\d")


def _values(num: str) -> set[float]:
    """The values a written number may stand for: "1,200" is 1200 (or 1.2 where the comma is
    the decimal mark), "118,35" is 118.35, "1.350" is 1350 or 1.35."""
    s = num.replace("\u00a0", " ").replace("\u202f", " ").replace("'", " ")
    out: set[float] = set()
    if " " in s:
        s = s.replace(" ", "")
    seps = [c for c in s if c in ",."]
    if not seps:
        out.add(float(s))
    elif "," in s and "." in s:
        dec = max(s.rfind(","), s.rfind("."))
        whole = re.sub(r"[,.]", "", s[:dec])
        out.add(float(whole + "." + s[dec + 1:]))
    else:
        sep = seps[0]
        head, _, tail = s.rpartition(sep)
        if len(seps) == 1 and len(tail) != 3:
            out.add(float(head.replace(sep, "") + "." + tail))
        else:
            grouped = re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", s)
            if grouped:
                out.add(float(s.replace(sep, "")))
            if len(seps) == 1:
                out.add(float(head + "." + tail))
    return out


def _precision(num: str, scale: float) -> float:
    """Half the last unit a written number states: "7.9" is 7.85..7.95, "1.64M" is within
    5,000, "3,100" within 50 (trailing zeros of a whole number read as rounding)."""
    digits = re.sub(r"[^\d.,]", "", num)
    m = re.search(r"[.,](\d{1,2}|\d{4,})$", digits)
    if m:
        return 0.5 * 10 ** -len(m.group(1)) * scale
    whole = re.sub(r"\D", "", digits)
    zeros = len(whole) - len(whole.rstrip("0")) if whole.strip("0") else 0
    return 0.5 * 10 ** min(zeros, len(whole) - 1) * scale


class _Stated:
    """A figure of the answer: what it says, the values it may stand for with how closely
    each is stated, and where it is."""

    __slots__ = ("text", "values", "start", "end")

    def __init__(self, text: str, values: list[tuple[float, float]], start: int, end: int):
        self.text, self.values, self.start, self.end = text, values, start, end


def stated_facts(
    answer: str, small: bool = False
) -> tuple[list[_Stated], list[tuple[str, int, int]]]:
    """The figures and identifiers an answer states that are worth checking; with `small`,
    whole numbers from 10 up too (a count: "11 options")."""
    skip = [(m.start(), m.end()) for m in _NOT_JUDGED.finditer(answer)]
    idents = []
    for m in _IDENT.finditer(answer):
        if not any(a <= m.start() < b for a, b in skip):
            idents.append((m.group(0), m.start(), m.end()))
            skip.append((m.start(), m.end()))
    figures = []
    for m in _NUMBER.finditer(answer):
        start = m.start("num")
        if any(a <= start < b for a, b in skip):
            continue
        num = m.group("num")
        try:
            read = _values(num)
        except ValueError:
            continue
        scale = _SCALES.get((m.group("scale") or "").strip().lower(), 1.0)
        tol = _precision(num, scale)
        values = [(v * scale, tol) for v in read]
        biggest = max(v for v, _ in values)
        money = bool(m.group("cur") or m.group("curafter"))
        pct = bool(m.group("pct"))
        decimal = bool(re.search(r"[.,]\d{1,2}$", num))
        if not (money or decimal or biggest >= 100 or ((pct or small) and biggest >= 10)):
            continue  # a small whole number: "5 working days", "3 items"
        if m.group("deg"):
            # A temperature in the other scale.
            values += [(x, t * 1.8) for v, t in values for x in ((v - 32) / 1.8, v * 1.8 + 32)]
        if pct:
            # A share (0.017 as "1.7 %") or a change ("up 12.5 %": new / old = 1.125).
            values += [(x, t / 100) for v, t in values for x in (v / 100, 1 + v / 100,
                                                                  1 - v / 100)]
        figures.append(_Stated(num, values, m.start(), m.end()))
    return figures, idents


def _walk_numbers(value: Any, key: str, out: list[tuple[str, float]], depth: int = 0) -> None:
    """(field, number) pairs of a JSON-like value, JSON sent as text read as JSON."""
    if depth > 8 or len(out) > 2_000:
        return
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{" and len(text) <= READABLE:
            try:
                _walk_numbers(json.loads(text), key, out, depth + 1)
            except ValueError:
                pass
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            out.append((key, float(value)))
        return
    if isinstance(value, dict):
        own = [float(v) for v in value.values()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if len(own) > 2:
            out.append((key + "#sum", sum(own)))  # a bill's lines added up
        for k, v in value.items():
            _walk_numbers(v, str(k), out, depth + 1)
    elif isinstance(value, (list, tuple)):
        out.append((key + "#len", float(len(value))))
        for v in value:
            _walk_numbers(v, key, out, depth + 1)


def _rows(value: Any, depth: int = 0) -> int:
    """The longest list of a JSON-like value (JSON sent as text read as JSON)."""
    if isinstance(value, str) and value.strip()[:1] in "[{" and depth == 0:
        try:
            value = json.loads(value)
        except ValueError:
            return 0
    if isinstance(value, dict) and depth < 4:
        return max((_rows(v, depth + 1) for v in value.values()), default=0)
    if isinstance(value, list) and depth < 4:
        return max([len(value)] + [_rows(v, depth + 1) for v in value[:50]])
    return 0


def _known_numbers(texts: list[str], records: list[tuple[str, float]]) -> list[float]:
    found: set[float] = set()
    for text in texts:
        for m in _NUMBER.finditer(text):
            try:
                found |= _values(m.group("num"))
            except ValueError:
                continue
    by_field: dict[str, list[float]] = {}
    for field, value in records:
        found.add(value)
        by_field.setdefault(field, []).append(value)
    # The total and the mean of one field over every record the tools returned.
    for values in by_field.values():
        if len(values) > 1:
            found.add(sum(values))
            found.add(sum(values) / len(values))
    return sorted(found, key=abs)


def _explained(stated: _Stated, known: list[float]) -> bool:
    """Whether a stated figure is a known one, or one step of arithmetic from two of them (a
    sum, difference, product or ratio), or one of them scaled by a common factor (a count, 60,
    100, 1000 ...)."""
    for target, tol in stated.values:
        if any(abs(target - k) <= tol + 1e-9 for k in known):
            return True
    pool = known[-MAX_KNOWN:]
    for target, tol in stated.values:
        if tol == 0.5 and target < 100:
            continue  # a small whole number: two small figures add up to it by chance
        # A whole number stated exactly is arithmetic done exactly, not rounded.
        tol = 0.005 if tol == 0.5 else tol + 1e-9
        for a in pool:
            for c in _CONSTANTS:
                if abs(a * c - target) <= tol or abs(a / c - target) <= tol:
                    return True
            for b in pool:
                if (
                    abs(a + b - target) <= tol
                    or abs(a - b - target) <= tol
                    or abs(a * b - target) <= tol
                    or (b and abs(a / b - target) <= tol)
                ):
                    return True
    return False


def _answer_ancestors(view: TraceView, pos: int) -> set[int]:
    out = set()
    parent = view.steps[pos].parent_span_id
    for _ in range(64):
        if parent is None or parent not in view.pos:
            break
        out.add(view.pos[parent])
        parent = view.steps[view.pos[parent]].parent_span_id
    return out


def _read_before(view: TraceView, answer_pos: int, answer: str) -> tuple[list[str], list, bool]:
    """What the agent had read when it answered: texts, the numbers of tool results by field,
    and whether every tool result was small enough to read whole."""
    texts = [helpers.text_of(view.inv.input, 40_000), helpers.text_of(view.inv.attributes, 8_000),
             _instructions(view)]
    records: list[tuple[str, float]] = []
    readable = True
    tools = set(view.tool_steps)
    around = _answer_ancestors(view, answer_pos)
    head = answer[:80]
    for j, s in enumerate(view.steps):
        if j < answer_pos:
            # What failed was read too: "the first lookup answered 503".
            texts.append(view.text(j, "error"))
            texts.append(view.events_text(j))
        if j in tools:
            if j > answer_pos:
                continue
            value = view.result_value(j)
            text = helpers.text_of(value, 40_000)
            if helpers.size_of(value) > READABLE or text.count("\n") > MAX_ROWS or _rows(
                    value) > MAX_ROWS:
                readable = False
            texts.append(text)
            texts.append(helpers.text_of(s.tool_arguments, 4_000))
            _walk_numbers(value, view.tool_name(j), records)
            continue
        if j > answer_pos or j in around:
            continue
        parts = [helpers.text_of(s.input, 60_000)] if s.kind == "llm" else [
            helpers.text_of(s.input, 20_000), helpers.text_of(s.output, 20_000)]
        if s.kind == "llm" and j != answer_pos:
            parts.append(helpers.text_of(s.output, 20_000))
        # A step that carries the answer itself (the run's agent span, a graph node's state)
        # is not a source of it.
        texts += [t for t in parts if not (head and head in helpers.plain(t))]
    return texts, records, readable


def _norm(text: str) -> str:
    return _ALNUM.sub("", text.lower())


def ungrounded(view: TraceView) -> tuple[list[str], bool, re.Match | None] | None:
    """The specific facts of the final answer found nowhere in what the agent read, whether
    the check could read everything, and where the first one is; None when there is nothing
    to judge."""
    answer_pos, answer = view.final_answer()
    if answer_pos is None or not answer or not any(i < answer_pos for i in view.tool_steps):
        return None
    return _ungrounded_at(view, answer_pos, answer)


def _ungrounded_at(
    view: TraceView, pos: int, reply: str, small: bool = False
) -> tuple[list[str], bool, re.Match | None] | None:
    if not _DIGIT.search(reply):
        return None  # most replies state no figure: no need to read anything
    figures, idents = stated_facts(reply, small)
    if not figures and not idents:
        return None
    if helpers.gives_up(reply):
        return None  # an honest failure report, judged by the give-up and tool rules
    texts, records, readable = _read_before(view, pos, reply)
    known_text = _norm(" ".join(texts))
    missing: list[tuple[int, str]] = []
    for ident, start, _ in idents:
        if _norm(ident) not in known_text:
            missing.append((start, ident))
    if figures:
        known = _known_numbers(texts, records)
        for f in figures:
            if not _explained(f, known):
                missing.append((f.start, reply[f.start:f.end].strip()))
    if not missing:
        return None
    missing.sort()
    first = re.compile(re.escape(missing[0][1])).search(reply)
    return [m for _, m in missing], readable, first


def _earlier_reply(view: TraceView, answer_pos: int | None) -> Finding | None:
    """The first reply to the user before the final answer, right after tool results were read,
    that states what they did not return: weak evidence of where the agent misread them, which
    decides only when nothing stronger does (a long conversation that failed later)."""
    read_tool = False
    tools = set(view.tool_steps)
    for i, s in enumerate(view.steps):
        if answer_pos is not None and i >= answer_pos:
            return None
        if i in tools:
            read_tool = True
            continue
        if s.kind != "llm" or not read_tool:
            continue
        reply = helpers.last_reply(s.output)
        if not reply:
            continue
        read_tool = False
        found = _ungrounded_at(view, i, helpers.plain(reply), small=True)
        if found is None:
            continue
        missing, _, m = found
        detail = (
            f"a reply states {', '.join(repr(x) for x in missing[:3])}, found in no tool result "
            "or message before it: " + helpers.excerpt(reply, m)
        )
        return view.finding("planning.ungrounded_answer", "planning", i,
                            helpers.excerpt(detail, limit=230), 0.45, role=CAUSE, fails_run=False)
    return None


@rule("planning.ungrounded_answer", "planning", version=2)
def ungrounded_answer(view: TraceView) -> list[Finding]:
    """A final answer, given after tools were called, that states amounts, figures or
    identifiers found in no tool result nor in what the user and the instructions gave, nor
    one step of arithmetic away from them: a result the trace does not support. Rooted at the
    model call that answered; the evidence names what was found nowhere. An earlier reply that
    does so is weak evidence."""
    if not view.tool_steps or is_message_only(view):
        return []
    answer_pos, answer = view.final_answer()
    found = ungrounded(view)
    if found is None:
        earlier = _earlier_reply(view, answer_pos)
        return [earlier] if earlier is not None else []
    missing, readable, m = found
    detail = (
        f"the final answer states {', '.join(repr(x) for x in missing[:4])}, found in no tool "
        "result or message before it: " + helpers.excerpt(answer, m)
    )
    return [
        view.finding(
            "planning.ungrounded_answer",
            "planning",
            answer_pos,
            helpers.excerpt(detail, limit=230),
            # Tool results too large to read whole: a doubt, not a failure.
            0.7 if readable else 0.45,
            role=CAUSE,
            fails_run=readable,
            secondary=True,
        )
    ]


# Words of a request that say nothing about which tool answers it.
_VAGUE = frozenset(
    "many much right now today tomorrow yesterday week month year time need want like know "
    "able may might help thanks thank hello yes could would should also still yet our mine "
    "way sure ok okay".split()
)


def _stem(word: str) -> str:
    """Words of one family alike: "registered", "registry" and "registration" are "regis"."""
    if len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    return word[:5]


_GENERIC_STEMS = frozenset(w[:5] for w in _GENERIC_WORDS | _VAGUE)


def _topic(text: str) -> set[str]:
    return {
        _stem(w) for w in helpers.content_words(text)
        if w not in _GENERIC_WORDS and w not in _VAGUE and _stem(w) not in _GENERIC_STEMS
    }


def _request(view: TraceView) -> str:
    """The user's request: the last user message the first model call read, else the run's
    input."""
    for value in [view.steps[i].input for i in view.llm_steps[:1]] + [view.inv.input]:
        messages = helpers.messages_of(value)
        if messages:
            asked = [helpers.content_of(m) for m in messages
                     if helpers.role_of(m) in ("user", "human")]
            if asked:
                return asked[-1][:2_000]
    return helpers.text_of(view.inv.input, 2_000)


def _described(view: TraceView, i: int, declared: dict[str, str]) -> str:
    s = view.steps[i]
    name = view.tool_name(i)
    attrs = s.attributes or {}
    own = attrs.get("tool.description") or attrs.get("gen_ai.tool.description") or ""
    return " ".join((
        " ".join(helpers.name_words(name)), declared.get(name, ""), str(own)[:300],
        helpers.text_of(s.tool_arguments, 1_000), view.text(i, "result")[:4_000],
    ))


@rule("planning.irrelevant_tool", "planning")
def irrelevant_tool(view: TraceView) -> list[Finding]:
    """The agent answered the request from tools that have nothing to do with it: no word of
    the request is in any called tool's name, description, arguments or result (a weather
    forecast asked whether a product is registered, an org chart's image link asked for a
    headcount), every call worked, and the answer states something (not a question back, not
    giving up). It picked a tool that cannot do the job: rooted at the first call. Not for
    searches (a retrieval that found nothing relevant is context.retrieval_empty), nor
    sub-agents, nor an agent that called every tool it had."""
    if not view.tool_steps or is_message_only(view):
        return []
    answer_pos, answer = view.final_answer()
    if answer_pos is None or not answer:
        return []
    called = [i for i in view.tool_steps if i < answer_pos]
    if not called or any(
        view.problem(i) is not None or i in view.containers or context.is_retrieval(view, i)
        for i in called
    ):
        return []
    names = {view.tool_name(i) for i in called}
    if view.declared_tools is not None and set(view.declared_tools) <= names:
        return []  # it had no other tool to pick
    if helpers.gives_up(answer) or _ASKS_BACK.search(answer):
        return []
    if len(helpers.content_words(answer)) < _SUBSTANTIVE and not any(stated_facts(answer)):
        return []  # a greeting, an acknowledgement: states nothing
    asked = _topic(_request(view))
    if len(asked) < 3:
        return []
    declared = _tool_descriptions(view)
    for i in called:
        if asked & _topic(_described(view, i, declared)):
            return []
    # Where the right tool was: the request's words are in the agent's instructions or in a
    # tool it had and did not call; else the answer states what no tool returned. A request
    # merely put in other words than the tool's (another language) shows neither.
    other = " ".join(
        " ".join(helpers.name_words(name)) + " " + declared.get(name, "")
        for name in view.declared_tools or () if name not in names
    )
    fits = asked & _topic(_instructions(view) + " " + other)
    if fits:
        why = f"the request ({', '.join(sorted(fits)[:3])}) is what its instructions or " \
              "other tools are for"
    elif ungrounded(view) is not None:
        why = "the answer states what no tool returned"
    else:
        return []
    first = called[0]
    detail = (
        f"{', '.join(sorted(names))} has nothing to do with the request (it names "
        f"{', '.join(sorted(asked)[:4])}); {why}; answer: " + helpers.excerpt(answer, limit=100)
    )
    return [
        view.finding(
            "planning.irrelevant_tool",
            "planning",
            first,
            helpers.excerpt(detail, limit=230),
            0.6,
            role=CAUSE,
            secondary=True,
        )
    ]
