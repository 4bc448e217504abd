"""The tool-scope audit: which tool calls of one invocation its agent's scope did not allow.

Pure: `scope_audit(steps, allowed, confirm) -> list[Violation]` over the canonical trace; no
Django. It reads of each step only its kind, name, tool name, status, start time, sequence number,
attributes, tool arguments and tool result (what traceview.agents.scope_audit loads to re-audit).
The classifier path (traceview.classify.diagnosis) and the re-audit after a scope change
(traceview.agents.scope_audit) both call it; docs/scope-audit.md says the same for users.

The rules:

* A **tool call** is a step of kind "tool". Its name is its `tool_name`, else its `name`.
* `allowed` and `confirm` hold exact tool names or shell-style globs, matched case-sensitively
  (`mcp__github__*`). An empty `allowed` list allows every tool (no "not_allowed" audit); a tool
  in `confirm` is allowed implicitly. A call whose name matches neither list is **not_allowed**;
  a call without any name matches nothing, so with a scope set it is not_allowed too.
* A **human-approval step** is a step of any kind that the trace marks as one (see
  `approval_of`): a `traceview.approval*` attribute (the native convention), an OpenAI-style
  `mcp_approval_response` object among its attributes, or, for any step but a model call, a name
  or tool name whose words include one of APPROVAL_WORDS (its decision is then its tool result);
  for a tool call, only when the name also asks someone (ASKING_WORDS: "request_approval"), so
  that "approve_refund" is audited as the action it is.
  A denial (decision denied, rejected, declined, false ..., or the step failed) is not an
  approval. A human-approval step, granted or
  denied, is never itself audited as a tool call: it is the human's step, not the agent's. A call
  of a gated tool is never taken for an approval by its name ("confirm_order" in `confirm` is a
  call that needs one).
* A call of a gated tool (one matching `confirm`) is **unconfirmed** unless an approval comes
  before it in step order (traceview.core.trace.step_order_key) that no earlier gated call has used.
  The call uses the earliest unused approval that names its tool; failing that, the earliest
  unused one that names no tool. An approval naming other tools does not cover it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from traceview.core.trace import StepData, step_order_key

# Words of a step's name (or tool name) that mark it as a human approval. Names are split on
# anything but letters and digits and at camelCase boundaries, so "human_approval",
# "requestApproval" and "Ask for confirmation" all match.
APPROVAL_WORDS = frozenset(
    {"approval", "approvals", "approve", "approved", "confirm", "confirmation", "confirmed", "hitl"}
)
# A tool call is the agent acting: its name marks it as asking a person only with one of these
# words as well ("request_approval", "ask_human_confirmation"), so that a call like
# "approve_refund" stays a call the scope audits rather than a self-granted approval.
ASKING_WORDS = frozenset({"request", "ask", "await", "wait", "seek", "human", "user", "hitl"})
# Decision values, compared in lower case. A decision outside both sets approves nothing.
GRANTED = frozenset(
    {
        "approved",
        "approve",
        "granted",
        "grant",
        "allowed",
        "allow",
        "accepted",
        "accept",
        "confirmed",
        "confirm",
        "yes",
        "true",
        "ok",
    }
)
DENIED = frozenset(
    {
        "denied",
        "deny",
        "rejected",
        "reject",
        "declined",
        "decline",
        "refused",
        "refuse",
        "cancelled",
        "canceled",
        "no",
        "false",
    }
)
# Native attributes: `traceview.approval` (true/false, a decision, or an object with `decision`
# and `tool`), `traceview.approval.decision`, `traceview.approval.tool` (a name or a list).
APPROVAL_ATTRIBUTE = "traceview.approval"
DECISION_ATTRIBUTE = "traceview.approval.decision"
TOOL_ATTRIBUTE = "traceview.approval.tool"
# Keys of an approval tool's arguments that name the tool being approved.
TOOL_ARGUMENT_KEYS = ("tool", "tool_name", "function", "function_name")
# Keys of an approval tool's result that carry its decision.
DECISION_RESULT_KEYS = ("approved", "approve", "granted", "decision", "status")


@dataclass(frozen=True, slots=True)
class Violation:
    span_id: str
    tool_name: str
    kind: str  # one of traceview.core.trace.SCOPE_VIOLATION_KINDS
    occurred_at: datetime | None


@dataclass(frozen=True, slots=True)
class Approval:
    """A human-approval step: whether it granted, and the tools it names (empty: none)."""

    granted: bool
    tools: tuple[str, ...] = ()


def tool_call_name(step: StepData) -> str:
    return step.tool_name or step.name or ""


def scope_matches(name: str, patterns: list[str]) -> bool:
    # The exact comparison first: a name such as "get[1]" is itself a valid glob that does not
    # match itself.
    return any(name == p or fnmatchcase(name, p) for p in patterns)


def scope_patterns(values: Any) -> list[str]:
    """The usable entries of a stored scope list (a JSON field: anything may be in it)."""
    if not isinstance(values, list | tuple):
        return []
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def scope_audit(steps: list[StepData], allowed: list[str], confirm: list[str]) -> list[Violation]:
    """The violations among `steps`, in step order. See the module docstring for the rules."""
    allowed, confirm = scope_patterns(allowed), scope_patterns(confirm)
    if not (allowed or confirm) or not any(s.kind == "tool" for s in steps):
        return []
    ordered = sorted(steps, key=step_order_key)
    requests = _McpRequests(ordered)
    pending: list[Approval] = []
    violations = []
    for step in ordered:
        name = tool_call_name(step)
        gated = step.kind == "tool" and scope_matches(name, confirm)
        approval = approval_of(step, gated=gated, requests=requests)
        if approval is not None:
            if approval.granted:
                pending.append(approval)
            continue
        if step.kind != "tool":
            continue
        if gated:
            used = _approval_for(name, pending)
            if used is None:
                violations.append(Violation(step.span_id, name, "unconfirmed", step.started_at))
            else:
                pending.remove(used)
        elif allowed and not scope_matches(name, allowed):
            violations.append(Violation(step.span_id, name, "not_allowed", step.started_at))
    return violations


def _approval_for(name: str, pending: list[Approval]) -> Approval | None:
    named = next((a for a in pending if name in a.tools), None)
    return named or next((a for a in pending if not a.tools), None)


# ---------------------------------------------------------------------------------------------
# Recognising a human-approval step


def approval_of(
    step: StepData, gated: bool = False, requests: _McpRequests | dict | None = None
) -> Approval | None:
    """The approval this step records, or None when it is not a human-approval step.

    `gated`: the step is a call of a tool needing confirmation, which its name never makes an
    approval. `requests`: tool names of the MCP approval requests in the trace, by request id.
    """
    attributes = step.attributes if isinstance(step.attributes, dict) else {}
    failed = step.status == "error"
    explicit = _explicit_approval(attributes)
    if explicit is not None:
        granted, tools = explicit
        return Approval(granted and not failed, tools)
    mcp = _mcp_response(attributes)
    if mcp is not None:
        tool = mcp.get("name") if isinstance(mcp.get("name"), str) else None
        if tool is None and requests:
            tool = requests.get(str(mcp.get("approval_request_id")))
        return Approval(mcp.get("approve") is True and not failed, (tool,) if tool else ())
    if gated or step.kind == "llm" or not _approval_named(step):
        return None
    return Approval(not failed and not _denied_by_result(step), _tools_named(step))


def _explicit_approval(attributes: dict) -> tuple[bool, tuple[str, ...]] | None:
    nested = attributes.get("traceview")
    nested = nested.get("approval") if isinstance(nested, dict) else None
    value = attributes.get(APPROVAL_ATTRIBUTE, nested)
    decision = attributes.get(DECISION_ATTRIBUTE)
    tools = attributes.get(TOOL_ATTRIBUTE)
    if value is None and decision is None and tools is None:
        return None
    if isinstance(value, dict):
        decision = value.get("decision", decision)
        tools = value.get("tool", tools)
        value = None
    # Every decision given must grant: `traceview.approval: true` beside a "denied" decision is
    # a denial, and an unknown decision grants nothing. Marked with only a tool name, it grants.
    verdicts = [_decision(v) for v in (value, decision) if v is not None]
    return all(v is True for v in verdicts), _names(tools)


def _decision(value: Any) -> bool | None:
    """True for a granting value, False for a denying one, None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in GRANTED:
            return True
        if word in DENIED:
            return False
    return None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v.strip() for v in value if isinstance(v, str) and v.strip())


