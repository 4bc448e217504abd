"""Scope violations end to end on the database: written at classification for ok and failed runs,
rewritten (never duplicated) on reclassification, re-audited after a scope change (the task
called directly, and once through a real worker), shown on the invocation page, in the read API
and on the scope-violations page with its filters, isolated between projects, and escaped."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import wait_for
from tests.pages_data import T0, store
from traceview.agents import scope_audit
from traceview.agents.scope_audit import agent_scope_reaudit, scope_violation_page
from traceview.agents.tasks import audit_agent_scope
from traceview.classify.diagnosis import invocation_classify
from traceview.core.trace import InvocationData, StepData
from traceview.models import Agent, Invocation, Project, ScopeViolation

XSS = "<script>alert(1)</script>"


def run(
    trace_id: str,
    tools: list[str],
    status: str = "ok",
    agent: str = "support-bot",
    approve_before: int | None = None,
    start=T0,
) -> InvocationData:
    """A run that calls `tools` in order; with `approve_before`, a human-approval step (the
    native attribute) comes just before that call."""
    steps = [
        StepData(
            "root",
            kind="agent",
            name=agent,
            started_at=start,
            ended_at=start + timedelta(seconds=60),
            status=status,
        )
    ]
    for i, tool in enumerate(tools):
        at = start + timedelta(seconds=2 * i + 2)
        if approve_before == i:
            steps.append(
                StepData(
                    "approval",
                    "root",
                    kind="other",
                    name="human review",
                    started_at=at - timedelta(seconds=1),
                    ended_at=at,
                    status="ok",
                    attributes={"traceview.approval": "approved"},
                )
            )
        steps.append(
            StepData(
                f"call-{i}",
                "root",
                kind="tool",
                name=tool,
                tool_name=tool,
                tool_arguments={"n": i},
                started_at=at,
                ended_at=at + timedelta(seconds=1),
                status="ok",
            )
        )
    return InvocationData(
        trace_id=trace_id,
        agent=agent,
        agent_version="1.0",
        name=trace_id,
        status=status,
        started_at=start,
        ended_at=start + timedelta(seconds=60),
        steps=steps,
    )


def scoped_agent(project, allowed=("lookup_order", "refund"), confirm=("refund",), **kw):
    return Agent.objects.create(
        project=project,
        name=kw.pop("name", "support-bot"),
        allowed_tools=list(allowed),
        confirm_tools=list(confirm),
        **kw,
    )


def violations(inv) -> list[tuple[str, str, str]]:
    return sorted(
        ScopeViolation.objects.filter(invocation=inv).values_list("span_id", "tool_name", "kind")
    )


def test_it_records_violations_of_ok_and_failed_runs_at_classification(project):
    agent = scoped_agent(project)
    ok = store(project, run("ok-run", ["lookup_order", "refund", "delete_account"]))
    failed = store(
        project, run("failed-run", ["refund", "refund"], status="error", approve_before=1)
    )
    clean = store(project, run("clean-run", ["lookup_order", "refund"], approve_before=1))
    assert ok.status == "ok" and failed.status == "error"
    assert violations(ok) == [
        ("call-1", "refund", "unconfirmed"),
        ("call-2", "delete_account", "not_allowed"),
    ]
    assert violations(failed) == [("call-0", "refund", "unconfirmed")]
    assert violations(clean) == []
    assert (
        ok.scope_violation_count,
        failed.scope_violation_count,
        clean.scope_violation_count,
    ) == (2, 1, 0)
    row = ScopeViolation.objects.get(invocation=ok, kind="not_allowed")
    assert (row.project, row.agent) == (project, agent)
    assert row.occurred_at == T0 + timedelta(seconds=6)


def test_it_rewrites_violations_on_reclassification_without_duplicates(project):
    agent = scoped_agent(project)
    inv = store(project, run("again", ["refund", "wire_money"]))
    first = violations(inv)
    for _ in range(2):
        invocation_classify(inv.id)
    assert violations(inv) == first and len(first) == 2
    assert Invocation.objects.get(id=inv.id).scope_violation_count == 2
    # With the scope gone, reclassification removes the rows and zeroes the count.
    Agent.objects.filter(id=agent.id).update(allowed_tools=[], confirm_tools=[])
    invocation_classify(inv.id)
    assert violations(inv) == [] and Invocation.objects.get(id=inv.id).scope_violation_count == 0


def test_it_costs_no_query_to_audit_an_agent_without_scope(project):
    inv = store(project, run("unscoped", ["anything"]), classify=False)
    with CaptureQueriesContext(connection) as ctx:
        invocation_classify(inv.id)
    assert Invocation.objects.get(id=inv.id).classified_version > 0
    assert not [q for q in ctx.captured_queries if "scopeviolation" in q["sql"].lower()]


def test_it_reaudits_recent_invocations_when_the_scope_changes(
    browser_client, project, monkeypatch
):
    for i in range(5):
        store(project, run(f"r{i}", ["lookup_order", "refund"], approve_before=1 if i else None))
    store(project, run("quiet", ["lookup_order"]))
    old = store(project, run("old", ["refund"]))
    Invocation.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=40))
    agent = Agent.objects.get(name="support-bot")
    assert ScopeViolation.objects.count() == 0
    response = browser_client.post(
        f"/agents/{agent.id}/",
        {"category": "bounded", "allowed_tools": "lookup_order", "confirm_tools": "refund"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="agent-form",
    )
    assert "audit of the last 30 days of invocations is queued" in response.content.decode()
    # Chunks of two, so the keyset walk crosses chunk boundaries.
    monkeypatch.setattr(scope_audit, "SCOPE_AUDIT_CHUNK", 2)
    assert audit_agent_scope(agent.id) == 6
    flagged = ScopeViolation.objects.values_list("invocation__trace_id", "kind")
    assert sorted(flagged) == [("r0", "unconfirmed")]
    assert Invocation.objects.get(trace_id="old").scope_violation_count == 0
    # Safe to run twice; and narrowing the scope again flags the gated calls as not allowed.
    assert agent_scope_reaudit(agent.id) == 6 and ScopeViolation.objects.count() == 1
    Agent.objects.filter(id=agent.id).update(confirm_tools=[])
    agent_scope_reaudit(agent.id)
    counts = dict(Invocation.objects.values_list("trace_id", "scope_violation_count"))
    assert counts == {"r0": 1, "r1": 1, "r2": 1, "r3": 1, "r4": 1, "quiet": 0, "old": 0}
    assert set(ScopeViolation.objects.values_list("kind", flat=True)) == {"not_allowed"}
    assert ScopeViolation.objects.count() == 5


def test_it_finds_the_same_violations_at_classification_and_at_reaudit(project):
    approval = {"type": "mcp_approval_response", "approval_request_id": "r1", "approve": True}
    data = run("same", ["lookup_order", "mcp__db__drop", "mcp__db__drop", "refund"])
    data.steps.insert(
        2,
        StepData(
            "mcp-approval",
            "root",
            kind="other",
            name="turn",
            started_at=T0 + timedelta(seconds=3.5),
            attributes={"items": [approval]},
        ),
    )
    data.steps.insert(
        1,
        StepData(
            "ask",
            "root",
            kind="tool",
            name="request_approval",
            tool_name="request_approval",
            tool_result={"approved": False},
            tool_arguments={"tool": "refund"},
            started_at=T0 + timedelta(seconds=1.5),
        ),
    )
    agent = scoped_agent(project, allowed=["lookup_order"], confirm=["mcp__db__*", "refund"])
    inv = store(project, data)
    at_classification = violations(inv)
    assert at_classification == [
        ("call-2", "mcp__db__drop", "unconfirmed"),
        ("call-3", "refund", "unconfirmed"),
    ]
    ScopeViolation.objects.all().delete()
    Invocation.objects.filter(id=inv.id).update(scope_violation_count=0)
    agent_scope_reaudit(agent.id)
    assert violations(inv) == at_classification
    assert Invocation.objects.get(id=inv.id).scope_violation_count == 2


def test_it_reaudits_through_a_real_worker_after_the_scope_is_saved(
    celery_worker, project, client, user
):
    inv = store(project, run("worker-run", ["lookup_order", "delete_account"]))
    agent = Agent.objects.get(name="support-bot")
    client.force_login(user)
    response = client.post(
        f"/agents/{agent.id}/", {"category": "bounded", "allowed_tools": "lookup_order"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?scope=reaudit")
    assert "is queued" in client.get(response["Location"]).content.decode()
    wait_for(
        lambda: Invocation.objects.get(id=inv.id).scope_violation_count == 1, worker=celery_worker
    )
    assert violations(inv) == [("call-1", "delete_account", "not_allowed")]


def test_it_queues_no_reaudit_when_the_scope_is_unchanged(
    browser_client, project, django_capture_on_commit_callbacks
):
    agent = scoped_agent(project)
    with django_capture_on_commit_callbacks() as callbacks:
        response = browser_client.post(
            f"/agents/{agent.id}/",
            {
                "category": "open",
                "allowed_tools": "lookup_order\nrefund",
                "confirm_tools": "refund",
            },
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET="agent-form",
        )
    body = response.content.decode()
    assert "Saved." in body and "is queued" not in body and callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        browser_client.post(
            f"/agents/{agent.id}/", {"category": "open", "allowed_tools": "lookup_order"}
        )
    assert len(callbacks) == 1


def test_it_flags_the_invocation_page_and_the_read_api(browser_client, api, project):
    scoped_agent(project)
    inv = store(project, run("flagged", ["lookup_order", XSS, "refund"]))
    html = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert 'id="scope-violations"' in html and "Tool scope violated by 2 calls" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
    assert "?step=call-1" in html and "outside the allowed tools" in html
    assert "called without a preceding human approval" in html
    assert html.count('scope-violation"') == 2 and html.count("badge scope-unconfirmed") >= 2
    detail = browser_client.get(
        f"/invocations/{inv.id}/?step=call-2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="step-detail"
    ).content.decode()
    assert "scope-flag" in detail and "unconfirmed" in detail
    data = api.get(f"/api/v1/invocations/{inv.id}").json()
    assert [(v["span_id"], v["tool_name"], v["kind"]) for v in data["scope_violations"]] == [
        ("call-1", XSS, "not_allowed"),
        ("call-2", "refund", "unconfirmed"),
    ]
    clean = store(project, run("clean", ["lookup_order"]))
    assert (
        'id="scope-violations"'
        not in browser_client.get(f"/invocations/{clean.id}/").content.decode()
    )
    assert api.get(f"/api/v1/invocations/{clean.id}").json()["scope_violations"] == []


def test_it_requires_login_for_the_scope_violations_page(client, db):
    response = client.get("/scope-violations/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_lists_and_filters_violations_newest_first(browser_client, project):
    scoped_agent(project)
    scoped_agent(project, name="billing-bot", allowed=["charge"], confirm=[])
    store(project, run("early", ["delete_account"], start=T0))
    store(project, run("late", ["refund"], start=T0 + timedelta(hours=2)))
    store(
        project, run("billing", ["refund_all"], agent="billing-bot", start=T0 + timedelta(hours=1))
    )
    billing = Agent.objects.get(name="billing-bot")

    def listed(query=""):
        html = browser_client.get(f"/scope-violations/{query}").content.decode()
        return [t for t in ("late", "billing", "early") if f">{t}</a>" in html], html

    names, html = listed()
    assert names == ["late", "billing", "early"]
    assert html.index(">late</a>") < html.index(">billing</a>") < html.index(">early</a>")
    assert listed(f"?agent={billing.id}")[0] == ["billing"]
    assert listed("?kind=unconfirmed")[0] == ["late"]
    assert listed("?kind=not_allowed")[0] == ["billing", "early"]
    window = "?occurred_after=2026-11-24T10:30&occurred_before=2026-11-24T11:30"
    assert listed(window)[0] == ["billing"]
    assert listed(f"?project={project.id}&kind=not_allowed&agent={billing.id}")[0] == ["billing"]
    # Each row links to its invocation and the offending step.
    late = Invocation.objects.get(trace_id="late")
    assert f'href="/invocations/{late.id}/?step=call-0"' in html


def test_it_pages_by_keyset_across_projects(project, user):
    other = Project.objects.create(name="beta")
    scoped_agent(project)
    scoped_agent(other)
    for i in range(3):
        store(project, run(f"a{i}", ["nope"], start=T0 + timedelta(minutes=2 * i)))
        store(other, run(f"b{i}", ["nope"], start=T0 + timedelta(minutes=2 * i + 1)))
    seen, after = [], None
    while True:
        page = scope_violation_page([project, other], {}, after=after, size=4)
        seen += [v.invocation.trace_id for v in page.rows]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == ["b2", "a2", "b1", "a1", "b0", "a0"]
    back = scope_violation_page([project, other], {}, before=after, size=4)
    assert [v.invocation.trace_id for v in back.rows] == ["b2", "a2", "b1"]
    assert back.prev_cursor is None and back.next_cursor is not None
    only = scope_violation_page([project], {"project": other.id})
    assert only.rows == []


def test_it_hides_other_projects_violations(browser_client, project, bob):
    other = Project.objects.create(name="beta")
    other.members.add(bob)
    scoped_agent(other, name="secret-bot")
    secret = store(other, run("secret-run", ["exfiltrate"], agent="secret-bot"))
    scoped_agent(project)
    store(project, run("mine", ["delete_account"]))
    foreign = Agent.objects.get(name="secret-bot")
    html = browser_client.get("/scope-violations/").content.decode()
    assert ">mine</a>" in html and "secret-run" not in html and "exfiltrate" not in html
    assert "secret-bot" not in html
    for query in (f"?project={other.id}", f"?agent={foreign.id}"):
        html = browser_client.get(f"/scope-violations/{query}").content.decode()
        assert "secret-run" not in html
    assert browser_client.get(f"/invocations/{secret.id}/").status_code == 404
    # Bob, a member of both, sees both.
    browser_client.force_login(bob)
    html = browser_client.get("/scope-violations/").content.decode()
    assert "secret-run" in html and ">mine</a>" in html


def test_it_escapes_hostile_names_on_the_list_and_links_from_the_agent_page(
    browser_client, project
):
    agent = scoped_agent(project, name=XSS)
    store(project, run(XSS, [XSS], agent=XSS, start=timezone.now() - timedelta(hours=1)))
    html = browser_client.get("/scope-violations/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
    page = browser_client.get(f"/agents/{agent.id}/").content.decode()
    assert 'id="agent-scope-violations"' in page and "1 in the last 30 days" in page
    assert f"/scope-violations/?agent={agent.id}&amp;occurred_after=" in page


def test_it_ignores_a_cursor_that_does_not_parse(browser_client, project):
    scoped_agent(project)
    store(project, run("only", ["nope"]))
    for cursor in ("garbage", "W10", "WyJ4IiwgMV0"):
        html = browser_client.get(f"/scope-violations/?after={cursor}").content.decode()
        assert ">only</a>" in html
