"""Shared text helpers and patterns for the classifier rules.

Step payloads are arbitrary JSON (strings, message lists, nested dicts) and can be megabytes, so
every rule reads them through `text_of`, which flattens and bounds them once: rules then scan a
bounded string with precompiled patterns, which keeps classification linear in the step count.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from re import _constants as _c  # the parser's opcodes, read by compile_scan
from re import _parser
from typing import Any

# Payloads are flattened up to this many characters: the head and the tail are kept, because
# errors show up at the start (status lines) or at the end (tracebacks, exit codes).
TEXT_LIMIT = 8_000
EXCERPT_LIMIT = 200


def text_of(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A bounded plain-text rendering of any JSON-like value."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float, bool)):
        text = str(value)
    else:
        parts: list[str] = []
        _collect(value, parts, limit * 2)
        text = "\n".join(parts)
    if len(text) > limit:
        half = limit // 2
        text = text[:half] + "\n…\n" + text[-half:]
    return text


def _collect(value: Any, parts: list[str], budget: int) -> int:
    # Depth-first, stopping once `budget` characters were gathered: huge payloads cost no more
    # than small ones.
    if budget <= 0 or value is None:
        return budget
    if isinstance(value, str):
        parts.append(value)
        return budget - len(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                budget = _collect(item, parts, budget)
            elif item is not None:
                piece = f"{key}: {item}" if not isinstance(item, str) or key != "content" else item
                parts.append(piece)
                budget -= len(piece)
            if budget <= 0:
                break
        return budget
    if isinstance(value, (list, tuple)):
        for item in value:
            if item.__class__ is str:  # most items: no call for them
                parts.append(item)
                budget -= len(item)
            elif item is not None:
                budget = _collect(item, parts, budget)
            if budget <= 0:
                break
        return budget
    piece = str(value)
    parts.append(piece)
    return budget - len(piece)


# json.dumps with options builds an encoder on every call; these are built once.
_JSON = json.JSONEncoder(default=str)
_JSON_SORTED = json.JSONEncoder(sort_keys=True, default=str)


def size_of(value: Any) -> int:
    """Approximate size in characters of a payload, without flattening all of it."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    try:
        return len(_JSON.encode(value))
    except (TypeError, ValueError):
        return len(str(value))


