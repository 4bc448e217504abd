"""What the sweep finds (issue 15, items 4 and 5): a message lost by the broker after
TRACEVIEW_STALE_ENQUEUE_S (a minute by default, not ten), and a failure whose diagnosis was
stored by a worker that died before grouping it."""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.classify.diagnosis import invocations_classify, invocations_due
from traceview.models import Diagnosis, Invocation, Issue, IssueInvocation


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_it_enqueues_again_a_message_lost_more_than_a_minute_ago(project):
    inv = store(project, support_run(project, "lost"), classify=False)
    # Enqueued at ingest; the broker lost the message.
    Invocation.objects.filter(id=inv.id).update(enqueued_at=_ago(30))
    assert invocations_due() == []
    Invocation.objects.filter(id=inv.id).update(enqueued_at=_ago(90))
    assert invocations_due() == [inv.id]


@override_settings(TRACEVIEW_STALE_ENQUEUE_S=5)
def test_it_takes_the_stale_enqueue_time_from_the_setting(project):
    inv = store(project, support_run(project, "lost"), classify=False)
    Invocation.objects.filter(id=inv.id).update(enqueued_at=_ago(6))
    assert invocations_due() == [inv.id]


def test_it_finds_a_failure_diagnosed_but_never_grouped(project):
    inv = store(project, support_run(project, "died"))
    assert IssueInvocation.objects.filter(invocation=inv).exists()
    # What a worker killed between the diagnosis' commit and grouping leaves behind: grouping
    # links the invocation and counts it in one transaction, so neither happened.
    link = IssueInvocation.objects.get(invocation=inv)
    Issue.objects.filter(id=link.issue_id).update(times_seen=0)
    link.delete()
    Diagnosis.objects.filter(invocation=inv).update(classified_at=_ago(120))
    Invocation.objects.filter(id=inv.id).update(enqueued_at=_ago(120))
    assert invocations_due() == [inv.id]

    invocations_classify(invocations_due())
    link = IssueInvocation.objects.get(invocation=inv)
    assert link.issue.times_seen == 1
    assert Diagnosis.objects.filter(invocation=inv).count() == 1
    assert invocations_due() == []


def test_it_leaves_alone_a_failure_a_worker_is_grouping_now(project):
    inv = store(project, support_run(project, "busy"))
    IssueInvocation.objects.filter(invocation=inv).delete()
    # Diagnosed a moment ago: its worker is still at it.
    Invocation.objects.filter(id=inv.id).update(enqueued_at=_ago(120))
    assert invocations_due() == []
