"""The purge: what goes (an expired invocation and every row hanging off it), what stays (newer
invocations, ones that received data since, other projects', issue counters), in bounded
batches, one purge at a time, run by beat through a real worker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ingest.store import invocations_store
from tests.conftest import wait_for, worker_start, worker_stop
from tests.pages_data import store
from tests.triage.data import tool_failure
from traceview.core.partitions import invocation_redate
from traceview.models import (
    Agent,
    Correction,
    Diagnosis,
    Invocation,
    InvocationSearch,
    Issue,
    IssueInvocation,
    JudgeVerdict,
    Project,
    RetentionState,
    ScopeViolation,
    Step,
    StepPayload,
)
from traceview.retention.purge import (
    dependents,
    invocations_purge,
    purge_schedule,
    rows_delete,
)
from traceview.retention.tasks import purge_expired_invocations

TABLES = {
    "invocations": Invocation, "steps": Step, "payloads": StepPayload,
    "search": InvocationSearch, "diagnoses": Diagnosis, "violations": ScopeViolation,
    "issue_links": IssueInvocation, "corrections": Correction, "verdicts": JudgeVerdict,
}


def counts(project=None) -> dict[str, int]:
    out = {}
    for name, model in TABLES.items():
        rows = model.objects.all()
        if project is not None:
            field = "project" if model is Invocation else (
                "invocation__project" if model is not StepPayload else "step__invocation__project")
            rows = rows.filter(**{field: project})
        out[name] = rows.count()
    return out


def _age(invocation: Invocation, days: float, data_days: float | None = None) -> None:
    now = timezone.now()
    # Its steps and payloads move with it, as their partition key is its created_at.
    invocation_redate(
        invocation.id, now - timedelta(days=days),
        last_data_at=now - timedelta(days=days if data_days is None else data_days),
    )


def _run(project: Project, trace_id: str, age_days: float, *, data_days=None,
         extras: bool = False) -> Invocation:
    """A failed run, classified (search, diagnosis, scope violation, issue link), aged."""
    inv = store(project, tool_failure(trace_id))
    if extras:
        Correction.objects.create(invocation=inv, category="tool", root_span_id="tool-1")
        JudgeVerdict.objects.create(invocation=inv, project=project, data_digest="d" * 64,
                                    model="m", prompt_version="judge-1", trigger="on_demand")
    _age(inv, age_days, data_days)
    return inv


@pytest.fixture
def scoped(project):
    # lookup_order is outside the scope: every run has one scope violation.
    Agent.objects.create(project=project, name="support-bot", allowed_tools=["search_*"])
    return project


def test_it_lists_every_table_hanging_off_an_invocation():
    # A new foreign key to Invocation or Step is purged by the generic walk; this test makes the
    # addition visible, and a relation without CASCADE fails the walk outright.
    assert {m.__name__ for m, _ in dependents(Invocation)} == {
        "Step", "InvocationSearch", "Diagnosis", "ScopeViolation", "IssueInvocation",
        "Correction", "JudgeVerdict"}
    assert [(m.__name__, c) for m, c in dependents(Step)] == [("StepPayload", "step_id")]


def test_it_purges_expired_invocations_with_everything_hanging_off_them(scoped, settings):
    project = scoped
    project.retention_days = 30
    project.save()
    expired = [_run(project, f"old-{i}", 40, extras=i == 0) for i in range(5)]
    kept_new = [_run(project, f"new-{i}", 1, extras=i == 0) for i in range(3)]
    # Arrived long ago, but data came yesterday: not past retention.
    touched = _run(project, "old-but-touched", 40, data_days=1)
    forever = Project.objects.create(name="forever", retention_days=0)
    settings.TRACEVIEW_RETENTION_DAYS = 10
    default = Project.objects.create(name="default")
    _run(forever, "forever-old", 400)
    default_old = _run(default, "default-old", 11)
    default_new = _run(default, "default-new", 9)
    issue = Issue.objects.get(project=project)
    seen = issue.times_seen
    assert seen == 9
    before = counts(project)
    assert before == {"invocations": 9, "steps": 36, "payloads": 36, "search": 9,
                      "diagnoses": 9, "violations": 9, "issue_links": 9, "corrections": 2,
                      "verdicts": 2}

    # Tiny batches: several invocation batches, and steps split across transactions.
    result = invocations_purge(batch=2, step_batch=3)

    assert (result.invocations, result.steps) == (6, 24)
    assert counts(project) == {"invocations": 4, "steps": 16, "payloads": 16, "search": 4,
                               "diagnoses": 4, "violations": 4, "issue_links": 4,
                               "corrections": 1, "verdicts": 1}
    left = set(Invocation.objects.filter(project=project).values_list("id", flat=True))
    assert left == {i.id for i in kept_new} | {touched.id}
    assert not Invocation.objects.filter(id__in=[i.id for i in expired]).exists()
    assert counts(forever)["invocations"] == 1 and counts(forever)["steps"] == 4
    assert set(Invocation.objects.filter(project=default).values_list("id", flat=True)) == {
        default_new.id}
    assert not Step.objects.filter(invocation_id=default_old.id).exists()
    # Issues keep their counters: the purge removes rows, not history.
    issue.refresh_from_db()
    assert issue.times_seen == seen
    state = RetentionState.objects.get()
    assert state.running_since is None and state.last_purged == 6
    assert state.last_started_at is not None and state.last_finished_at is not None

    # Nothing more is due.
    assert invocations_purge().invocations == 0


def test_it_runs_one_purge_at_a_time(project):
    project.retention_days = 1
    project.save()
    _run(project, "old", 5)
    now = timezone.now()
    RetentionState.objects.create(pk=1, running_since=now - timedelta(minutes=1))
    assert invocations_purge().claimed is False
    assert Invocation.objects.count() == 1
    # A claim nobody renewed for ten minutes belongs to a worker that died: it is taken over.
    RetentionState.objects.filter(pk=1).update(running_since=now - timedelta(minutes=11))
    assert invocations_purge().invocations == 1
    assert Invocation.objects.count() == 0


def test_it_stops_at_its_time_budget_after_the_batch_under_way(project):
    project.retention_days = 1
    project.save()
    for i in range(5):
        _run(project, f"old-{i}", 5)
    slices = []
    while True:
        result = invocations_purge(batch=2, budget_s=0)
        slices.append((result.invocations, result.complete))
        if result.complete:
            break
    assert slices == [(2, False), (2, False), (1, True)]
    assert Invocation.objects.count() == 0


def test_it_says_when_the_next_purge_runs(db, settings):
    settings.TRACEVIEW_PURGE_INTERVAL_S = 3600
    now = timezone.now()
    assert purge_schedule(now)["next_at"] is None
    RetentionState.objects.create(pk=1, last_started_at=now - timedelta(minutes=20))
    schedule = purge_schedule(now)
    assert schedule["next_at"] == now + timedelta(minutes=40)
    assert not schedule["overdue"]
    assert purge_schedule(now + timedelta(hours=2))["overdue"]


def test_it_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-invocations"]
    assert entry["task"] == purge_expired_invocations.name
    assert entry["schedule"] == settings.TRACEVIEW_PURGE_INTERVAL_S


def test_beat_purges_through_a_real_worker(transactional_db, tmp_path, project):
    from traceview.celery import app

    project.retention_days = 2
    project.save()
    old = _run(project, "old", 3)
    new = _run(project, "new", 1)
    app.control.purge()
    proc = worker_start(tmp_path, "retention", "-B", "-s", str(tmp_path / "beat-schedule"),
                        env={"TRACEVIEW_PURGE_INTERVAL_S": "1"})
    try:
        wait_for(lambda: not Invocation.objects.filter(id=old.id).exists(), worker=proc)
    finally:
        worker_stop(proc)
    assert list(Invocation.objects.values_list("id", flat=True)) == [new.id]
    assert Step.objects.count() == 4 and StepPayload.objects.count() == 4


def test_a_slice_sends_the_rest_behind_the_queue(transactional_db, tmp_path, project):
    # One invocation a slice: the task sends itself again until nothing is due.
    from traceview.celery import app

    project.retention_days = 2
    project.save()
    for i in range(3):
        _run(project, f"old-{i}", 3)
    new = _run(project, "new", 1)
    app.control.purge()
    proc = worker_start(tmp_path, "retention-slices")
    try:
        purge_expired_invocations.delay(batch=1, budget_s=0)
        wait_for(lambda: Invocation.objects.count() == 1, worker=proc)
        wait_for(lambda: RetentionState.objects.filter(running_since=None, last_purged=0)
                 .exists(), worker=proc)
    finally:
        worker_stop(proc)
    assert list(Invocation.objects.values_list("id", flat=True)) == [new.id]
    log = proc.log_path.read_text()
    assert log.count("purge_expired_invocations[") >= 4 * 2  # received and succeeded, 4 runs


def test_ingest_stores_new_data_for_an_invocation_purged_under_it(transactional_db, project):
    """The race the purge adds: ingest's insert sees the expired invocation and does nothing,
    the purge deletes it, then ingest's lock finds no row. Ingest stores a new invocation."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: the race needs PostgreSQL's row locks")
    project.retention_days = 1
    project.save()
    old = _run(project, "t1", 5)
    errors: list[BaseException] = []

    def ingest():
        try:
            invocations_store(project, [tool_failure("t1", message="503 again")])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=ingest)
    with transaction.atomic():
        # The purge's last step: the expired invocation locked, then deleted.
        assert list(Invocation.objects.select_for_update().filter(id=old.id)
                    .values_list("id", flat=True)) == [old.id]
        thread.start()
        # Ingest has inserted (nothing) and waits for our lock.
        wait_for(lambda: _waiting_for_a_lock() > 0, timeout=10)
        rows_delete(Invocation, [old.id])
    thread.join(timeout=30)
    assert not errors, errors
    fresh = Invocation.objects.get(project=project, trace_id="t1")
    assert fresh.id != old.id
    assert Step.objects.filter(invocation=fresh).count() == 4
    assert not Step.objects.filter(invocation_id=old.id).exists()


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]