def excerpt(text: str, match: re.Match | None = None, limit: int = EXCERPT_LIMIT) -> str:
    """At most `limit` characters of `text`, centred on `match` when given, on one line."""
    if match is not None and len(text) > limit:
        start = max(0, match.start() - limit // 3)
        piece = text[start : start + limit]
        prefix = "…" if start > 0 else ""
        suffix = "…" if start + limit < len(text) else ""
        text = prefix + piece + suffix
    elif len(text) > limit:
        text = text[: limit - 1] + "…"
    return " ".join(text.split())[: limit + 2]


def args_key(arguments: Any) -> str:
    """A canonical string for tool arguments, so equal arguments compare equal in any key order."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        stripped = arguments.strip()
        if stripped[:1] in ("{", "["):
            try:
                return _JSON_SORTED.encode(json.loads(stripped))
            except ValueError:
                pass
        return " ".join(stripped.split())
    try:
        return _JSON_SORTED.encode(arguments)
    except (TypeError, ValueError):
        return str(arguments)


def estimate_tokens(chars: int) -> int:
    # ~4 characters per token for English text and JSON: good enough to compare with a window.
    return chars // 4


def compile_scan(source: str, flags: int = 0) -> re.Pattern:
    """`re.compile(source, flags)`, made quick to `search` where no match is.

    Python's engine tries a pattern at every position of the text, and a vocabulary of a dozen
    alternatives costs a dozen attempts at each; most texts match none of them. When every match
    must begin with one of a few characters (the first letters of the alternatives), a lookahead
    on them dismisses the other positions in one test. Same matches, spans and groups."""
    pattern = re.compile(source, flags)
    first = _first_chars(_parser.parse(source, flags))
    if first is None:
        return pattern
    try:
        return re.compile(f"(?=[{''.join(dict.fromkeys(first))}])(?:{source})", pattern.flags)
    except re.error:  # a global inline flag such as (?i) must stay at the start
        return pattern


_ZERO_WIDTH = frozenset({_c.AT, _c.ASSERT, _c.ASSERT_NOT})
# Classes narrow enough to be worth the lookahead; \w or \S let nearly every position through.
_CLASSES = {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_SPACE: r"\s"}


def _first_chars(items) -> list[str] | None:
    """Pieces of a character class that holds the first character of every match of the parsed
    pattern `items`, or None when it is not that simple (a match may be empty, a negated class,
    a backreference ...)."""
    pieces, nullable = _starts(items)
    return pieces if pieces and not nullable else None


def _starts(items) -> tuple[list[str] | None, bool]:
    # (class pieces, whether the sequence can match the empty string); pieces None: unknown.
    pieces: list[str] = []
    for op, av in items:
        if op in _ZERO_WIDTH:  # ^, \b, lookarounds: they take no character
            continue
        if op is _c.LITERAL:
            return pieces + [re.escape(chr(av))], False
        if op is _c.IN:
            found = [_class_piece(kind, value) for kind, value in av]
            return (None if None in found else pieces + found), False
        if op is _c.SUBPATTERN and not av[1] and not av[2]:  # a group changing no flags
            found, nullable = _starts(av[3])
        elif op is _c.BRANCH:
            found, nullable = [], False
            for branch in av[1]:
                more, empty = _starts(branch)
                if more is None:
                    return None, False
                found, nullable = found + more, nullable or empty
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            found, nullable = _starts(av[2])
            nullable = nullable or av[0] == 0
        else:
            return None, False
        if found is None:
            return None, False
        pieces += found
        if not nullable:
            return pieces, False
    return pieces, True


def _class_piece(kind, value) -> str | None:
    if kind is _c.LITERAL:
        return re.escape(chr(value))
    if kind is _c.RANGE:
        return f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}"
    if kind is _c.CATEGORY:
        return _CLASSES.get(value)
    return None  # a negated or a broad class


def _rx(*alternatives: str) -> re.Pattern:
    return compile_scan("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


# --- budget: explicit turn, recursion, iteration and cost limits ---------------------------
TURN_LIMIT = _rx(
    r"max[_ ]?turns[_ ]?exceeded",
    r"\bmax(?:imum)?[ _-]*(?:number[ _-]*of[ _-]*)?(?:turns?|iterations?|steps?|rounds?|"
    r"loops?|attempts?|calls?)\b[^\n]{0,40}?\b(?:exceeded|reached|hit|limit)",
    r"\b(?:turn|iteration|step|round|recursion|loop)[ _-]*limit\b",
    r"\b(?:exceeded|reached|hit)\b[^\n]{0,40}?\bmax(?:imum)?[ _-]*(?:number[ _-]*of[ _-]*)?"
    r"(?:turns?|iterations?|steps?|rounds?)\b",
    r"graph[_ ]?recursion[_ ]?error",
    r"\bstopped due to (?:iteration|time) limit\b",
    r"\bagent stopped due to max",
)

# Limits of the run that its owners set, named in an error text. Which limit decides where the
# failure is rooted (budget.py), so each has its own vocabulary; `limit_kind` tries them from the
# most specific. A run deadline names the run (or the wall clock); one call's own deadline
# ("deadline exceeded" from an RPC) is a tool timeout and stays out of here.
SUBAGENT_LIMIT = _rx(
    r"\bsub[ _-]?agents?\b[^\n]{0,60}?\b(?:limit|at most|max(?:imum)?|too many|exceeded|allowed)\b",
    r"\b(?:limit|at most|max(?:imum)?|too many|more than)\b[^\n]{0,40}?\bsub[ _-]?agents?\b",
    r"\btoo many (?:parallel |concurrent )?(?:agents|delegations|workers|delegates)\b",
    r"\bmax(?:imum)?[ _-]*(?:number[ _-]*of[ _-]*)?(?:delegations|delegates|workers|agents)\b"
    r"[^\n]{0,30}?\b(?:exceeded|reached|hit)\b",
)
DEADLINE_LIMIT = _rx(
    r"\b(?:run|job|task|agent|session|workflow|overall|global|total|whole)(?:'s)?\b"
    r"[^\n]{0,30}?\b(?:deadline|time[ _-]?limit|time[ _-]?budget|time[ _-]?box)\b",
    r"\b(?:deadline|time[ _-]?limit|time[ _-]?budget)\b[^\n]{0,30}?\b(?:of|for) (?:the |this )?"
    r"(?:run|job|task|agent|session|workflow)\b",
    r"\bwall[ _-]?clock\b[^\n]{0,40}?\b(?:limit|budget|deadline|exceeded|passed|reached)\b",
    r"\b(?:run|agent|task|job|workflow)[ _-]?(?:deadline|timeout|time[ _-]?limit)[ _-]?"
    r"(?:exceeded|error|reached|expired)",
    r"\bdeadline (?:has |had )?(?:passed|expired|elapsed)\b",
    r"\bmax(?:imum)?[ _-]?(?:execution|run)[ _-]?time\b[^\n]{0,30}?\b(?:exceeded|reached)\b",
)
TOKEN_BUDGET = _rx(
    r"\b(?:\w+[ _-])?tokens?[ _-]*(?:budget|limit|cap|quota)\b[^\n]{0,40}?\b(?:exceeded|"
    r"exhausted|reached|hit|crossed|used up|over)\b",
    r"\b(?:exceeded|exhausted|reached|hit|crossed|over)\b[^\n]{0,30}?\b(?:\w+_)?tokens?[ _-]*"
    r"(?:budget|limit|cap|quota)\b",
    r"\busage[ _-]?limit[ _-]?exceeded\b[^\n]{0,200}?\btokens?\b",
)
COST_BUDGET = _rx(
    r"\bexit[_ ]cost\b",
    r"\bbudget[ _-]?exceeded",
    r"\bbudget (?:has been |was |is |got )?(?:exceeded|exhausted|used up|overrun|spent)\b",
    r"\b(?:cost|spend(?:ing)?|budget|price|dollar)[ _-]*(?:limit|budget|cap)\b[^\n]{0,30}?"
    r"\b(?:exceeded|reached|hit|exhausted|crossed)\b",
    r"\b(?:exceeded|reached|hit|crossed|over)\b[^\n]{0,30}?\b(?:cost|spend(?:ing)?|budget|price)"
    r"[ _-]*(?:limit|budget|cap)\b",
    r"\bover (?:the |its |your )?(?:cost |spend(?:ing)? )?budget\b",
    r"\bexit[_ ](?:format|context)?[_ ]?(?:time|timeout)\b",
)
LIMIT_NUMBER = compile_scan(
    r"(?:limit|budget|cap|quota|max(?:imum)?|at most)(?:[ _](?:budget|limit))?\s*(?:of|is|was|"
    r"set to)?\s*[:=]?\s*\$?\s*(\d[\d,]*(?:\.\d+)?)",
    re.IGNORECASE,
)


def limit_kind(text: str) -> tuple[str, re.Match] | None:
    """Which of the owners' limits an error text says the run hit: subagents, deadline,
    tokens, cost or turns (turns, steps, iterations, recursion), with the words that said so."""
    if not text:
        return None
    for kind, pattern in (
        ("subagents", SUBAGENT_LIMIT),
        ("deadline", DEADLINE_LIMIT),
        ("tokens", TOKEN_BUDGET),
        ("cost", COST_BUDGET),
        ("turns", TURN_LIMIT),
    ):
        m = pattern.search(text)
        if m:
            return kind, m
    # pydantic-ai's UsageLimitExceeded names the limit it hit: requests are turns.
    m = re.search(
        r"\busage[ _-]?limit[ _-]?exceeded\b|\b(?:request|tool_calls)_limit\b", text, re.IGNORECASE
    )
    if m:
        return "turns", m
    return None


def limit_number(text: str) -> str | None:
    """The limit an error text states ("over its limit of 3500", "Max budget: 0.015")."""
    m = LIMIT_NUMBER.search(text or "")
    return m.group(1).replace(",", "") if m else None


# --- context: provider context-length errors -----------------------------------------------
CONTEXT_LENGTH = _rx(
    r"context[_ ]length[_ ]exceeded",
    r"maximum context length",
    r"context[ _-]window",
    r"prompt is too long",
    r"input is too long",
    r"too many (?:input )?tokens",
    r"exceeds? (?:the )?(?:model'?s? )?(?:maximum )?(?:context|token limit|input length)",
    r"reduce the length of the (?:messages|prompt|input)",
    r"string too long",
    r"request too large",
)

# --- tool: error results returned with an OK status ----------------------------------------
# A status line at the start of a line ("HTTP/1.1 502 Bad Gateway", "404 Not Found: ..."), or a
# code named as a status ("status_code": 500). A code inside prose ("to handle 429 errors ...")
# is not a status.
HTTP_ERROR = compile_scan(
    r"^\s*(?:HTTP(?:/\d(?:\.\d)?)?\s*)?([45]\d\d)\s+(?:[A-Z][A-Za-z]*|error\b)"
    r"|\b(?:HTTP(?:/\d(?:\.\d)?)?|status(?:[ _]?code)?)[\"']?\s*[:=]?\s*([45]\d\d)\b",
    re.MULTILINE,
)
ERROR_PREFIX = re.compile(
    r"^\s*(?:\[?error\]?|exception|fatal|failed|failure)\s*[:!\-]", re.IGNORECASE | re.MULTILINE
)
# A key of its own ("error": ..., 'exception': ...), not the end of a word in data
# ("TokenValidationException: signature expired" in a log line).
ERROR_KEY = re.compile(
    r"(?<![\w.-])[\"']?(?:error|exception)[\"']?\s*:\s*(?!null|none|\"\"|false|\{\})\S", re.I
)
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|^\s*at [\w.$]+\([\w.]+:\d+\)|"
    r"^\w+(?:\.\w+)*(?:Error|Exception): ",
    re.MULTILINE,
)
EXIT_CODE = compile_scan(
    r"\bexit(?:ed)?(?:[ _]?| with )(?:code|status)\s*[:=]?\s*(-?\d+)"
    r"|\breturn(?:ed)?[ _]?code\s*[:=]?\s*(-?\d+)"
    r"|\bexitcode\s*[:=]?\s*(-?\d+)",
    re.IGNORECASE,
)
COMMAND_FAILED = _rx(
    r"\bcommand not found\b",
    r"\bno such file or directory\b",
    r"\bpermission denied\b",
    r"\bsegmentation fault\b",
    r"\bmodule ?not ?found ?error\b",
    r"\bimport ?error\b",
    r"\bsyntax ?error\b",
    r"\bname ?error\b",
)
SCHEMA_REJECTED = _rx(
    r"validation errors? for",
    r"\binvalid (?:tool )?(?:arguments?|parameters?|input|params)\b",
    r"\bmissing (?:\d+ )?required (?:positional |keyword )?"
    r"(?:arguments?|parameters?|fields?|propert(?:y|ies))\b",
    r"\bunexpected keyword argument\b",
    r"\bis a required property\b",
    r"\bis not valid under any of the given schemas\b",
    r"\bfield required\b",
    r"\bschema validation\b",
    r"\bfailed to (?:parse|decode) (?:tool )?(?:arguments|parameters|json)\b",
    r"\bdoes not match (?:the )?(?:schema|pattern)\b",
    r"\bis not of type\b",
    r"\badditional properties are not allowed\b",
    r"\binput should be a valid\b",
    r"\bargument (?:of type|must be)\b",
    r"\b(?:is expected to be|must be) one of\b",
    r"\b(?:parameter|argument|field) [`'\"]?\w+[`'\"]? is (?:required|missing|invalid)\b",
)
UNKNOWN_TOOL = _rx(
    r"\b(?:unknown|unrecognized|undefined|invalid|unsupported) (?:tool|function|action)\b",
    r"\b(?:tool|function|action) [\"'`]?[\w.\-]+[\"'`]? (?:not found|does not exist|is not "
    r"(?:available|defined|registered|a valid tool))",
    r"\bno (?:such )?(?:tool|function) (?:named|called)?\b",
    r"\bis not a valid tool\b",
    r"\btool not found\b",
)
TIMEOUT = _rx(
    r"\btim(?:ed|es)?[ _-]?out\b",
    r"\btimeout(?:error|exception)?\b",
    r"\bdeadline[ _]exceeded\b",
    r"\bread timed out\b",
    r"\bgateway time-?out\b",
)
RATE_LIMIT = _rx(
    r"\brate[ _-]?limit",
    r"\btoo many requests\b",
    r"\b(?:status|http|code)\W{0,3}429\b",
    r"\bquota (?:exceeded|exhausted)\b",
    r"\bresource[_ ]exhausted\b",
    r"\bthrottl",
    r"\boverloaded\b",
)

# --- planning: what an answer says ------------------------------------------------------------
# Typographic apostrophes and quotes, as models write them ("I can’t"), read as plain ones.
_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"',
                              "\u201d": '"', "\u00a0": " "})


def plain(text: str) -> str:
    """`text` with typographic apostrophes, quotes and non-breaking spaces made plain, so that
    one vocabulary reads what models write."""
    return text.translate(_TYPOGRAPHIC) if text else text


# Words that put an inability on the speaker (or its team, or its system): "I", "we", "I'm",
# "I still", "we're currently".
_WHO = r"\b(?:I|we|I'm|I am|we're|we are)(?: (?:still|currently|really|simply|just|also|again))?"
GIVING_UP = _rx(
    _WHO + r" (?:unable|not able|not in a position) to\b",
    _WHO + r" (?:can ?not|can't|couldn't|could not|was unable to|wasn't able to|were unable to|"
    r"weren't able to|was not able to|were not able to|did not manage|didn't manage|failed to|"
    r"have not been able|haven't been able|had no luck|had no way)\b",
    # Said without a subject at the start of a sentence: "Unable to complete the booking."
    r"(?:^|[.!?:]\s+)(?:unable|impossible|not able) to\b",
    r"\b(?:it|this|that)(?:'s| is| was| will be| would be) impossible to\b",
    r"\b(?:cannot|can't|can not) (?:proceed|continue|complete|finish|fulfil)",
    r"\bI give up\b",
    r"\bgiving up\b",
    r"\bno (?:way|means) (?:for (?:me|us) )?to\b",
    _WHO + r" (?:won't|will not|wouldn't|would not) be able to\b",
    r"\b(?:not something|nothing) (?:I|we) (?:can|could|am able to|are able to) "
    r"(?:help|do|assist|handle|arrange)\b",
    _WHO + r" can only (?:help|assist|answer|handle)\b",
    _WHO + r" (?:lack|am lacking|are lacking) (?:the )?(?:access|permission|ability|tools?)\b",
    r"\bbeyond (?:the scope of )?what (?:I|we) can\b",
    r"\b(?:I'm|I am|we're|we are) having (?:some )?(?:trouble|difficulty|difficulties|issues|"
    r"problems) (?:\w+ing|with)\b",
    r"\bbeyond (?:my|our) (?:capabilities|ability|abilities|means)\b",
    # Bad news is not giving up ("unfortunately there are no Saturday slots", "I'm afraid it
    # will rain"): only the speaker's own inability is.
    r"\bunfortunately,? (?:I|we)\b",
    r"\bunfortunately,? (?:it|this|that)(?: is|'s| was) not (?:possible|something (?:I|we))\b",
    r"\bnothing (?:more |else )?(?:I|we) (?:can|could) (?:do|arrange|book|find|offer|help)\b",
    _WHO + r" (?:do not|don't|did not|didn't) (?:currently |yet )?have (?:the |any )?"
    r"(?:access|permission|ability|capability|enough|sufficient|a way|any way|means|tools?|"
    r"the (?:necessary|required|right))\b",
    r"\b(?:I'm|I am|we're|we are) afraid (?:I|we|that's not|this is not|it's not) ",
    r"\b(?:I'm|I am|we're|we are) afraid there(?:'s| is) (?:nothing|no way)\b",
    r"\bsorry,? but (?:I|we|there's nothing|that's not|this is not|it's not|none|nothing)\b",
    r"\b(?:I apologi[sz]e|apologies|my apologies),? but\b",
    r"\b(?:isn't|wasn't|is not|was not) (?:possible|feasible)\b",
    r"\bnot (?:possible|feasible) (?:for me |for us )?to\b",
    r"\b(?:could|can) ?(?:not|n't) be (?:completed|done|found|processed|retrieved|determined|"
    r"located|fulfil+ed|booked|placed|made|finished|performed|carried out|accessed|verified|"
    r"confirmed|reached)\b",
    r"\bno luck\b",
    r"\bsomething went wrong\b",
    r"\b(?:an|some) (?:unexpected |internal |technical )?(?:error|issue|problem) "
    r"(?:occurred|came up) (?:while|when) (?:I|we|trying|processing|booking|retrieving|"
    r"looking|searching|fetching|submitting|handling)\b",
    r"\b(?:an|some) (?:unexpected |internal |technical )?(?:error|issue|problem) prevented\b",
    r"\b(?:I|we) (?:ran|run|have run|'ve run|encountered|hit|have hit|ran|got) into "
    r"(?:an? |some )?(?:\w+ )?(?:error|issue|problem|difficult)",
    r"\b(?:I|we) (?:encountered|hit|faced|got|received) (?:an? |some )?(?:\w+ )?"
    r"(?:error|issue|problem|difficult)",
    # About its own work ("an issue with the booking system", "on my end"), not data it read
    # ("it seems there was an outage at 03:00").
    r"\b(?:it|there) (?:seems|appears|looks)(?: like| that)? (?:there (?:was|is|has been|were) "
    r"|I |we )?(?:an? |some )?(?:\w+ )?(?:error|issue|problem|glitch) (?:on (?:my|our) (?:end|"
    r"side)|while|when|\w+ing\b|with (?:the|my|our|this|your) (?:\w+ )?(?:request|booking|"
    r"search|lookup|system|tool|connection|service|reservation|order|payment|query|submission|"
    r"refund))",
    r"\b(?:please )?try again (?:later|in a (?:few|little|bit|while|moment))\b",
    r"\byou(?:'ll| will| may| might) (?:need|have|want) to (?:\w+ ){1,4}(?:yourself|"
    r"elsewhere|another (?:site|service|provider|way))\b",
    # Other languages' common ways of saying the same.
    r"\b(?:no (?:he|hemos) podido|no pude|no pudimos|no puedo|no es posible|lo siento,? pero)\b",
    r"\b(?:je|nous) n'(?:ai|avons) pas (?:pu|réussi)|\bje ne (?:peux|suis pas en mesure)|"
    r"\bimpossible de\b|\bdésolée?,? (?:mais|je)\b",
    r"\b(?:ich|wir) (?:konnte|konnten|kann|können) (?:\w+ ){0,3}(?:nicht|keine?n?)\b|"
    r"\b(?:konnte|konnten|kann|können) (?:ich|wir) (?:\w+ ){0,3}(?:nicht|keine?n?)\b|"
    r"\b(?:es ist|ist es) (?:mir |uns )?nicht möglich\b",
    r"\bnão (?:consegui|conseguimos|foi possível|é possível|posso)\b",
    r"\bnon (?:sono riuscit[oa]|siamo riusciti|è stato possibile|è possibile|posso)\b",
    # "Not able to" / "not in a position to", as each language says it.
    r"\bnon (?:sono|siamo) in grado\b|\bno (?:soy|somos) capa(?:z|ces)\b|"
    r"\bno (?:estoy|estamos) en (?:condiciones|posición)\b|\bnão (?:sou|somos) capaz(?:es)?\b|"
    r"\bnão (?:estou|estamos) em condições\b|\bnicht in der lage\b|\bniet in staat\b",
    r"\b(?:ik|we) (?:kon|konden|kan|kunnen) (?:\w+ ){0,3}(?:niet|geen)\b|"
    r"\b(?:kon|konden|kan|kunnen) (?:ik|we) (?:\w+ ){0,3}(?:niet|geen)\b",
    # Japanese, Chinese and Korean (no word boundaries there).
    r"できませんでした|できかねます|見つかりませんでした|見つけられませんでした|"
    r"申し訳(?:ありません|ございません)が",
    r"无法(?:完成|找到|提供|处理|预订|办理|为您)|未能|没能|找不到|抱歉，?(?:我|但)|对不起，?我",
    r"할 수 없습니다|찾을 수 없습니다|죄송(?:하지만|합니다만)",
)
# What an inability is about when it is a finding, not giving up: "I couldn't find any issues",
# "we could not see anything wrong", and idioms ("I can't wait", "couldn't be happier").
_NOT_GIVING_UP = re.compile(
    r"\s*(?:find|see|spot|detect|identify|locate|notice)\s+(?:any\s+|anything\s+)?"
    r"(?:(?:\w+\s+)?(?:issues?|errors?|problems?|bugs?|differences?|discrepanc(?:y|ies)|"
    r"anomal(?:y|ies)|vulnerabilit(?:y|ies)|conflicts?|mistakes?|faults?|regressions?)\b|"
    r"wrong|unusual|suspicious|amiss|out of (?:the ordinary|place))"
    r"|\s*(?:wait|be happier|recommend \w+ enough|stress \w+ enough|thank you enough)\b",
    re.IGNORECASE,
)


def gives_up(text: str) -> re.Match | None:
    """The words of `text` that say the speaker could not do the job, or None: a finding that
    nothing is wrong ("I couldn't find any issues") and idioms are not giving up."""
    if not text:
        return None
    text = plain(text)
    for m in GIVING_UP.finditer(text):
        if not _NOT_GIVING_UP.match(text, m.end()):
            return m
    return None


DONE_VERBS = (
    r"(?:created|updated|sent|saved|booked|processed|completed|deployed|fixed|cancel(?:l)?ed|"
    r"refunded|exchanged|returned|resolved|submitted|scheduled|rescheduled|deleted|written|"
    r"applied|placed|changed|modified|paid|transferred|issued|approved|registered|reserved|"
    r"ordered|purchased|uploaded|published|merged|committed|pushed|installed|configured|"
    r"enabled|disabled|renewed|reset|shipped|credited|charged|converted|added|removed|posted|"
    r"filed|logged|recorded|notified|emailed|moved|renamed|restarted|rolled back|migrated|"
    r"assigned|closed|granted|revoked|activated|upgraded|confirmed|executed|generated|"
    r"delivered|finali[sz]ed|patched|set up|cleared|unlocked|blocked|imported|exported|"
    r"queued|arranged|sorted|handled|lodged|raised|opened|initiated|started|triggered|"
    r"requested|escalated|forwarded|rebooked|corrected|adjusted|replaced|dispatched|"
    r"allocated|enrolled|subscribed|unsubscribed|signed up|accepted|entered|stored|synced|"
    r"restored|rotated|scaled|provisioned|released|authori[sz]ed|rescheduled|extended|"
    r"topped up|reactivated|waived|refiled|amended|reissued|rerouted|sent out|put in|"
    r"arranged|organi[sz]ed|held|secured|locked in)"
)
# A final answer that says the job was done. Read sentence by sentence: a sentence that also
# negates ("nothing was booked", "could not be processed") claims nothing.
SUCCESS_CLAIM = _rx(
    r"\b(?:successfully|done|completed|finished|has been|have been|had been|was|were|is|are|"
    r"got|now|'s|'re|'s been|'ve been) (?:\w+ ){0,3}" + DONE_VERBS + r"\b",
    r"\bsuccessfully\b",
    r"\ball (?:set|done|good|sorted)\b",
    r"\bgood to go\b",
    r"\b(?:task|job|request|order|booking|reservation|payment|refund|transfer|change|update|"
    r"cancellation|transaction|ticket|deployment|migration) (?:is |was |has been |'s )?"
    r"(?:now )?(?:complete|completed|done|confirmed|through|in place|live)\b",
    r"\bwent through\b",
    # A state reached rather than an act: "it is confirmed", "your refund is on its way".
    r"\b(?:is|are|has been|have been|'s|'re) (?:now )?(?:confirmed|complete|in place|live|"
    r"on (?:its|their|the) way|ready|taken care of|sorted|booked)\b",
    r"\b(?:I|we)(?:'ve| have)? (?:gone ahead and |just |now |already )?(?:\w+ ){0,2}"
    + DONE_VERBS + r"\b",
    # An answer that opens with the act: "Done!", "Booked:", "Refunded.", "Confirmed -".
    r"(?:^|(?<=[.!?;\n])|(?<=[.!?;\n] ))\s*(?:done|" + DONE_VERBS + r")\s*(?:[!.:;,-]|$)",
    r"\b(?:your|the) confirmation (?:number|code|id|no\.?|#)",
    r"\byou(?:'ll| will| should) (?:soon )?(?:receive|get|see) (?:a |an |the |your )?"
    r"(?:\w+ )?(?:confirmation|refund|receipt|credit|email|invite|invitation)\b",
    # Other languages' common ways of saying it.
    r"\b(?:erledigt|erfolgreich|ist (?:jetzt )?(?:gebucht|storniert|erstattet|bestätigt|"
    r"versendet|bezahlt))\b",
    r"\b(?:listo|hecho|se ha (?:procesado|completado|reservado|cancelado|reembolsado|"
    r"enviado|confirmado)|exitosamente|con éxito)\b",
    r"\b(?:c'est fait|a été (?:effectuée?|traitée?|réservée?|annulée?|remboursée?|confirmée?|"
    r"envoyée?)|avec succès)\b",
    r"\b(?:è stat[oa] (?:completat[oa]|prenotat[oa]|rimborsat[oa]|annullat[oa]|confermat[oa]|"
    r"inviat[oa])|con successo)\b",
)
NEGATION = compile_scan(
    r"\b(?:not|no|nothing|never|none|nobody|cannot|unable|failed|fail|fails|unsuccessful|"
    r"unfortunately|yet to|pending|nicht|kein|keine|pas|non|não)\b|n't\b",
    re.IGNORECASE,
)
# Courtesies that carry a negation without negating a claim: "No problem, your refund has been
# processed", "don't hesitate to ask", "let me know if you need anything else".
COURTESY = re.compile(
    r"\b(?:no (?:problem|worries|trouble)|not a problem|(?:don't|do not) (?:hesitate|worry)|"
    r"let me know if[^.!?\n]*|if (?:you )?(?:don't|do not|didn't)[^.!?\n]*|no need to|"
    r"no further action|no action (?:is )?needed|no extra (?:charge|cost|fee)s?|"
    r"at no (?:extra |additional )?(?:cost|charge))\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]?")
CANNOT_DO = _rx(
    r"\bunsupported\b",
    r"\bnot (?:yet )?supported\b",
    r"\b(?:this|the) (?:tool|endpoint|api|function|service|method|index|database|source) "
    r"(?:only|can ?not|cannot|can't|does not|doesn't|is not (?:able|meant|designed))\b",
    r"\bonly (?:returns?|supports?|handles?|accepts?|provides?|covers?|finds?|lists?|quotes?|"
    r"knows|works (?:with|for|on)|searches|indexes|contains)\b",
    r"\b(?:does not|doesn't|do not|don't) (?:support|provide|return|handle|cover|offer|include)\b",
    r"\bnot implemented\b",
    r"\b(?:cannot|can't|unable to) (?:handle|process|be used for|answer|provide|return|"
    r"look up|convert)\b",
    r"\bout of (?:scope|coverage)\b",
    # "only available for US equities", "not designed for currency pairs", "outside the
    # supported range", "use the fx endpoint instead".
    r"\bonly (?:available|valid|applies|applicable|defined) (?:for|to|in|on)\b",
    r"\b(?:is |are )?not (?:designed|meant|intended|built) (?:for|to)\b",
    r"\boutside (?:the |its |our )?(?:scope|coverage|supported)\b",
    r"\b(?:use|try|call) (?:the |a )?[\w.-]+ (?:tool|endpoint|api|service) instead\b",
)
# The part of CANNOT_DO that speaks of what a tool is for (its scope), not of one request it
# could not serve: an error saying "this API only quotes equities" is the wrong tool; one saying
# "SEGMENT NOT MODIFIABLE - UNABLE TO PROCESS" is the right tool failing.
CANNOT_DO_SCOPE = _rx(
    r"\bonly (?:returns?|supports?|handles?|accepts?|provides?|covers?|finds?|lists?|quotes?|"
    r"knows|works (?:with|for|on)|searches|indexes|contains)\b",
    r"\bonly (?:available|valid|applies|applicable|defined) (?:for|to|in|on)\b",
    r"\b(?:is |are )?not (?:designed|meant|intended|built) (?:for|to)\b",
    r"\boutside (?:the |its |our )?(?:scope|coverage|supported)\b",
    r"\b(?:use|try|call) (?:the |a )?[\w.-]+ (?:tool|endpoint|api|service) instead\b",
    r"\bunsupported (?:symbol|currency|currencies|pair|type|format|region|market|language|"
    r"country|category|operation|query|request|input|asset|instrument|document|file type|"
    r"entity|resource|action|method)s?\b",
    r"\b(?:symbol|currency|pair|type|format|region|market|language|country|category|"
    r"operation|query|request|asset|instrument|action) [\w\"'/.-]* ?(?:is |are )?not supported\b",
)


# Where a tool's result says something about the call rather than carrying data: a tool that
# cannot do the job says so there ("message": "unsupported symbol"), while data that happens to
# read alike ("wireless charging: not supported" in a product sheet) sits in other fields.
SAYS_KEYS = ("message", "note", "notes", "error", "detail", "details", "reason", "warning",
              "warnings", "info", "status", "msg", "hint", "error_message")
SAYS_LIMIT = 600


def cannot_do(result: Any, error: str = "") -> tuple[str, re.Match] | None:
    """Where a tool says it cannot do what it was asked, and the words: in its error (only
    about its scope, CANNOT_DO_SCOPE: a request it failed to serve is a failure), in the
    fields of its result that speak about the call, or in a short text result (CANNOT_DO)."""
    if error:
        m = CANNOT_DO_SCOPE.search(error[:SAYS_LIMIT])
        return (error, m) if m else None
    if isinstance(result, str) and result.strip()[:1] == "{" and len(result) < 8_000:
        try:
            result = json.loads(result)
        except ValueError:
            pass
    if isinstance(result, dict):
        texts = [text_of(result.get(k), 400) for k in SAYS_KEYS if isinstance(
            result.get(k), (str, dict, list))]
        text = "\n".join(t for t in texts if t)
    elif isinstance(result, str) and len(result) <= SAYS_LIMIT:
        text = result
    else:
        return None
    m = CANNOT_DO.search(text) if text else None
    return (text, m) if m else None


# A tool's own short report that its act did not happen ("Card declined by issuer", "booking
# rejected", "could not be processed").
ACT_FAILED = _rx(
    # Not a count ("12 passed, 0 failed" is a test run's data).
    r"(?<!\d )\b(?:failed|failure|declined|denied|rejected|refused|unsuccessful|aborted|"
    r"unauthori[sz]ed|forbidden|insufficient (?:funds|balance|stock|permissions?))\b",
    r"\b(?:could not|couldn't|cannot|can't|unable to|not able to) (?:be )?\w+",
    r"\bnot (?:be )?(?:processed|completed|allowed|permitted|authori[sz]ed|possible|"
    r"available|found)\b",
    r"\b(?:is |has )?(?:expired|unavailable|locked|suspended|blocked)\b",
)


EMPTY_RESULT = _rx(
    r"^\s*(?:\[\s*\]|\{\s*\}|null|none|\"\"|'')\s*$",
    r"\bno (?:results?|matches|documents?|records?|hits|data|items|entries) (?:were |was )?"
    r"(?:found|returned|available|match)",
    r"\bno (?:relevant )?(?:results?|matches|documents?|records?|hits)\b",
    r"\bnothing (?:found|relevant|matched)\b",
    r"\b0 (?:results?|matches|documents?|hits)\b",
    r"\bnot found\b",
    # Other wordings of an empty search: "no matching passages", "0 documents matched",
    # "found nothing", "did not match any", "empty result set".
    r"\bno (?:matching|relevant|related|similar) (?:\w+ )?(?:passages?|chunks?|documents?|"
    r"articles?|pages?|entries|records?|results?|sources?)\b",
    r"\b(?:found|returned|retrieved) (?:nothing|no (?:\w+ )?(?:passages?|chunks?|documents?|"
    r"results?|records?|matches))\b",
    r"\b(?:did not|didn't|does not|doesn't) match any",
    r"\bempty (?:result|response|search|set)\b",
    r"\bzero (?:results?|matches|documents?|hits)\b",
)
# An answer that says its search came back empty: honest about it, not answered anyway.
ADMITS_NOTHING = _rx(
    r"\b(?:couldn't|could not|can't|cannot|did not|didn't|unable to|wasn't able to) "
    r"(?:find|locate|retrieve|get)\b",
    r"\bno (?:\w+ ){0,2}(?:information|results?|documents?|passages?|sources?|records?|data|"
    r"matches|mention)\b",
    r"\bnothing (?:relevant|about|on|that|was)\b",
    r"\b(?:doesn't|does not|don't|do not) (?:cover|mention|say|contain|address)\b",
)
PLAN_ITEM = re.compile(
    r"^\s*(?:\d+[.)]|[-*•]|step \d+[:.)]?)\s+(.{3,200})$", re.IGNORECASE | re.MULTILINE
)
PLAN_HEADER = compile_scan(r"\b(?:plan|steps?|approach|I will|I'll|next,? I)\b", re.IGNORECASE)

# Tools named for looking something up (`check_refund`, `get_order`) report a state, not an act
# of theirs: `{"refunded": false}` from one is no failure, and a successful call of one does not
# make an act happen.
QUERY_VERBS = frozenset(
    {"get", "check", "lookup", "look", "list", "search", "find", "fetch", "read", "query",
     "status", "is", "has", "verify", "validate", "poll", "describe", "show", "view", "can",
     "retrieve", "track", "inspect", "count", "browse", "explain"}
)


@lru_cache(maxsize=4_096)
def name_words(name: str) -> tuple[str, ...]:
    """The words of a tool's name, lower case: `issueRefund`, `issue-refund` and
    `issue_refund` are ("issue", "refund"). Cached: a run calls its few tools many times."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name or "")
    return tuple(w for w in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if w)


def is_query_tool(name: str) -> bool:
    """Whether a tool is named for looking something up rather than for an act."""
    words = name_words(name)
    return bool(words) and words[0] in QUERY_VERBS


WORD = re.compile(r"[a-z0-9]{3,}")
STOPWORDS = frozenset(
    "the and for with that this from what which who whom whose when where why how are was were "
    "will would could should can you your our their there here have has had not but all any "
    "into onto about than then them they its it's also just only more most some such very "
    "please find give tell show list does did doing been being".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS}


# --- conversations -----------------------------------------------------------------------------
_ASSISTANT_ROLES = frozenset({"assistant", "ai", "model", "bot"})


def messages_of(value: Any) -> list[dict] | None:
    """The message list of a conversation value (a list of messages, or `{"messages": [...]}`),
    or None when `value` is not one."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value[:5]):
        if any(role_of(m) for m in value[:5]):
            return value
    return None


def role_of(message: dict) -> str:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    role = message.get("role") or message.get("type") or data.get("type") or ""
    return str(role).lower()


def content_of(message: dict) -> str:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    content = message.get("content", data.get("content"))
    if content is None and isinstance(message.get("parts"), list):
        content = [p for p in message["parts"] if not isinstance(p, dict) or
                   p.get("type") in (None, "text")]
    if isinstance(content, list):
        content = " ".join(
            str(p.get("text") or p.get("content") or "") if isinstance(p, dict) else str(p)
            for p in content
        )
    return content.strip() if isinstance(content, str) and content.strip() != "None" else ""


def _calls(message: dict) -> list:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    calls = message.get("tool_calls") or data.get("tool_calls") or []
    if message.get("function_call"):
        calls = [*calls, message["function_call"]]
    if isinstance(message.get("parts"), list):
        calls = [*calls, *(p for p in message["parts"]
                           if isinstance(p, dict) and p.get("type") == "tool_call")]
    return calls if isinstance(calls, list) else []


def last_reply(value: Any) -> str | None:
    """What a model (or a run) last said to its user: the text of the last assistant message
    that calls no tool; a plain string as it is; None when there is no such reply."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict) and not isinstance(value.get("messages"), list):
        value = [value]
    messages = messages_of(value)
    if messages is None:
        return None
    last = next((m for m in reversed(messages) if role_of(m)), None)
    if last is None or role_of(last) not in _ASSISTANT_ROLES or _calls(last):
        return None
    return content_of(last) or None


def requested_calls(value: Any) -> set[str]:
    """Names of the tools an assistant message asked to call."""
    if isinstance(value, dict) and not isinstance(value.get("messages"), list):
        value = [value]
    names: set[str] = set()
    for m in messages_of(value) or ():
        for call in _calls(m):
            if not isinstance(call, dict):
                continue
            fn = call.get("function") if isinstance(call.get("function"), dict) else call
            name = fn.get("name")
            if isinstance(name, str) and name.strip():
                names.add(name.strip())
    return names


def sentences(text: str) -> list[tuple[int, str]]:
    """The sentences (and clauses between semicolons) of `text`, with where each starts."""
    return [(m.start(), m.group(0)) for m in _SENTENCE.finditer(text or "")]


def success_claim(text: str) -> re.Match | None:
    """The words of `text` that claim the job was done, or None. A sentence that also negates
    (courtesies aside: "no problem", "don't hesitate") claims nothing, and neither does an
    answer that gives up."""
    if not text:
        return None
    text = plain(text)
    if gives_up(text):
        return None
    for sentence in _SENTENCE.finditer(text):
        piece = sentence.group(0)
        m = SUCCESS_CLAIM.search(text, sentence.start(), sentence.end())
        if m and not NEGATION.search(COURTESY.sub(" ", piece)):
            return m
    return None


_DONE = re.compile(r"\b" + DONE_VERBS + r"\b", re.IGNORECASE)


def claimed_acts(text: str) -> list[str]:
    """The acts ("refunded", "booked") that the claiming sentences of `text` say were done."""
    text = plain(text or "")
    acts = []
    for _, piece in sentences(text):
        if SUCCESS_CLAIM.search(piece) and not NEGATION.search(COURTESY.sub(" ", piece)):
            acts += [m.group(0).lower() for m in _DONE.finditer(piece)]
    return acts


# A figure an agent states: an amount, a decimal or version, or a number of two or more digits
# (single digits are too common in prose to prove anything).
FIGURE = compile_scan(
    r"(?<![\w.#/-])\$?(\d{1,3}(?:,\d{3})+(?:\.\d+)*|\d+(?:\.\d+)+|\d{2,})(?![\w/-])"
)


def figures(text: str) -> set[str]:
    return {m.group(1).replace(",", "") for m in FIGURE.finditer(text or "")}
