"""Grouping failed invocations into issues: normalization, fingerprints, counts, and concurrency
(several workers grouping the same fingerprint at once must make one issue)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections

from tests.pages_data import T0, store
from tests.triage.data import tool_failure
from traceview.classify.diagnosis import invocation_classify
from traceview.core.trace import InvocationData, StepData
from traceview.models import Agent, Diagnosis, Issue, IssueActivity, IssueInvocation
from traceview.triage import services as triage
from traceview.triage.services import (
    RootCause,
    fingerprint,
    message_normalize,
    root_cause_signature,
)


def test_it_normalizes_numbers_ids_hex_uuids_and_timestamps():
    a = message_normalize(
        "Order 4411 timed out after 31.5s at 2026-11-24T10:00:09Z (req 8f3a9c2d77e1, "
        "trace 123e4567-e89b-12d3-a456-426614174000, call_8fK2x, addr 0x7ffe12)"
    )
    b = message_normalize(
        "Order 97 timed out after 30s at 2026-11-25 11:02:00+01:00 (req 0b2c9d4e1f3a, "
        "trace 9f0e1d2c-3b4a-5968-7a6b-5c4d3e2f1a0b, call_1Qz9y, addr 0x1)"
    )
    assert a == b
    assert "<uuid>" in a and "<ts>" in a and "<hex>" in a and "<n>" in a and "<id>" in a
    assert "Order" in a and "timed out" in a


def test_it_keeps_the_words_that_tell_failures_apart():
    assert message_normalize("503 Service Unavailable") != message_normalize("404 Not Found")
    assert message_normalize("") == ""


def test_it_fingerprints_tool_failures_by_tool_and_error_type():
    def sig(**kw):
        cause = RootCause(category="tool", rule="tool.error_status", **kw)
        return fingerprint("bot", "tool", root_cause_signature(cause))

    base = sig(tool_name="lookup_order", error_type="HTTPError", error_message="503 for 4411")
    assert base == sig(tool_name="lookup_order", error_type="HTTPError", error_message="503 for 9")
    assert base != sig(tool_name="refund", error_type="HTTPError")
    assert base != sig(tool_name="lookup_order", error_type="TimeoutError")
    # Without an error type, the normalized message names the error.
    assert sig(tool_name="t", error_message="quota 5 of 10 used") == sig(
        tool_name="t", error_message="quota 7 of 10 used"
    )
    assert sig(tool_name="t", error_message="quota exceeded") != sig(
        tool_name="t", error_message="permission denied"
    )
    # The agent and the category are part of the key.
    cause = RootCause(category="tool", rule="tool.error_status", tool_name="t", error_type="E")
    assert fingerprint("a", "tool", root_cause_signature(cause)) != fingerprint(
        "b", "tool", root_cause_signature(cause)
    )


def test_it_fingerprints_budget_context_and_planning_by_their_cause():
    def sig(category, rule, **kw):
        return root_cause_signature(RootCause(category=category, rule=rule, **kw))

    # The limit hit, whatever the numbers.
    assert sig("budget", "budget.crossed", detail="max_steps 50 crossed at this step (51 used)") \
        == sig("budget", "budget.crossed", detail="max_steps 40 crossed at this step (44 used)")
    assert sig("budget", "budget.crossed", detail="max_steps 50 crossed at this step (51 used)") \
        != sig("budget", "budget.crossed", detail="max_cost_usd 2 crossed at this step (3 used)")
    # The model that overflowed.
    assert sig("context", "context.length_error", model="gpt-4o", detail="limit 128000") \
        == sig("context", "context.length_error", model="gpt-4o", detail="limit 8192")
    assert sig("context", "context.length_error", model="gpt-4o") \
        != sig("context", "context.length_error", model="claude-3-5-sonnet")
    # The looping call.
    assert sig("planning", "planning.repeated_call", tool_name="search") \
        != sig("planning", "planning.repeated_call", tool_name="fetch")
    assert sig("planning", "planning.repeated_call", tool_name="search", detail="q=1") \
        == sig("planning", "planning.repeated_call", tool_name="search", detail="q=2")


@pytest.mark.django_db
def test_it_groups_repeated_failures_into_one_issue(project, user, fail):
    Agent.objects.create(project=project, name="support-bot", owner=user)
    first = fail("t1", version="1.4.0", start=T0)
    fail("t2", version="1.5.0", start=T0 + timedelta(hours=2),
         message="503 Service Unavailable for order 9912")
    fail("t3", version="1.4.0", start=T0 + timedelta(hours=1), tool="refund_order")
    issues = {i.title: i for i in Issue.objects.all()}
    assert set(issues) == {"tool: lookup_order · HTTPError", "tool: refund_order · HTTPError"}
    issue = issues["tool: lookup_order · HTTPError"]
    assert issue.times_seen == 2
    assert issue.first_seen == T0 and issue.last_seen == T0 + timedelta(hours=2)
    assert issue.category == "tool" and issue.agent.name == "support-bot"
    # A new issue goes to the agent's owner.
    assert issue.assignee == user
    assert triage.issue_versions(issue) == [("1.5.0", 1), ("1.4.0", 1)]
    assert [i.trace_id for i in triage.issue_samples(issue)] == ["t2", "t1"]
    assert list(issue.activities.values_list("kind", flat=True).order_by("id")) == [
        "created", "assigned"
    ]
    assert IssueInvocation.objects.get(invocation=first).issue == issue


@pytest.mark.django_db
def test_it_groups_context_overflows_by_model(project):
    def overflow(trace_id, model, window):
        steps = [
            StepData("root", kind="agent", name="writer", started_at=T0, ended_at=T0,
                     status="error"),
            StepData("llm", "root", kind="llm", name="chat", model=model, started_at=T0,
                     ended_at=T0, status="error", error_type="BadRequestError",
                     error_message=f"This model's maximum context length is {window} tokens, "
                                   f"however you requested {window + 977} tokens"),
        ]
        return store(project, InvocationData(trace_id=trace_id, agent="writer", status="error",
                                             started_at=T0, ended_at=T0, steps=steps))

    overflow("c1", "gpt-4o", 128000)
    overflow("c2", "gpt-4o", 8192)
    overflow("c3", "gpt-4o-mini", 128000)
    assert sorted(Issue.objects.values_list("category", "times_seen")) == [
        ("context", 1), ("context", 2)
    ]
    assert Issue.objects.get(times_seen=2).signature[-1] == "gpt-4o"


@pytest.mark.django_db
def test_it_counts_an_invocation_once_however_often_it_is_grouped(fail):
    inv = fail("t1")
    triage.invocation_group(inv.id)
    invocation_classify(inv.id)
    issue = Issue.objects.get()
    assert issue.times_seen == 1
    assert issue.activities.filter(kind="created").count() == 1


@pytest.mark.django_db
def test_it_moves_an_invocation_whose_root_cause_changed_and_drops_a_success(project, fail):
    inv = fail("t1", tool="lookup_order")
    old = Issue.objects.get()
    # New data for the same run: the failing tool is another one.
    store(project, tool_failure("t1", tool="refund_order"))
    new = Issue.objects.exclude(id=old.id).get()
    old.refresh_from_db()
    assert (old.times_seen, new.times_seen) == (0, 1)
    # Then a new ruleset finds no failure in it: it leaves its issue.
    Diagnosis.objects.filter(invocation=inv).update(category="", root_span_id="")
    triage.invocation_group(inv.id)
    new.refresh_from_db()
    assert new.times_seen == 0
    assert not IssueInvocation.objects.filter(invocation=inv).exists()


@pytest.mark.django_db
def test_it_does_not_make_issues_for_successes(fail):
    fail("ok-run", status="ok")
    assert Issue.objects.count() == 0


def _race(n: int, target) -> list[BaseException]:
    """Run target(i) in n threads released together; return what they raised."""
    barrier = threading.Barrier(n, timeout=20)
    errors: list[BaseException] = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_it_makes_one_issue_when_workers_group_the_same_fingerprint_at_once(
    project, monkeypatch
):
    """Each worker checks that no issue exists, then all insert at once: one insert wins, the
    others recover from the unique violation and count into the winner's issue."""
    n = 4
    ids = [store(project, tool_failure(f"race-{i}"), classify=False).id for i in range(n)]
    from traceview.classify.diagnosis import invocation_classify as classify_only

    # Classify without grouping, so the race below is the grouping alone.
    monkeypatch.setattr("traceview.classify.diagnosis.invocations_group", lambda items: None)
    for inv_id in ids:
        classify_only(inv_id)
    assert Issue.objects.count() == 0

    gate = threading.Barrier(n, timeout=20)
    attempts = []

    def find_together(project_id, fp):
        # Every worker looks before any inserts: all of them go on to insert.
        attempts.append(fp)
        gate.wait()
        return None

    monkeypatch.setattr(triage, "_issue_find", find_together)
    errors = _race(n, lambda i: triage.invocation_group(ids[i]))
    assert errors == []
    assert len(attempts) == n
    issue = Issue.objects.get()
    assert issue.times_seen == n
    assert IssueInvocation.objects.filter(issue=issue).count() == n
    assert IssueActivity.objects.filter(kind="created").count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_counts_once_when_workers_group_the_same_invocation_at_once(project):
    inv = store(project, tool_failure("dup"))
    Issue.objects.update(times_seen=0)
    IssueInvocation.objects.all().delete()
    errors = _race(4, lambda i: triage.invocation_group(inv.id))
    assert errors == []
    assert Issue.objects.get().times_seen == 1


def test_it_compares_agent_versions_sensibly():
    assert triage.version_at_least("1.10.0", "1.9.0")
    assert triage.version_at_least("1.4", "1.4.0")
    assert not triage.version_at_least("1.3.9", "1.4")
    assert not triage.version_at_least("2.0.0rc1", "2.0.0")
    assert triage.version_at_least("v2.1", "2.0")
    assert triage.version_at_least("2026.11.24-build7", "2026.11.3-build9")
    assert not triage.version_at_least("release-a", "release-b")
    # Unknown on either side: nothing says the fix is in it.
    assert triage.version_at_least("", "1.0")


@pytest.mark.django_db
def test_it_keeps_invocations_of_other_projects_apart(project, fail):
    from traceview.models import Project

    other = Project.objects.create(name="other")
    fail("t1")
    store(other, tool_failure("t1"))
    assert sorted(Issue.objects.values_list("project__name", "times_seen")) == [
        ("acme", 1), ("other", 1)]
