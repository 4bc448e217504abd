"""The life of an issue: resolve, regress, ignore (for good, until a date, until a count),
assignment and comments, and two triagers acting at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from tests.pages_data import T0
from traceview.models import Issue, ProjectWebhook, WebhookDelivery
from traceview.triage import services as triage

pytestmark = pytest.mark.django_db


def later(hours: float):
    return timezone.now() + timedelta(hours=hours)


@pytest.fixture
def issue(fail):
    fail("t0", start=later(-48))
    return Issue.objects.get()


def test_it_reopens_a_resolved_issue_that_fails_again_as_regressed(issue, user, fail):
    issue = triage.issue_resolve(issue, user)
    assert issue.status == "resolved" and issue.resolved_at is not None
    fail("t1", start=later(1))
    issue.refresh_from_db()
    assert (issue.status, issue.is_regressed) == ("open", True)
    assert issue.regressed_at is not None and issue.resolved_at is None
    assert issue.times_seen == 2
    kinds = list(issue.activities.order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["resolved", "regressed"]


def test_it_does_not_reopen_for_a_late_report_of_an_older_failure(issue, user, fail):
    triage.issue_resolve(issue, user)
    fail("old", start=later(-47))  # ran before the resolution, reported after
    issue.refresh_from_db()
    assert issue.status == "resolved" and issue.times_seen == 2


def test_it_reopens_when_the_version_marked_fixed_or_a_newer_one_fails(issue, user, fail):
    triage.issue_resolve(issue, user, in_version="1.10.0")
    # Older agents still running are expected to fail: no regression.
    fail("t1", version="1.9.3", start=later(1))
    issue.refresh_from_db()
    assert issue.status == "resolved"
    fail("t2", version="1.10.1", start=later(2))
    issue.refresh_from_db()
    assert (issue.status, issue.is_regressed) == ("open", True)
    assert issue.activities.get(kind="regressed").data["agent_version"] == "1.10.1"


def test_it_keeps_an_issue_ignored_for_good(issue, user, fail):
    triage.issue_ignore(issue, user)
    fail("t1", start=later(1))
    fail("t2", start=later(2))
    issue.refresh_from_db()
    assert issue.status == "ignored" and issue.times_seen == 3


def test_it_wakes_an_issue_ignored_until_a_count(issue, user, fail):
    triage.issue_ignore(issue, user, more_times=2)
    fail("t1", start=later(1))
    issue.refresh_from_db()
    assert issue.status == "ignored"
    fail("t2", start=later(2))
    issue.refresh_from_db()
    assert issue.status == "open" and not issue.is_regressed


def test_it_wakes_an_issue_ignored_until_a_date(issue, user, project, fail):
    triage.issue_ignore(issue, user, until=later(24))
    fail("t1", start=later(1))
    issue.refresh_from_db()
    assert issue.status == "ignored"
    with time_machine.travel(later(25)):
        # Without a new failure, the queue wakes it when the date has passed.
        assert triage.issues_wake_expired([project]) == 1
    issue.refresh_from_db()
    assert issue.status == "open" and issue.ignored_until is None


def test_it_refuses_a_change_made_from_a_stale_page(issue, user, bob):
    seen = issue.version
    triage.issue_assign(issue, bob, bob, expected_version=seen)
    with pytest.raises(triage.IssueConflict) as exc:
        triage.issue_resolve(issue, user, expected_version=seen)
    assert exc.value.current.assignee == bob
    issue.refresh_from_db()
    assert issue.status == "open" and issue.assignee == bob


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_update_when_two_triagers_act_at_once(project, user, bob, fail):
    fail("t0")
    issue = Issue.objects.get()
    barrier = threading.Barrier(2, timeout=20)
    errors = []

    def act(fn):
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=act, args=(lambda: triage.issue_assign(issue, bob, user),)),
        threading.Thread(target=act, args=(lambda: triage.issue_resolve(issue, bob),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    issue.refresh_from_db()
    assert (issue.status, issue.assignee) == ("resolved", bob)
    assert issue.version == 3
    assert set(issue.activities.values_list("kind", flat=True)) >= {"assigned", "resolved"}


def test_it_keeps_comments_with_author_and_time(issue, user):
    comment = triage.issue_comment(issue, user, "  Looks like the order API is flaky. ")
    assert comment.author == user and comment.body == "Looks like the order API is flaky."
    assert comment.created_at is not None
    assert issue.activities.filter(kind="commented", actor=user).exists()
    with pytest.raises(ValueError):
        triage.issue_comment(issue, user, "   ")


def test_it_applies_bulk_actions(project, user, bob, fail):
    fail("a", tool="one")
    fail("b", tool="two")
    fail("c", tool="three")
    issues = list(Issue.objects.order_by("id"))
    assert triage.issues_bulk(issues[:2], "assign", user, assignee=bob) == 2
    triage.issues_bulk(issues[1:], "resolve", user)
    rows = {i.title.split(": ")[1].split(" ")[0]: i for i in Issue.objects.all()}
    assert (rows["one"].assignee, rows["one"].status) == (bob, "open")
    assert (rows["two"].assignee, rows["two"].status) == (bob, "resolved")
    assert (rows["three"].assignee, rows["three"].status) == (None, "resolved")
    with pytest.raises(ValueError):
        triage.issues_bulk(issues, "delete", user)


def test_it_queues_issues_by_category_owner_and_state(project, user, bob, fail):
    fail("a", tool="one", start=T0)
    fail("b", tool="two", start=T0 + timedelta(hours=1))
    fail("b2", tool="two", start=T0 + timedelta(hours=2))
    one, two = Issue.objects.order_by("id")
    triage.issue_assign(one, user, user)
    projects = [project]
    assert list(triage.issue_queue(projects, user, "mine")) == [one]
    assert list(triage.issue_queue(projects, user, "unassigned")) == [two]
    assert list(triage.issue_queue(projects, user, "tool", sort="count")) == [two, one]
    assert list(triage.issue_queue(projects, user, "tool", sort="first_seen")) == [two, one]
    assert list(triage.issue_queue(projects, user, "planning")) == []
    assert list(triage.issue_queue(projects, user, filters={"owner": str(user.id)})) == [one]
    triage.issue_resolve(two, bob)
    assert list(triage.issue_queue(projects, user, "resolved")) == [two]
    counts = triage.issue_queue_counts(projects, user)
    assert (counts["unresolved"], counts["tool"], counts["mine"], counts["unassigned"]) == (
        1, 1, 1, 0
    )


def test_it_records_webhook_deliveries_for_new_and_regressed_issues(project, user, fail):
    triage.webhook_configure(project, "https://hooks.example/hook")
    fail("t0", start=later(-48))
    issue = Issue.objects.get()
    triage.issue_resolve(issue, user)
    fail("t1", start=later(1))
    fail("t2", start=later(2))  # already open again: no second notification
    events = list(WebhookDelivery.objects.order_by("id").values_list("event", flat=True))
    assert events == ["issue.created", "issue.regressed"]
    payload = WebhookDelivery.objects.get(event="issue.regressed").payload
    assert payload["issue"]["id"] == issue.id and payload["issue"]["regressed"] is True
    ProjectWebhook.objects.update(is_active=False)
    fail("t3", tool="other")
    assert WebhookDelivery.objects.count() == 2
