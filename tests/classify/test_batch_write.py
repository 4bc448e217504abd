"""The write side of a batch: one statement claims the rows still as they were read."""

import pytest
from django.db import connection

from ingest.store import invocations_store
from traceview.classify.diagnosis import invocations_classify
from traceview.models import Diagnosis, Invocation, InvocationSearch, Project

from .builders import Run


def _runs(n):
    out = []
    for k in range(n):
        run = Run(status="error" if k % 2 else "ok")
        run.inv.trace_id = f"batch-{k}"
        run.llm("Let me look.")
        if k % 2:
            run.tool("lookup_order", {"id": k}, None, status="error", error_type="HTTPError",
                     error_message="503 Service Unavailable")
        else:
            run.tool("lookup_order", {"id": k}, {"status": "shipped"})
        run.llm("Here is what the order service said.")
        out.append(run.inv)
    return out


@pytest.mark.django_db
def test_it_stores_a_batch_and_skips_rows_that_changed_since_they_were_read(
        django_assert_max_num_queries, monkeypatch):
    project = Project.objects.create(name="batch")
    invocations_store(project, _runs(6))
    rows = {i.trace_id: i for i in Invocation.objects.filter(project=project)}
    ids = sorted(i.id for i in rows.values())
    stale = rows["batch-3"].id
    done_before = rows["batch-0"]
    Invocation.objects.filter(id=done_before.id).update(completed_at="2026-01-01T00:00:00Z")

    # New data for one of them lands while the rules run: its row moves on after being read.
    from traceview.classify import diagnosis

    real = diagnosis.invocations_canonical

    def canonical_then_new_data(invocations):
        loaded = real(invocations)
        Invocation.objects.filter(id=stale).update(data_version=99)
        return loaded

    monkeypatch.setattr(diagnosis, "invocations_canonical", canonical_then_new_data)
    # Load, steps, the claim, search, diagnoses, then grouping of the 2 failures kept.
    with django_assert_max_num_queries(40):
        stored = invocations_classify(ids)

    assert set(stored) == set(ids) - {stale}
    after = {i.id: i for i in Invocation.objects.filter(project=project)}
    assert after[stale].classified_version == 0 and not Diagnosis.objects.filter(
        invocation_id=stale).exists()
    for inv_id in set(ids) - {stale}:
        inv = after[inv_id]
        assert inv.classified_version == inv.data_version
        assert inv.completed_at is not None
        assert inv.category == stored[inv_id].category
    assert {after[i].category for i in ids if i != stale} == {"", "tool"}
    assert after[done_before.id].completed_at.year == 2026 and (
        after[done_before.id].completed_at.month, after[done_before.id].completed_at.day) == (1, 1)


@pytest.mark.django_db
def test_it_groups_a_batch_into_its_issues_counting_each_invocation_once(
        django_assert_max_num_queries):
    from traceview.triage.models import Issue, IssueActivity, IssueInvocation

    project = Project.objects.create(name="batch-groups")
    invocations_store(project, _runs(12))
    ids = sorted(Invocation.objects.filter(project=project).values_list("id", flat=True))

    # 6 failures of one kind: one issue read, created, linked and counted for the lot.
    with django_assert_max_num_queries(25):
        invocations_classify(ids)

    [issue] = Issue.objects.filter(project=project)
    assert issue.times_seen == 6 and issue.category == "tool"
    assert IssueInvocation.objects.filter(issue=issue).count() == 6
    assert IssueActivity.objects.filter(issue=issue, kind="created").count() == 1
    assert issue.first_seen <= issue.last_seen

    # Classified again (the sweep, a retried task): linked already, counted once, and the
    # links read for the lot (load, steps, the claim, search, diagnoses, issues, links and the
    # transaction's savepoint), not five or six statements a failure.
    with django_assert_max_num_queries(10):
        invocations_classify(ids)
    issue.refresh_from_db()
    assert issue.times_seen == 6
    assert IssueInvocation.objects.filter(issue=issue).count() == 6

    # A worker died between storing a diagnosis and grouping it: classified again, it is linked
    # and counted.
    IssueInvocation.objects.filter(invocation_id=ids[1]).delete()
    invocations_classify(ids)
    issue.refresh_from_db()
    assert issue.times_seen == 7
    assert IssueInvocation.objects.filter(issue=issue).count() == 6


def _row_places(ids) -> dict:
    """Where each search row sits (PostgreSQL's ctid): an UPDATE writes a new row version."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT invocation_id, ctid::text FROM traceview_invocationsearch "
                       "WHERE invocation_id = ANY(%s)", [ids])
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_it_writes_new_and_changed_search_documents_and_leaves_the_rest():
    project = Project.objects.create(name="search-write")
    invocations_store(project, _runs(3))
    ids = sorted(Invocation.objects.filter(project=project).values_list("id", flat=True))
    invocations_classify(ids[:2])
    first = dict(InvocationSearch.objects.values_list("invocation_id", "document"))
    assert set(first) == set(ids[:2])
    place = _row_places(ids)

    # Late data adds words to batch-1; batch-0 is classified again unchanged; batch-2 is new.
    late = _runs(2)[1]
    late.steps = [late.steps[-1]]
    late.steps[0].span_id = "late"
    late.steps[0].output = {"role": "assistant", "content": "Refund zanzibar issued."}
    invocations_store(project, [late])
    invocations_classify(ids)

    now = dict(InvocationSearch.objects.values_list("invocation_id", "document"))
    assert set(now) == set(ids)
    assert now[ids[0]] == first[ids[0]]
    assert "zanzibar" in now[ids[1]] and "zanzibar" not in first[ids[1]]
    if connection.vendor == "postgresql":
        # The trigger parsed what was written: each vector is its document's.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT invocation_id, vector = to_tsvector('simple', left(document, 100000)), "
                "vector @@ 'zanzibar'::tsquery FROM traceview_invocationsearch "
                "WHERE invocation_id = ANY(%s) ORDER BY invocation_id", [ids])
            assert cursor.fetchall() == [(ids[0], True, False), (ids[1], True, True),
                                         (ids[2], True, False)]
        # The unchanged document was not written again (nor parsed): its row did not move.
        after = _row_places(ids)
        assert after[ids[0]] == place[ids[0]] and after[ids[1]] != place[ids[1]]
