"""The purge on PostgreSQL's partitioned steps: a past period whose invocations are all expired
loses its partitions whole, and everything else those invocations held goes with them; a period
with one live invocation (still receiving data, or another project's kept longer) stays, and its
expired invocations go by the batches; a request adding to an old invocation while the purge
decides is never lost; a drop that would keep ingest waiting gives up and tries later."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ingest.store import invocations_store
from tests.conftest import wait_for
from tests.pages_data import store
from tests.retention.test_purge import TABLES, counts
from tests.triage.data import tool_failure
from traceview.core import partitions
from traceview.models import (
    Agent,
    Correction,
    Invocation,
    Issue,
    JudgeVerdict,
    Project,
    Step,
    StepPayload,
)
from traceview.retention import purge
from traceview.retention.purge import invocations_purge

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="partitions are PostgreSQL's; SQLite's purge deletes rows in batches "
           "(tests/retention/test_purge.py)")


@pytest.fixture
def old(db):
    """A time in a month that ended long ago, its partitions made."""
    at = partitions.month_at(partitions.months_of(timezone.now() - timedelta(days=100))) \
        + timedelta(days=3)
    partitions.partitions_ensure(at, at)
    return at


@pytest.fixture
def scoped(project):
    project.retention_days = 30
    project.save()
    Agent.objects.create(project=project, name="support-bot", allowed_tools=["search_*"])
    return project


def _old_run(project: Project, trace_id: str, created, *, extras: bool = False) -> Invocation:
    """A failed run, classified (search, diagnosis, scope violation, issue link), received at
    `created` and not since: it and its steps moved to that month's partition."""
    inv = store(project, tool_failure(trace_id))
    if extras:
        Correction.objects.create(invocation=inv, category="tool", root_span_id="tool-1")
        JudgeVerdict.objects.create(invocation=inv, project=project, data_digest="d" * 64,
                                    model="m", prompt_version="judge-1", trigger="on_demand")
    Invocation.objects.filter(id=inv.id).update(created_at=created, last_data_at=created)
    Step.objects.filter(invocation=inv).update(invocation_created_at=created)
    StepPayload.objects.filter(step__invocation=inv).update(invocation_created_at=created)
    inv.refresh_from_db()
    with connection.cursor() as cursor:
        # The test's one transaction holds these moves' deferred foreign-key checks, which
        # PostgreSQL will not drop a table under; the purge's own transactions start with none.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return inv


def _partition(table: str, at) -> bool:
    name = partitions.partition_name(table, partitions.period_start(at))
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def _dangling() -> dict[str, int]:
    """Rows whose invocation (or step) is gone: none, ever."""
    out = {"payloads": StepPayload.objects.exclude(
        step_id__in=Step.objects.values("id")).count()}
    for name, model in TABLES.items():
        if model not in (Invocation, StepPayload):
            out[name] = model.objects.exclude(
                invocation_id__in=Invocation.objects.values("id")).count()
    return out


def test_it_drops_a_period_whose_invocations_are_all_expired(scoped, old):
    project = scoped
    gone = [_old_run(project, f"old-{i}", old, extras=i == 0) for i in range(3)]
    new = store(project, tool_failure("new"))
    issue = Issue.objects.get(project=project)
    seen = issue.times_seen
    month = partitions.partition_name("traceview_step", partitions.period_start(old))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {month}")
        assert cursor.fetchone()[0] == 12

    result = invocations_purge()

    # Empty past periods (other tests' leftovers) may go too: they hold no steps.
    assert result.partitions >= 1 and (result.invocations, result.steps) == (3, 12)
    assert not _partition("traceview_step", old)
    assert not _partition("traceview_steppayload", old)
    assert list(Invocation.objects.values_list("id", flat=True)) == [new.id]
    assert not Invocation.objects.filter(id__in=[i.id for i in gone]).exists()
    assert counts(project) == {"invocations": 1, "steps": 4, "payloads": 4, "search": 1,
                               "diagnoses": 1, "violations": 1, "issue_links": 1,
                               "corrections": 0, "verdicts": 0}
    assert _dangling() == dict.fromkeys(_dangling(), 0)
    issue.refresh_from_db()
    assert issue.times_seen == seen
    # The current period is never dropped, and nothing more is due.
    assert invocations_purge().invocations == 0
    assert _partition("traceview_step", timezone.now())


def test_it_keeps_a_period_with_an_invocation_still_receiving_data(scoped, old):
    project = scoped
    expired = _old_run(project, "expired", old)
    live = _old_run(project, "live", old)
    later = tool_failure("live")
    later.steps[0].span_id = "late-span"
    invocations_store(project, [later])

    result = invocations_purge()

    assert result.invocations == 1
    assert _partition("traceview_step", old)
    assert not Invocation.objects.filter(id=expired.id).exists()
    assert not Step.objects.filter(invocation_id=expired.id).exists()
    # Its steps from months ago and today's, all in its month's partition, all kept.
    steps = Step.objects.filter(invocation=live)
    assert steps.count() == 5 and {s.invocation_created_at for s in steps} == {old}
    assert StepPayload.objects.filter(step__invocation=live).count() == 5
    assert _dangling() == dict.fromkeys(_dangling(), 0)


def test_it_keeps_a_period_another_project_keeps(scoped, old):
    forever = Project.objects.create(name="forever", retention_days=0)
    expired = _old_run(scoped, "expired", old)
    kept = _old_run(forever, "kept", old)

    result = invocations_purge()

    assert result.invocations == 1 and _partition("traceview_step", old)
    assert not Invocation.objects.filter(id=expired.id).exists()
    assert counts(forever) == {"invocations": 1, "steps": 4, "payloads": 4, "search": 1,
                               "diagnoses": 1, "violations": 0, "issue_links": 1,
                               "corrections": 0, "verdicts": 0}
    assert Invocation.objects.filter(id=kept.id).exists()


