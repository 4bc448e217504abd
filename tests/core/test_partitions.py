"""Steps and payloads partitioned by their invocation's creation time on PostgreSQL: the
migration's copy-and-swap (with data, and back), the partitions kept ahead with a default under
them, and the key that ingest fills. SQLite keeps one plain table: only the key is tested there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ingest.store import invocations_store
from tests.triage.data import tool_failure
from traceview.core import partitions
from traceview.models import Invocation, Project, Step, StepPayload
from traceview.retention.tasks import partitions_maintain

BEFORE = ("traceview", "0014_search_vector_list_stats")
def pg_only():
    if connection.vendor != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite keeps one table and deletes rows in "
                    "batches")


def where(table: str, **match) -> list[str]:
    """The partition each matching row of `table` sits in."""
    conditions = " AND ".join(f"{k} = %s" for k in match)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE {conditions} "
                       "ORDER BY 1", list(match.values()))
        return [r[0] for r in cursor.fetchall()]


def one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


MONTHS = [datetime(2025, 3, 14, 9, tzinfo=UTC), datetime(2025, 3, 30, 23, tzinfo=UTC),
          datetime(2026, 1, 2, tzinfo=UTC)]


@pytest.mark.django_db(transaction=True)
def test_it_moves_existing_rows_into_partitions_and_back():
    pg_only()
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        project = old.get_model("traceview", "Project").objects.create(name="acme")
        made = {}
        for n, created in enumerate(MONTHS):
            inv = old.get_model("traceview", "Invocation").objects.create(
                project=project, trace_id=f"t{n}", created_at=created, last_data_at=created)
            for k in range(3):
                step = old.get_model("traceview", "Step").objects.create(
                    invocation=inv, span_id=f"s{k}", name=f"step {k}")
                old.get_model("traceview", "StepPayload").objects.create(
                    step=step, input={"n": n, "k": k})
            made[inv.id] = created
        last_step = one("SELECT max(id) FROM traceview_step")
    finally:
        call_command("migrate", verbosity=0)

    assert partitions.enabled()
    for inv_id, created in made.items():
        steps = Step.objects.filter(invocation_id=inv_id)
        assert {s.invocation_created_at for s in steps} == {created}
        assert StepPayload.objects.filter(step__invocation_id=inv_id).count() == 3
        name = f"_p{created:%Y%m}"
        assert where("traceview_step", invocation_id=inv_id) == [f"traceview_step{name}"] * 3
        assert set(where("traceview_steppayload", invocation_created_at=created)) == {
            f"traceview_steppayload{name}"}
    # The two March runs share March's partition; the months between have none.
    names = [p.name for p in partitions.partitions_list("traceview_step")]
    assert "traceview_step_p202503" in names and "traceview_step_p202502" not in names
    assert names[-1] == "traceview_step_default"
    # Keys carry the partition key; indexes and the foreign key out keep their names; the
    # payloads' compression (migration 0004) survives the copy.
    assert one("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
               "WHERE conname = 'traceview_step_pkey'") == "PRIMARY KEY (id, invocation_created_at)"
    assert one("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
               "WHERE conname = 'step_unique_span'") == \
        "UNIQUE (invocation_id, span_id, invocation_created_at)"
    assert one("SELECT count(*) FROM pg_indexes WHERE tablename = 'traceview_step' "
               "AND indexname IN ('step_order', 'step_model')") == 2
    assert one("SELECT count(*) FROM pg_constraint WHERE conrelid = 'traceview_step'::regclass "
               "AND contype = 'f' AND confrelid = 'traceview_invocation'::regclass") == 1
    if connection.pg_version >= 140000:
        assert one("SELECT attcompression FROM pg_attribute WHERE attrelid = "
                   "'traceview_steppayload'::regclass AND attname = 'input'") == "l"
    # The sequence carries on where the old table's left off.
    project = Project.objects.get(name="acme")
    inv = Invocation.objects.create(project=project, trace_id="new")
    assert Step.objects.create(invocation=inv, span_id="x").id > last_step

    # Backwards: one plain table again, every row in it, the payloads' constraint back.
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        assert one("SELECT relkind FROM pg_class WHERE relname = 'traceview_step'") == "r"
        assert one("SELECT count(*) FROM traceview_step") == 10
        assert one("SELECT count(*) FROM traceview_steppayload") == 9
        assert one("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conname = 'traceview_step_pkey'") == "PRIMARY KEY (id)"
        assert one("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                   "'traceview_steppayload'::regclass AND contype = 'f'") == 1
    finally:
        call_command("migrate", verbosity=0)
    assert Step.objects.count() == 10 and partitions.enabled()


@pytest.mark.django_db
def test_the_migration_made_the_current_periods_and_a_default(settings):
    pg_only()
    now = timezone.now()
    for table in partitions.partitioned_tables():
        found = partitions.partitions_list(table)
        ranges = [p.lo for p in found if p.lo is not None]
        for ahead in range(settings.TRACEVIEW_PARTITIONS_AHEAD + 1):
            assert partitions.month_at(partitions.months_of(now) + ahead) in ranges
        assert found[-1].name == partitions.default_name(table)


@pytest.mark.django_db
def test_beat_creates_the_periods_ahead_once(settings):
    pg_only()
    settings.TRACEVIEW_PARTITIONS_AHEAD = 4
    now = timezone.now()
    created = partitions_maintain()
    assert created == [
        partitions.partition_name(table, partitions.month_at(partitions.months_of(now) + n))
        for table in partitions.partitioned_tables() for n in (3, 4)
    ]
    assert partitions_maintain() == []
    assert settings.CELERY_BEAT_SCHEDULE["maintain-partitions"]["task"] == \
        partitions_maintain.name


@pytest.mark.django_db
def test_a_period_of_several_months_and_a_changed_width(settings):
    pg_only()
    settings.TRACEVIEW_PARTITION_MONTHS = 3
    start = datetime(2024, 5, 20, tzinfo=UTC)
    assert partitions.period_start(start) == datetime(2024, 4, 1, tzinfo=UTC)
    made = partitions.partitions_ensure(start, datetime(2024, 12, 1, tzinfo=UTC))
    assert made == [f"{t}_p2024{m}" for t in partitions.partitioned_tables()
                    for m in ("04", "07", "10")]
    # Monthly again: the months the quarters cover are theirs; only the rest is created.
    settings.TRACEVIEW_PARTITION_MONTHS = 1
    made = partitions.partitions_ensure(datetime(2024, 11, 1, tzinfo=UTC),
                                        datetime(2025, 1, 1, tzinfo=UTC))
    assert made == [f"{t}_p202501" for t in partitions.partitioned_tables()]


@pytest.mark.django_db
def test_an_insert_outside_every_range_lands_in_the_default_then_moves():
    pg_only()
    project = Project.objects.create(name="acme")
    long_ago = datetime(2001, 6, 5, tzinfo=UTC)
    inv = Invocation.objects.create(project=project, trace_id="t", created_at=long_ago)
    step = Step.objects.create(invocation=inv, span_id="s")
    StepPayload.objects.create(step=step, input={"q": 1})
    assert where("traceview_step", id=step.id) == ["traceview_step_default"]
    assert where("traceview_steppayload", step_id=step.id) == ["traceview_steppayload_default"]

    # Creating the range moves the default's rows of it into the new partition.
    assert partitions.partitions_ensure(long_ago, long_ago) == [
        "traceview_step_p200106", "traceview_steppayload_p200106"]
    assert where("traceview_step", id=step.id) == ["traceview_step_p200106"]
    assert where("traceview_steppayload", step_id=step.id) == ["traceview_steppayload_p200106"]
    assert StepPayload.objects.get(step=step).input == {"q": 1}
    assert one("SELECT count(*) FROM traceview_step_default") == 0


@pytest.mark.django_db
def test_ingest_fills_the_key_from_the_invocation_not_the_sender(project):
    # The sender's times are from another year: the key is the server's time of creation.
    data = tool_failure("t1")
    for step in data.steps:
        step.started_at = datetime(1999, 1, 1, tzinfo=UTC)
    before = timezone.now()
    invocations_store(project, [data])
    inv = Invocation.objects.get(trace_id="t1")
    assert before <= inv.created_at <= timezone.now()
    assert {s.invocation_created_at for s in Step.objects.filter(invocation=inv)} == {
        inv.created_at}
    assert {p.invocation_created_at for p in StepPayload.objects.filter(step__invocation=inv)} \
        == {inv.created_at}
    # Data that arrives a month later joins the invocation's partition, not the month's.
    created = inv.created_at - timedelta(days=40)
    partitions.partitions_ensure(created, created)
    Invocation.objects.filter(id=inv.id).update(created_at=created)
    Step.objects.filter(invocation=inv).update(invocation_created_at=created)
    StepPayload.objects.filter(step__invocation=inv).update(invocation_created_at=created)
    later = tool_failure("t1")
    later.steps[0].span_id = "late-span"
    invocations_store(project, [later])
    late = Step.objects.get(invocation=inv, span_id="late-span")
    assert late.invocation_created_at == created
    assert StepPayload.objects.get(step=late).invocation_created_at == created
    if connection.vendor == "postgresql":
        month = partitions.partition_name("traceview_step", partitions.period_start(created))
        assert set(where("traceview_step", invocation_id=inv.id)) == {month}
