"""The pieces every rule shares: the rule registry, findings, and a precomputed view of a trace.

A rule is a small named, versioned pure function `fn(view) -> list[Finding]`. A finding says
"this step shows a <category> failure", with the evidence (an attribute or an excerpt), how sure
the rule is, and the role it plays in the failure: a *cause* (where a failure starts: a tool
error, the first call of a loop, a flooding tool output) or a *symptom* (how the run ended: a turn
limit, a context-length error, giving up). The engine picks the root cause among them.

`TraceView` is built once per invocation and memoises what several rules need (ordered steps,
flattened texts, the tool outcome of each step), so running every rule stays linear in the
number of steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from traceview.classify import helpers
from traceview.core.trace import InvocationData, StepData

CAUSE = "cause"
SYMPTOM = "symptom"


@dataclass(slots=True)
class Finding:
    rule: str
    category: str
    step: str | None
    pos: int  # position of `step` in the ordered steps; len(steps) when it names no step
    detail: str
    strength: float  # how sure the rule is that this is a failure of `category`, 0..1
    role: str = CAUSE
    # Whether this finding alone makes a run that reported success a failure.
    fails_run: bool = True
    # A failure the agent got past (the same tool succeeded later): evidence, never the root.
    recovered: bool = False
    # Categories of earlier live findings this one takes over from: an answer that claims a
    # success over a failed tool call makes that failure handled; the claim is the mistake.
    overrides: tuple[str, ...] = ()
    # A failure that decides only when nothing else does: it may fail a run that said it
    # succeeded, but any other strong finding is the root before it (an answer's figures no
    # tool returned, in a run that also crossed its budget, is a budget failure).
    secondary: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    category: str
    version: int
    fn: Callable[[TraceView], list[Finding]]


RULES: list[Rule] = []


def rule(name: str, category: str, version: int = 1):
    """Register `fn` as a rule. Bump `version` (and RULESET_VERSION) when its behaviour changes."""

    def register(fn: Callable[[TraceView], list[Finding]]):
        RULES.append(Rule(name=name, category=category, version=version, fn=fn))
        return fn

    return register


# Keys under which senders declare the tools an agent has (GenAI semconv, OpenInference, the
# OpenAI Agents SDK export, and our own native format).
DECLARED_TOOL_KEYS = (
    "tools",
    "agent.tools",
    "gen_ai.agent.tools",
    "gen_ai.tool.definitions",
    "gen_ai.request.tools",
    "llm.tools",
    "available_tools",
)

TOOL_KINDS = ("tool", "retrieval")


@dataclass(slots=True)
class ToolProblem:
    rule: str  # which signal: tool.error_status, tool.error_result, tool.schema_rejected ...
    detail: str
    strength: float
    # Whether any later successful tool call counts as a recovery (unknown tool, bad schema), or
    # only a later success of the same tool.
    any_tool_recovers: bool = False


@dataclass(slots=True)
class TraceView:
    inv: InvocationData
    steps: list[StepData]
    pos: dict[str, int]
    root: StepData | None
    tool_steps: list[int]  # positions of tool and retrieval steps
    llm_steps: list[int]
    declared_tools: frozenset[str] | None
    # Positions of steps that other steps name as their parent (agent runs, chains, turns).
    containers: frozenset[int]
    # Names the agent had as tools: declared, or asked for by a model call.
    tool_names: frozenset[str]
    # The tool calls each model call asked for, by position.
    requested: dict[int, frozenset[str]]
    # What went wrong with a tool step: the tool rules' judgement (classify.tool), handed in by
    # the engine so that these shared pieces know nothing of the individual rules.
    tool_problem: Callable[[TraceView, int], ToolProblem | None]
    _texts: dict[tuple[int, str], str] = field(default_factory=dict)
    _once: dict[tuple, Any] = field(default_factory=dict)
    _problems: dict[int, ToolProblem | None] = field(default_factory=dict)
    _recovered: dict[int, bool] = field(default_factory=dict)
    _answer: tuple[int | None, str] | None = None

    @classmethod
    def build(
        cls, inv: InvocationData, tool_problem: Callable[[TraceView, int], ToolProblem | None]
    ) -> TraceView:
        steps = inv.ordered_steps()
        pos = {s.span_id: i for i, s in enumerate(steps)}
        root = None
        for s in steps:
            if s.parent_span_id is None or s.parent_span_id not in pos:
                root = s
                break
        declared = _declared_tools(inv, steps)
        llm_steps = [i for i, s in enumerate(steps) if s.kind == "llm"]
        # Names the agent had as tools: declared, or asked for by a model call. A step of no
        # particular kind named like one is that tool's call (Langfuse keeps tool observations
        # as plain spans, kind "other").
        requested = {i: frozenset(helpers.requested_calls(steps[i].output)) for i in llm_steps}
        tool_names = set(declared or ()).union(*requested.values())
        tool_steps = [i for i, s in enumerate(steps) if is_tool_step(s, tool_names)]
        containers = frozenset(pos[s.parent_span_id] for s in steps if s.parent_span_id in pos)
        return cls(
            inv=inv,
            steps=steps,
            pos=pos,
            root=root,
            tool_steps=tool_steps,
            llm_steps=llm_steps,
            declared_tools=declared,
            containers=containers,
            tool_names=frozenset(tool_names),
            requested=requested,
            tool_problem=tool_problem,
        )

    # --- texts -------------------------------------------------------------------------------
    def text(self, i: int, part: str) -> str:
        """Flattened, bounded text of one part of step `i`: error, result, output or input."""
        key = (i, part)
        cached = self._texts.get(key)
        if cached is None:
            s = self.steps[i]
            if part == "error":
                cached = " ".join(x for x in (s.error_type, s.error_message) if x)
                if s.error_traceback:
                    cached += "\n" + helpers.text_of(s.error_traceback, 2_000)
            elif part == "result":
                cached = helpers.text_of(self.result_value(i))
            elif part == "output":
                cached = helpers.text_of(s.output)
            elif part == "input":
                cached = helpers.text_of(s.input)
            elif part == "args":
                cached = helpers.args_key(s.tool_arguments)
            else:
                raise ValueError(part)
            self._texts[key] = cached
        return cached

    def events_text(self, i: int) -> str:
        key = (i, "events")
        cached = self._texts.get(key)
        if cached is None:
            events = self.steps[i].events or []
            parts = []
            for ev in events[:50]:
                if isinstance(ev, dict):
                    name = str(ev.get("name") or "")
                    attrs = ev.get("attributes") or {}
                    if "exception" in name.lower() or "error" in name.lower():
                        parts.append(name + " " + helpers.text_of(attrs, 1_000))
            cached = "\n".join(parts)
            self._texts[key] = cached
        return cached

    # --- tools -------------------------------------------------------------------------------
    def result_value(self, i: int) -> Any:
        """What tool step `i` returned, out of the message a framework wrapped it in (LangChain's
        ToolMessage: `{"type": "tool", "data": {"content": ..., "tool_call_id": ...}}`), so that
        equal results compare equal and an error inside reads as one."""
        s = self.steps[i]
        value = s.tool_result if s.tool_result is not None else s.output
        for _ in range(2):
            if not isinstance(value, dict):
                break
            if value.get("type") == "tool" and isinstance(value.get("data"), dict):
                value = value["data"]
            if "content" in value and ("tool_call_id" in value or value.get("type") == "tool"):
                value = value["content"]
        return value

    def tool_name(self, i: int) -> str:
        s = self.steps[i]
        return (s.tool_name or s.name or "").strip()

    def problem(self, i: int) -> ToolProblem | None:
        """What went wrong with tool step `i`, or None when its outcome looks fine."""
        if i not in self._problems:
            self._problems[i] = self.tool_problem(self, i)
        return self._problems[i]

    def once(self, judge: Callable[..., Any], *args: Any) -> Any:
        """`judge(self, *args)`, worked out once: a judgement of the run, or of a step, that
        several rules ask for."""
        key = (judge, *args)
        if key not in self._once:
            self._once[key] = judge(self, *args)
        return self._once[key]

    def recovered(self, i: int) -> bool:
        """Whether the agent got past the failure of tool step `i` with a later successful call
        of the same tool, or of the same tool asked another way (`find_user_by_email`, then
        `find_user_by_name_zip`: one lookup by another key)."""
        if i in self._recovered:
            return self._recovered[i]
        problem = self.problem(i)
        name = self.tool_name(i)
        family = same_tool_family(name)
        result = False
        if problem is not None:
            for j in self.tool_steps:
                if j <= i:
                    continue
                other = self.tool_name(j)
                if (
                    problem.any_tool_recovers
                    or other == name
                    or (family is not None and same_tool_family(other) == family)
                ) and self.problem(j) is None:
                    result = True
                    break
        self._recovered[i] = result
        return result

    # --- run-level facts ---------------------------------------------------------------------
    @property
    def run_failed(self) -> bool:
        if self.inv.status == "error":
            return True
        return self.root is not None and self.root.status == "error"

    def final_answer(self) -> tuple[int | None, str]:
        """The step that gave the final answer and its text: the last model reply to the user
        (of the invocation output when that is a conversation), else the invocation output."""
        if self._answer is None:
            self._answer = self._final_answer()
        return self._answer

    def _final_answer(self) -> tuple[int | None, str]:
        # Typographic apostrophes read as plain ones ("I can’t"): one vocabulary for all.
        pos, text = self._final_reply()
        return pos, helpers.plain(text)

    def _final_reply(self) -> tuple[int | None, str]:
        last_llm = self.llm_steps[-1] if self.llm_steps else None
        output = self.inv.output
        if output is not None:
            reply = helpers.last_reply(output)
            if reply is not None:
                return last_llm, reply[-4_000:]
            if helpers.messages_of(output) is None:
                return last_llm, helpers.text_of(output, 4_000)
        if last_llm is not None:
            reply = helpers.last_reply(self.steps[last_llm].output)
            if reply is not None:
                return last_llm, reply[-4_000:]
            return last_llm, self.text(last_llm, "output")[-4_000:]
        return None, ""

    def innermost(self, positions: list[int]) -> int:
        """Of steps that all carry the same error, the deepest: a runtime re-raises a failure
        on every span that contains the one where it happened (the agent run, the graph), so
        the one that contains none of the others is where it happened. The earliest such."""
        marked = set(positions)
        inner = []
        for i in positions:
            if i not in self.containers:
                inner.append(i)
                continue
            # A container that holds another carrier only passes the error on.
            if not any(self._inside(j, i) for j in marked if j != i):
                inner.append(i)
        return min(inner) if inner else min(positions)

    def _inside(self, j: int, ancestor: int) -> bool:
        target = self.steps[ancestor].span_id
        parent = self.steps[j].parent_span_id
        for _ in range(64):
            if parent is None or parent not in self.pos:
                return False
            if parent == target:
                return True
            parent = self.steps[self.pos[parent]].parent_span_id
        return False

    def finding(
        self, rule: str, category: str, i: int | None, detail: str, strength: float, **kw: Any
    ) -> Finding:
        step = self.steps[i].span_id if i is not None else None
        # A symptom on a span that contains others (an agent run, a graph) happened when it
        # ended.
        at_end = i is None or (
            kw.get("role") == SYMPTOM and (self.steps[i].kind == "agent" or i in self.containers)
        )
        return Finding(
            rule=rule,
            category=category,
            step=step,
            pos=len(self.steps) if at_end else i,
            detail=detail,
            strength=strength,
            **kw,
        )


# Words that start the key a lookup is asked by: find_user_id_BY_email, get_order_FOR_customer.
_BY = frozenset({"by", "from", "for", "with", "via", "using"})


def same_tool_family(name: str) -> tuple[str, ...] | None:
    """What a tool does less the key it is asked by: ("find", "user", "id") of both
    `find_user_id_by_email` and `find_user_id_by_name_zip`; None for a name without such a
    key (two words at least before it)."""
    words = helpers.name_words(name)
    for n, w in enumerate(words):
        if w in _BY and n >= 2:
            return words[:n]
    return None


def is_tool_step(s: StepData, tool_names: set[str] | frozenset[str] = frozenset()) -> bool:
    if s.kind in TOOL_KINDS:
        return True
    return s.kind in (None, "other") and bool(s.tool_name or (s.name and s.name in tool_names))


def _tool_names(value: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(value, str):
        value = value.strip()
        if value[:1] in ("[", "{"):
            try:
                import json

                value = json.loads(value)
            except ValueError:
                return {v.strip() for v in value.strip("[]").split(",") if v.strip()}
        else:
            return {v.strip() for v in value.split(",") if v.strip()}
    if isinstance(value, dict):
        if "name" in value and isinstance(value["name"], str):
            names.add(value["name"])
        elif "function" in value and isinstance(value["function"], dict):
            names |= _tool_names(value["function"])
        else:
            names |= {k for k in value if isinstance(k, str)}
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, dict):
                names |= _tool_names(item)
    return names


def _declared_tools(inv: InvocationData, steps: list[StepData]) -> frozenset[str] | None:
    # None means "not declared": a rule must not call a tool unknown when nobody said which
    # tools the agent has.
    found: set[str] = set()
    declared = False
    sources = [inv.attributes or {}]
    # Agent spans declare their agent's tools; conventions that record the tools offered to the
    # model (OpenInference llm.tools.*, GenAI gen_ai.tool.definitions) put them on LLM spans.
    sources += [s.attributes for s in steps if s.kind in ("agent", "llm") and s.attributes]
    for attrs in sources:
        for key in DECLARED_TOOL_KEYS:
            if key in attrs and attrs[key] is not None:
                declared = True
                found |= _tool_names(attrs[key])
        # OpenInference flattens lists: llm.tools.0.tool.json_schema, ...
        for key, value in attrs.items():
            if key.startswith("llm.tools.") and key.endswith(".tool.json_schema"):
                declared = True
                found |= _tool_names(value)
    # Exporters that keep the request as the model call's input carry the tools offered with
    # it: {"messages": [...], "tools": [...]}.
    for s in steps:
        if s.kind == "llm" and isinstance(s.input, dict) and isinstance(s.input.get("tools"), list):
            declared = True
            found |= _tool_names(s.input["tools"])
    return frozenset(found) if declared else None