def _words(text: str) -> set[str]:
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", text) if w}


def _approval_named(step: StepData) -> bool:
    for name in (step.name, step.tool_name):
        words = _words(name) if name else set()
        if APPROVAL_WORDS & words and (step.kind != "tool" or ASKING_WORDS & words):
            return True
    return False


def _tools_named(step: StepData) -> tuple[str, ...]:
    """The tools a name-recognised approval covers: named in its arguments, or, for a step that
    is not itself a tool call, its tool_name (when that is not the approval's own name)."""
    arguments = step.tool_arguments
    if isinstance(arguments, str) and arguments.lstrip().startswith("{"):
        arguments = _json(arguments)
    if isinstance(arguments, dict):
        for key in TOOL_ARGUMENT_KEYS:
            if names := _names(arguments.get(key)):
                return names
    if step.kind != "tool" and step.tool_name and not APPROVAL_WORDS & _words(step.tool_name):
        return (step.tool_name,)
    return ()


def _denied_by_result(step: StepData) -> bool:
    """An approval tool that answered "no": false, a denying word, or an object saying so."""
    result = step.tool_result
    if isinstance(result, str) and result.lstrip().startswith("{"):
        result = _json(result)
    if isinstance(result, dict):
        verdicts = [_decision(result[k]) for k in DECISION_RESULT_KEYS if k in result]
        return False in verdicts
    return _decision(result) is False


# OpenAI Responses API items: {"type": "mcp_approval_request", "id", "name", "arguments",
# "server_label"} and {"type": "mcp_approval_response", "approval_request_id", "approve",
# "reason"}, looked for in a step's attributes down to MCP_DEPTH levels of objects and lists,
# as objects or as JSON text.
MCP_REQUEST = "mcp_approval_request"
MCP_RESPONSE = "mcp_approval_response"
MCP_DEPTH = 4


def _mcp_objects(value: Any, kind: str, depth: int = MCP_DEPTH):
    if isinstance(value, str):
        # Only text that mentions the item type is worth parsing.
        if kind not in value or value.lstrip()[:1] not in ("{", "["):
            return
        value = _json(value)
    if isinstance(value, dict):
        if value.get("type") == kind:
            yield value
            return
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    if depth > 0:
        for child in children:
            yield from _mcp_objects(child, kind, depth - 1)


def _mcp_response(attributes: dict) -> dict | None:
    return next(_mcp_objects(attributes, MCP_RESPONSE), None)


class _McpRequests:
    """Tool names of the trace's MCP approval requests by request id, looked for only when an
    approval response needs one."""

    def __init__(self, steps: list[StepData]):
        self.steps = steps
        self.names: dict[str, str] | None = None

    def get(self, request_id: str) -> str | None:
        if self.names is None:
            self.names = {}
            for step in self.steps:
                for item in _mcp_objects(step.attributes, MCP_REQUEST):
                    if isinstance(item.get("name"), str) and item.get("id") is not None:
                        self.names[str(item["id"])] = item["name"]
        return self.names.get(request_id)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
