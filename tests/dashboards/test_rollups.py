"""The dashboards' hourly rollups: a first refresh builds them, later ones recompute exactly the
hours that changed (a late reclassification of an old invocation, new runs this hour), running
twice adds nothing, duration histograms give percentiles, and a real worker's beat keeps them up
to date without being asked."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from tests.conftest import wait_for
from tests.pages_data import store, support_run
from traceview.classify.diagnosis import invocation_classify
from traceview.core.partitions import invocation_redate
from traceview.dashboards import rollups
from traceview.dashboards.rollups import (
    GROWTH,
    histogram_percentile,
    hour_floor,
    rollups_refresh,
)
from traceview.models import (
    Diagnosis,
    Invocation,
    InvocationRollup,
    IssueRollup,
    LatencyRollup,
    Project,
    RollupState,
    ToolRollup,
)


def _counts(project) -> dict:
    rows = InvocationRollup.objects.filter(project=project).values("status", "category").annotate(
        n=Sum("invocations"))
    return {(r["status"], r["category"]): r["n"] for r in rows}


def _ago(project, trace_id: str, hours: float) -> Invocation:
    """A run that arrived `hours` ago and was classified then."""
    start = timezone.now() - timedelta(hours=hours)
    invocation = store(project, support_run(project, trace_id, start=start))
    invocation_redate(invocation.id, start)
    Diagnosis.objects.filter(invocation_id=invocation.id).update(classified_at=start)
    return invocation


def test_it_builds_every_hour_on_the_first_refresh(project):
    old = _ago(project, "old", hours=24 * 40)
    _ago(project, "yesterday", hours=30)
    store(project, support_run(project, "now-ok", status="ok", start=timezone.now()))
    rollups_refresh()
    assert _counts(project) == {("error", "tool"): 2, ("ok", ""): 1}
    hours = set(InvocationRollup.objects.values_list("hour", flat=True))
    assert hour_floor(old.created_at) in hours and len(hours) == 3
    cost = InvocationRollup.objects.aggregate(c=Sum("cost_usd"))["c"]
    assert cost == Decimal("0.0068") * 3
    tools = ToolRollup.objects.filter(tool_name="lookup_order").aggregate(
        c=Sum("calls"), e=Sum("errors"))
    assert tools == {"c": 3, "e": 3}
    assert IssueRollup.objects.aggregate(n=Sum("invocations"))["n"] == 2
    assert LatencyRollup.objects.aggregate(n=Sum("invocations"))["n"] == 3


def test_it_recomputes_only_the_hours_that_changed(project):
    old = _ago(project, "old", hours=24 * 40)
    rollups_refresh()

    def cost():
        return InvocationRollup.objects.aggregate(c=Sum("cost_usd"))["c"]

    # A change nothing classified: the old hour is not read again.
    Invocation.objects.filter(id=old.id).update(cost_usd=Decimal("1.5"))
    rollups_refresh()
    assert cost() == Decimal("0.0068")
    # Classified again long after it arrived (late data, a reclassify): its hour is recomputed
    # from the raw rows.
    invocation_classify(old.id)
    rollups_refresh()
    assert cost() == Decimal("1.5")
    assert _counts(project) == {("error", "tool"): 1}


def test_it_does_not_count_twice_when_run_again(project):
    store(project, support_run(project, "a", start=timezone.now()))
    store(project, support_run(project, "b", status="ok", start=timezone.now()))
    for _ in range(3):
        rollups_refresh()
    assert _counts(project) == {("error", "tool"): 1, ("ok", ""): 1}
    assert ToolRollup.objects.aggregate(c=Sum("calls"))["c"] == 2


def test_it_forgets_what_was_deleted(project):
    invocation = store(project, support_run(project, "gone", start=timezone.now()))
    rollups_refresh()
    invocation.delete()
    rollups_refresh()
    assert _counts(project) == {}


def test_it_reads_percentiles_from_histograms():
    # Ten values in buckets of one value each are exact; a spread bucket interpolates.
    histogram: dict[int, list] = {}
    for v in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]:
        key = math.floor(math.log(v) / math.log(GROWTH))
        n, lo, hi = histogram.get(key, [0, v, v])
        histogram[key] = [n + 1, min(lo, v), max(hi, v)]
    assert histogram_percentile(histogram, 0.5) == pytest.approx(5.5)
    assert histogram_percentile(histogram, 0.95) == pytest.approx(9.55)
    assert histogram_percentile(histogram, 0) == 1.0
    assert histogram_percentile(histogram, 1) == 10.0
    assert histogram_percentile({}, 0.5) is None
    # Three values in one bucket: the middle one is placed halfway between the extremes.
    assert histogram_percentile({3: [3, 1.4, 1.6]}, 0.5) == pytest.approx(1.5)


def test_it_keeps_latency_histograms_per_agent_and_hour(project):
    start = datetime.now(UTC) - timedelta(minutes=5)
    store(project, support_run(project, "a", start=start))
    store(project, support_run(project, "a2", start=start))
    run = support_run(project, "b", agent="writer", start=start)
    run.ended_at = run.steps[0].ended_at = start + timedelta(seconds=120)
    store(project, run)
    rollups_refresh()
    rows = {r.agent.name: r for r in LatencyRollup.objects.select_related("agent")}
    assert len(rows) == 2 == LatencyRollup.objects.count()
    bot, writer = rows["support-bot"], rows["writer"]
    assert (bot.invocations, bot.shortest_s, bot.longest_s) == (2, pytest.approx(9),
                                                                  pytest.approx(9))
    assert bot.bucket == math.floor(math.log(9) / math.log(GROWTH))
    assert (writer.invocations, writer.longest_s) == (1, pytest.approx(120))


def test_it_is_kept_up_to_date_by_the_worker(celery_worker, project):
    store(project, support_run(project, "live", start=timezone.now()), classify=False)
    wait_for(lambda: _counts(project).get(("error", "tool")) == 1, worker=celery_worker)
    store(project, support_run(project, "live-2", status="ok", start=timezone.now()),
          classify=False)
    wait_for(lambda: _counts(project).get(("ok", "")) == 1, worker=celery_worker)


def test_it_refreshes_each_project_apart_so_one_projects_data_cannot_stop_another(project):
    # Invocations stored before the wire bounded usage: their sum no longer fits a bigint.
    other = Project.objects.create(name="other")
    for trace_id in ("big-1", "big-2"):
        _ago(other, trace_id, hours=1)
    Invocation.objects.filter(project=other).update(input_tokens=2**62)
    _ago(project, "fine", hours=1)
    rollups_refresh()
    assert _counts(project) == {("error", "tool"): 1}
    states = dict(RollupState.objects.values_list("project_id", "classified_through"))
    assert states[project.id] is not None
    if connection.vendor == "postgresql":
        # PostgreSQL sums bigints as numerics: the hour shows the column's largest value.
        assert InvocationRollup.objects.get(project=other).input_tokens == 2**63 - 1
    else:
        # SQLite's SUM fails on the overflow itself: that project waits for the next run.
        assert states.get(other.id) is None
        assert not InvocationRollup.objects.filter(project=other).exists()


def test_it_retries_a_project_whose_refresh_failed_on_the_next_run(project, monkeypatch):
    other = Project.objects.create(name="other")
    _ago(other, "later", hours=1)
    _ago(project, "now", hours=1)
    real = rollups.rollups_recompute

    def failing_for_other(project_id, start, end):
        if project_id == other.id:
            # An error raised by the database itself, as bad data in that project would.
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table_in_this_test")
        real(project_id, start, end)

    monkeypatch.setattr(rollups, "rollups_recompute", failing_for_other)
    rollups_refresh()
    assert _counts(project) == {("error", "tool"): 1}
    assert not InvocationRollup.objects.filter(project=other).exists()
    monkeypatch.setattr(rollups, "rollups_recompute", real)
    rollups_refresh()
    assert _counts(other) == {("error", "tool"): 1}