@pytest.mark.django_db(transaction=True)
def test_a_request_adding_to_an_old_invocation_while_the_purge_decides_is_kept(project):
    """Ingest holds its month's shared lock from before it writes until it commits; the purge
    waits for it, then reads the invocation as live and drops nothing."""
    project.retention_days = 30
    project.save()
    at = partitions.month_at(partitions.months_of(timezone.now() - timedelta(days=100))) \
        + timedelta(days=3)
    partitions.partitions_ensure(at, at)
    inv = _old_run(project, "t1", at)
    holding, release = threading.Event(), threading.Event()
    results, errors = [], []

    def request():
        # What invocations_store does for an invocation of a past month, paused mid-way.
        try:
            with transaction.atomic():
                partitions.old_months_share([at], timezone.now())
                holding.set()
                release.wait(30)
                Step.objects.create(invocation=inv, span_id="late")
                Invocation.objects.filter(id=inv.id).update(last_data_at=timezone.now())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    def purging():
        try:
            results.append(invocations_purge())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    ingest = threading.Thread(target=request)
    ingest.start()
    assert holding.wait(10)
    purger = threading.Thread(target=purging)
    purger.start()
    wait_for(lambda: _waiting_for_a_lock() > 0, timeout=10)
    release.set()
    ingest.join(30)
    purger.join(30)
    assert not errors, errors
    assert results[0].invocations == 0
    assert Step.objects.filter(invocation=inv).count() == 5
    assert _partition("traceview_step", at)


def _expired_period(project: Project) -> tuple[dict, object]:
    """A past period holding one run of `project`, whose 30-day retention it is past: the
    purge's cutoffs and a time in the period. Empty past periods other tests left are dropped
    first, so that the period is the only one the purge tries."""
    project.retention_days = 30
    project.save()
    cutoffs = {project.id: timezone.now() - timedelta(days=30)}
    purge.partitions_purge(cutoffs, timezone.now())
    at = partitions.month_at(partitions.months_of(timezone.now() - timedelta(days=100))) \
        + timedelta(days=3)
    partitions.partitions_ensure(at, at)
    _old_run(project, "t1", at)
    return cutoffs, at


@contextmanager
def _open_transaction_that_read(model):
    """Another connection's transaction, still open, that has read `model`'s table (a replay
    page, a request's lookup): dropping a partition needs that table's lock, which it holds."""
    reading, release = threading.Event(), threading.Event()

    def reader():
        try:
            with transaction.atomic():
                model.objects.filter(pk=0).exists()
                reading.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(10)
        yield
    finally:
        release.set()
        thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_a_drop_that_would_keep_ingest_waiting_gives_up_and_tries_later(project, monkeypatch):
    monkeypatch.setattr(purge, "DROP_TRIES", 2)
    monkeypatch.setattr(purge, "DROP_LOCK_TIMEOUT_MS", 100)
    monkeypatch.setattr(purge.time, "sleep", lambda s: None)
    cutoffs, at = _expired_period(project)
    with _open_transaction_that_read(Step):
        started = timezone.now()
        purge.partitions_purge(cutoffs, timezone.now())
        assert _partition("traceview_step", at)
        assert timezone.now() - started < timedelta(seconds=5)
    assert _partition("traceview_step", at)
    assert invocations_purge().partitions >= 1
    assert not _partition("traceview_step", at)


@pytest.mark.django_db(transaction=True)
def test_a_drop_never_holds_the_steps_while_it_waits_for_the_payloads(project, monkeypatch):
    monkeypatch.setattr(purge, "DROP_TRIES", 2)
    monkeypatch.setattr(purge, "DROP_LOCK_TIMEOUT_MS", 3_000)
    monkeypatch.setattr(purge.time, "sleep", lambda s: None)
    cutoffs, at = _expired_period(project)
    # Only the payloads are held: taking the steps and then waiting for the payloads would
    # stop every request that writes steps for as long as the wait lasts.
    with _open_transaction_that_read(StepPayload):
        started = timezone.now()
        assert purge.partitions_purge(cutoffs, timezone.now()).partitions == 0
        # Both tries gave up at once instead of each waiting out its 3 s lock timeout.
        assert timezone.now() - started < timedelta(seconds=2)
    assert _partition("traceview_step", at) and _partition("traceview_steppayload", at)
    assert purge.partitions_purge(cutoffs, timezone.now()).partitions == 1
    assert not _partition("traceview_step", at) and not _partition("traceview_steppayload", at)


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_period_only_the_steps_have_is_dropped_with_the_payloads_of_it_in_the_default(project):
    # The migration makes the periods each table's rows cover, so a period can have a step
    # partition and no payload partition: its payloads sit in the payloads' default.
    project.retention_days = 30
    project.save()
    at = partitions.month_at(partitions.months_of(timezone.now() - timedelta(days=160))) \
        + timedelta(days=3)
    partitions.partitions_ensure(at, at, tables=["traceview_step"])
    inv = _old_run(project, "t1", at)
    assert _partition("traceview_step", at) and not _partition("traceview_steppayload", at)
    assert StepPayload.objects.filter(step__invocation=inv).exists()

    purge.partitions_purge({project.id: timezone.now() - timedelta(days=30)}, timezone.now())

    assert not _partition("traceview_step", at)
    assert not StepPayload.objects.filter(invocation_created_at=inv.created_at).exists()
