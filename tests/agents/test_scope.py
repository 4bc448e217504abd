"""The tool-scope rules (agents.scope), pure: which calls are outside the allowed tools, which
gated calls lack a preceding human approval, and what the trace counts as an approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from traceview.agents.scope import approval_of, scope_audit
from traceview.core.trace import StepData

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Trace:
    """Steps in the order they are added, each a second after the previous one."""

    def __init__(self):
        self.steps: list[StepData] = []

    def add(self, kind: str, name: str | None = None, **kw) -> str:
        span = kw.pop("span_id", f"s{len(self.steps)}")
        kw.setdefault("status", "ok")
        kw.setdefault("started_at", T0 + timedelta(seconds=len(self.steps)))
        self.steps.append(StepData(span, kind=kind, name=name, seq=len(self.steps), **kw))
        return span

    def tool(self, name: str, **kw) -> str:
        return self.add("tool", name, tool_name=name, **kw)

    def approval(self, **attributes) -> str:
        return self.add(
            "other",
            "human review",
            attributes={k.replace("__", "."): v for k, v in attributes.items()},
        )


def kinds(violations) -> list[tuple[str, str]]:
    return [(v.tool_name, v.kind) for v in violations]


def test_it_flags_calls_outside_the_allowed_tools():
    t = Trace()
    t.add("agent", "support-bot")
    t.add("llm", "chat")
    t.tool("lookup_order")
    t.tool("delete_account")
    t.add("tool", "from-the-name-only")
    found = scope_audit(t.steps, ["lookup_order", "search_*"], [])
    assert kinds(found) == [
        ("delete_account", "not_allowed"),
        ("from-the-name-only", "not_allowed"),
    ]
    assert found[0].span_id == "s3" and found[0].occurred_at == T0 + timedelta(seconds=3)


def test_it_matches_globs_case_sensitively_and_exact_names_with_glob_characters():
    t = Trace()
    t.tool("mcp__github__create_issue")
    t.tool("mcp__GitHub__create_issue")
    t.tool("get[1]")
    t.tool("mcp__slack__post")
    assert kinds(scope_audit(t.steps, ["mcp__github__*", "get[1]"], [])) == [
        ("mcp__GitHub__create_issue", "not_allowed"),
        ("mcp__slack__post", "not_allowed"),
    ]


def test_it_audits_nothing_without_a_scope_and_only_gated_tools_without_an_allowed_list():
    t = Trace()
    t.tool("anything")
    t.tool("refund")
    assert scope_audit(t.steps, [], []) == []
    # Junk in the stored lists is ignored, not matched.
    assert scope_audit(t.steps, [None, "", 3], ["  "]) == []
    assert kinds(scope_audit(t.steps, [], ["refund"])) == [("refund", "unconfirmed")]


def test_it_treats_gated_tools_as_allowed_and_flags_nameless_calls():
    t = Trace()
    t.approval(traceview__approval=True)
    t.tool("refund")
    t.add("tool")
    assert kinds(scope_audit(t.steps, ["lookup_order"], ["refund"])) == [("", "not_allowed")]


def test_it_confirms_a_gated_call_only_with_an_approval_before_it():
    t = Trace()
    t.tool("refund")
    t.approval(traceview__approval=True)
    t.tool("refund")
    t.tool("refund")
    found = scope_audit(t.steps, [], ["refund"])
    # The first call came before the approval; the third found it used by the second.
    assert [v.span_id for v in found] == ["s0", "s3"]
    assert {v.kind for v in found} == {"unconfirmed"}


def test_it_orders_steps_by_time_not_by_arrival():
    t = Trace()
    t.tool("refund", started_at=T0 + timedelta(seconds=10))
    t.add("other", "approval", started_at=T0 + timedelta(seconds=5))
    assert scope_audit(t.steps, [], ["refund"]) == []
    late = Trace()
    late.tool("refund", started_at=T0)
    late.add("other", "approval", started_at=T0 + timedelta(seconds=5))
    assert kinds(scope_audit(late.steps, [], ["refund"])) == [("refund", "unconfirmed")]


def test_it_lets_an_approval_naming_a_tool_cover_only_that_tool():
    t = Trace()
    t.approval(**{"traceview.approval.tool": "refund"})
    t.tool("wire_money")
    t.tool("refund")
    assert kinds(scope_audit(t.steps, [], ["refund", "wire_money"])) == [
        ("wire_money", "unconfirmed")
    ]


def test_it_prefers_the_approval_naming_the_tool_over_an_unnamed_one():
    t = Trace()
    t.approval(traceview__approval=True)
    t.approval(**{"traceview.approval": {"decision": "approved", "tool": ["refund"]}})
    t.tool("refund")
    t.tool("wire_money")
    # refund used its own approval, so the unnamed one is still there for wire_money.
    assert scope_audit(t.steps, [], ["refund", "wire_money"]) == []


def test_it_does_not_count_denials_as_approvals():
    denials = [
        {"traceview.approval": False},
        {"traceview.approval": "Rejected"},
        {"traceview.approval.decision": "declined"},
        {"traceview.approval": True, "traceview.approval.decision": "denied"},
        {"traceview.approval": "maybe later"},
        {"traceview": {"approval": {"decision": "no"}}},
    ]
    for attributes in denials:
        t = Trace()
        t.add("other", "review", attributes=attributes)
        t.tool("refund")
        assert kinds(scope_audit(t.steps, [], ["refund"])) == [("refund", "unconfirmed")], (
            attributes
        )
    failed = Trace()
    failed.add("other", "review", attributes={"traceview.approval": True}, status="error")
    failed.tool("refund")
    assert len(scope_audit(failed.steps, [], ["refund"])) == 1


def test_it_recognises_approval_steps_by_the_words_of_their_names():
    for name in (
        "human_approval",
        "requestApproval",
        "Ask for confirmation",
        "HITLApprove",
        "approve-refund",
        "user confirmed",
    ):
        t = Trace()
        t.add("other", name)
        t.tool("refund")
        assert scope_audit(t.steps, [], ["refund"]) == [], name
    for name in ("approver_list", "disapproved", "confirmations_sent_count", "review"):
        t = Trace()
        t.add("other", name)
        t.tool("refund")
        assert len(scope_audit(t.steps, [], ["refund"])) == 1, name


def test_it_audits_a_tool_call_named_like_an_approval_unless_it_asks_someone():
    t = Trace()
    t.tool("approve_refund")
    t.tool("refund")
    # The agent approving its own refund is an action: out of scope, and no approval.
    found = scope_audit(t.steps, ["lookup_order"], ["refund"])
    assert kinds(found) == [("approve_refund", "not_allowed"), ("refund", "unconfirmed")]
    for name in ("request_approval", "askHumanConfirmation", "await_user_approval"):
        t = Trace()
        t.tool(name)
        t.tool("refund")
        assert scope_audit(t.steps, ["lookup_order"], ["refund"]) == [], name


def test_it_never_takes_a_model_call_or_a_gated_call_for_an_approval_by_name():
    t = Trace()
    t.add("llm", "confirm intent")
    t.tool("confirm_order")
    t.tool("confirm_order")
    found = scope_audit(t.steps, [], ["confirm_order"])
    assert kinds(found) == [("confirm_order", "unconfirmed")] * 2


def test_it_reads_an_approval_tools_arguments_and_its_answer():
    t = Trace()
    t.tool("request_approval", tool_arguments={"tool": "wire_money", "amount": 10})
    t.tool(
        "request_approval",
        tool_arguments='{"tool_name": "refund"}',
        tool_result={"approved": False, "reason": "too much"},
    )
    t.tool("refund")
    t.tool("wire_money")
    # The approval tools are not audited themselves though they are not in the allowed list.
    found = scope_audit(t.steps, ["lookup_order"], ["refund", "wire_money"])
    assert kinds(found) == [("refund", "unconfirmed")]
    for answer in (False, "denied", '{"decision": "rejected"}'):
        t = Trace()
        t.tool("ask_human_approval", tool_result=answer)
        t.tool("refund")
        assert len(scope_audit(t.steps, [], ["refund"])) == 1, answer


def test_it_takes_a_non_tool_steps_tool_name_as_the_tool_it_approves():
    t = Trace()
    t.add("other", "human approval", tool_name="refund")
    t.tool("wire_money")
    t.tool("refund")
    assert kinds(scope_audit(t.steps, [], ["refund", "wire_money"])) == [
        ("wire_money", "unconfirmed")
    ]


def test_it_understands_openai_mcp_approval_responses_in_attributes():
    t = Trace()
    t.add(
        "other",
        "response",
        attributes={
            "data": {
                "output": [
                    {
                        "type": "mcp_approval_request",
                        "id": "mcpr_1",
                        "name": "mcp__github__delete_repo",
                        "server_label": "github",
                        "arguments": "{}",
                    }
                ]
            }
        },
    )
    t.add(
        "other",
        "turn",
        attributes={
            "data": '{"type": "mcp_approval_response", '
            '"approval_request_id": "mcpr_1", "approve": true}'
        },
    )
    t.tool("mcp__github__create_issue")
    t.tool("mcp__github__delete_repo")
    found = scope_audit(t.steps, [], ["mcp__github__*"])
    # The response answered the request for delete_repo: it covers that tool only.
    assert kinds(found) == [("mcp__github__create_issue", "unconfirmed")]
    denied = Trace()
    denied.add(
        "custom",
        attributes={"type": "mcp_approval_response", "approve": False, "approval_request_id": "x"},
    )
    denied.tool("mcp__github__delete_repo")
    assert len(scope_audit(denied.steps, [], ["mcp__github__*"])) == 1


def test_it_describes_what_an_approval_step_grants():
    step = StepData("a", kind="other", name="x", attributes={"traceview.approval.tool": "refund"})
    approval = approval_of(step)
    assert approval.granted and approval.tools == ("refund",)
    assert approval_of(StepData("b", kind="tool", name="lookup_order")) is None
    assert approval_of(StepData("c", kind="tool", name="approve"), gated=True) is None
