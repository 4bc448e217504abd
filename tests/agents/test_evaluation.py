"""Version evaluation: each metric computed exactly over hand-built invocations (PostgreSQL's
percentile_cont and the SQLite fallback alike), the comparison's notability rules, and the
agent and compare pages (login, isolation, escaping, links, edge cases, query counts)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.replay.test_pages import rows_of
from traceview.agents.evaluation import (
    MIN_RUNS,
    VersionStats,
    evaluation_range,
    version_compare,
    version_evaluation,
)
from traceview.models import Agent, Invocation, Project

_ids = itertools.count()
HOSTILE = '<script>alert("v")</script>"><img src=x onerror=alert(1)>'


def _run(
    agent,
    version,
    status="ok",
    cost="0",
    seconds=None,
    steps=0,
    tool_calls=0,
    tool_errors=0,
    errors=0,
    category="",
    age=timedelta(hours=1),
):
    created = timezone.now() - age
    return Invocation.objects.create(
        project=agent.project,
        trace_id=f"t-{next(_ids)}",
        agent=agent,
        agent_version=version,
        status=status,
        cost_usd=Decimal(cost),
        category=category,
        step_count=steps,
        tool_call_count=tool_calls,
        tool_error_count=tool_errors,
        error_count=errors,
        started_at=created if seconds is not None else None,
        ended_at=created + timedelta(seconds=seconds) if seconds is not None else None,
        created_at=created,
    )


@pytest.fixture
def agent(project):
    return Agent.objects.create(project=project, name="support-bot")


@pytest.fixture
def runs(agent, project):
    """Version 1.0: four successful runs (two recovered from a failed step), a tool failure, an
    unclassified failure without timestamps, a run that ended ok but was judged a budget
    failure, one still running, and one out of range; then a newer 2.0 and another agent."""
    for cost, seconds, steps, tool_errors, errors in (
        ("1", 10, 2, 1, 1),
        ("2", 20, 4, 0, 1),
        ("3", 30, 6, 0, 0),
        ("4", 40, 8, 0, 0),
    ):
        _run(
            agent,
            "1.0",
            cost=cost,
            seconds=seconds,
            steps=steps,
            tool_calls=2,
            tool_errors=tool_errors,
            errors=errors,
            age=timedelta(hours=3),
        )
    _run(agent, "1.0", "error", "10", 100, 20, 4, 3, 3, category="tool", age=timedelta(hours=3))
    _run(agent, "1.0", "error", "0", None, 0, age=timedelta(hours=3))
    _run(agent, "1.0", "ok", "5", 50, 10, errors=1, category="budget", age=timedelta(hours=3))
    _run(agent, "1.0", "running", "100", 1000, 99, 9, 9, 9, age=timedelta(hours=3))
    _run(agent, "1.0", "error", "50", 500, 50, category="tool", age=timedelta(days=40))
    _run(agent, "2.0", "ok", "7", 7, 7)
    other = Agent.objects.create(project=project, name="other-bot")
    _run(other, "1.0", "error", "9", 9, 9, category="planning")
    return agent


def _evaluate(agent, **kwargs):
    _, start, end = evaluation_range("30d")
    return version_evaluation(agent, start, end, **kwargs)


def test_it_computes_every_metric_of_a_version_exactly(runs):
    newest, v1 = _evaluate(runs)
    assert newest.version == "2.0" and newest.runs == 1 and newest.cost_p50 == pytest.approx(7)
    assert (v1.version, v1.runs, v1.ok, v1.failed, v1.running) == ("1.0", 7, 4, 3, 1)
    assert v1.completion_rate == pytest.approx(4 / 7)
    # Costs [0, 1, 2, 3, 4, 5, 10]: p95 sits 0.7 of the way from 5 to 10.
    assert (v1.cost_p50, v1.cost_p95) == (pytest.approx(3), pytest.approx(8.5))
    # Durations of the six runs with both timestamps: [10, 20, 30, 40, 50, 100].
    assert v1.latency_runs == 6
    assert (v1.latency_p50, v1.latency_p95) == (pytest.approx(35), pytest.approx(87.5))
    assert v1.steps_mean == pytest.approx(50 / 7) and v1.steps_p50 == pytest.approx(6)
    assert (v1.tool_calls, v1.tool_errors) == (12, 4)
    assert v1.tool_error_rate == pytest.approx(1 / 3)
    # The budget run had a failed step too, but it failed: only successful runs recover.
    assert v1.recovered == 2 and v1.recovered_share == pytest.approx(0.5)
    assert v1.failures == {"tool": 1, "budget": 1, "unclassified": 1}
    assert [(f["category"], f["count"]) for f in v1.failure_mix] == [
        ("tool", 1),
        ("budget", 1),
        ("unclassified", 1),
    ]
    assert v1.failure_mix[0]["share"] == pytest.approx(1 / 3)
    assert v1.failure_mix[0]["rate"] == pytest.approx(1 / 7)


def test_it_returns_requested_versions_in_order_with_empty_ones(runs):
    v1, missing = _evaluate(runs, versions=["1.0", "nope"])
    assert v1.runs == 7 and v1.cost_p95 == pytest.approx(8.5)
    assert (missing.version, missing.runs, missing.completion_rate, missing.cost_p50) == (
        "nope",
        0,
        None,
        None,
    )


def test_it_keeps_running_only_versions_out_of_the_figures(agent):
    _run(agent, "3.0", "running", "1", 5, 5)
    [stats] = _evaluate(agent)
    assert (stats.runs, stats.running, stats.completion_rate, stats.cost_p50) == (0, 1, None, None)
    assert stats.latency_p50 is None and stats.steps_mean is None


def test_it_answers_in_one_query_on_postgresql(runs):
    with CaptureQueriesContext(connection) as queries:
        _evaluate(runs)
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    if connection.vendor == "postgresql":
        # Grouped by the version alone: the percentiles' arguments must not join the GROUP BY.
        sql = queries[0]["sql"]
        assert sql.count("percentile_cont") == 3 and re.search(r"GROUP BY [^,]+$", sql)


def _stats(version, runs, ok, **kw):
    return VersionStats(version=version, runs=runs, ok=ok, **kw)


def test_it_flags_a_significant_completion_drop_as_worse(runs):
    before = _stats("1.0", 20, 19, failures={"tool": 1})
    after = _stats("2.0", 20, 10, failures={"tool": 9})
    diffs = {d.key: d for d in version_compare(before, after)}
    completion = diffs["completion_rate"]
    assert completion.direction == "worse" and completion.notable
    assert completion.verdict == "worse"
    assert completion.z == pytest.approx(-3.187, abs=1e-3)
    assert completion.change == pytest.approx(-0.45) and completion.change_text == "−45.0 pp"
    tool = diffs["failed_tool"]
    assert (tool.group, tool.verdict, tool.count_a, tool.count_b) == ("failures", "worse", 1, 9)
    assert tool.share_b == pytest.approx(9 / 10)
    # And read from rows: the same drop built from invocations.
    for i in range(20):
        _run(runs, "a", "ok" if i else "error", category="" if i else "tool")
        _run(runs, "b", "ok" if i % 2 else "error", category="" if i % 2 else "tool")
    a, b = _evaluate(runs, versions=["a", "b"])
    assert {d.key: d.verdict for d in version_compare(a, b)}["completion_rate"] == "worse"
    assert {d.key: d.verdict for d in version_compare(b, a)}["completion_rate"] == "better"


def test_it_does_not_flag_a_small_cost_change(db):
    a = _stats("a", 50, 50, cost_p50=1.00, cost_p95=2.00, latency_runs=50, latency_p50=10.0)
    b = _stats("b", 80, 80, cost_p50=1.03, cost_p95=2.50, latency_runs=80, latency_p50=8.5)
    diffs = {d.key: d for d in version_compare(a, b)}
    assert diffs["cost_p50"].direction == "worse" and not diffs["cost_p50"].notable
    assert diffs["cost_p50"].verdict == "" and diffs["cost_p50"].relative == pytest.approx(0.03)
    assert diffs["cost_p95"].verdict == "worse"  # +25%
    assert diffs["latency_p50"].verdict == "better"  # -15%
    assert diffs["cost_p50"].change_text == "+$0.0300 (+3.0%)"
    # The run count measures traffic: never notable, whatever it does.
    assert diffs["runs"].direction == "neutral" and not diffs["runs"].notable


def test_it_does_not_flag_small_samples(db):
    few = MIN_RUNS - 1
    a = _stats("a", few, few, cost_p50=1.0, latency_runs=few, latency_p50=1.0)
    b = _stats("b", few, 0, cost_p50=5.0, latency_runs=few, latency_p50=9.0, failures={"tool": few})
    diffs = version_compare(a, b)
    assert {d.key: d.direction for d in diffs}["completion_rate"] == "worse"
    assert not any(d.notable for d in diffs)
    # Enough runs, but a rate whose denominator is too small (successful runs) is not tested.
    a = _stats("a", 40, 4, recovered=0)
    b = _stats("b", 40, 40, recovered=30)
    recovered = {d.key: d for d in version_compare(a, b)}["recovered_share"]
    assert recovered.z is not None and abs(recovered.z) > 1.96 and not recovered.notable


def test_it_marks_a_notable_change_of_a_neutral_metric_as_changed(db):
    a = _stats("a", 40, 40, recovered=2)
    b = _stats("b", 40, 40, recovered=30)
    recovered = {d.key: d for d in version_compare(a, b)}["recovered_share"]
    assert (recovered.direction, recovered.notable, recovered.verdict) == (
        "neutral",
        True,
        "changed",
    )


def test_it_finds_nothing_notable_between_a_version_and_itself(runs):
    [v1] = _evaluate(runs, versions=["1.0"])
    diffs = version_compare(v1, v1)
    assert not any(d.notable for d in diffs)
    assert {d.direction for d in diffs if d.a is not None} == {"same"}
    empty = VersionStats(version="x")
    assert not any(d.notable for d in version_compare(empty, v1))


# --- Pages -------------------------------------------------------------------------------------


def test_it_requires_login_for_the_compare_page(client, agent):
    response = client.get(f"/agents/{agent.id}/compare/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_it_hides_another_users_agent(browser_client, client, bob, project):
    beta = Project.objects.create(name="beta")
    beta.members.add(bob)
    project.members.remove(bob)
    bobs = Agent.objects.create(project=beta, name="bobs-bot")
    _run(bobs, "1.0")
    for url in (f"/agents/{bobs.id}/", f"/agents/{bobs.id}/compare/?a=1.0&b=1.0"):
        assert browser_client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(f"/agents/{bobs.id}/compare/?a=1.0&b=1.0").status_code == 200


def test_it_shows_each_versions_evaluation_on_the_agent_page(browser_client, runs):
    body = browser_client.get(f"/agents/{runs.id}/").content.decode()
    table = body[
        body.index('id="agent-versions"') : body.index(
            "</table>", body.index('id="agent-versions"')
        )
    ]
    assert table.index(">2.0<") < table.index(">1.0<")
    assert "57.1%" in table and "$3.0000" in table and "$8.5000" in table
    assert "87.50 s" in table and "33.3%" in table and "50.0%" in table
    assert "tool 1" in table and "unclassified 1" in table
    # The compare form proposes the two most recent versions, the older as A.
    assert re.search(r'<option value="1.0" selected>1.0</option>', body.split('id="compare-a"')[1])
    assert re.search(r'<option value="2.0" selected>2.0</option>', body.split('id="compare-b"')[1])


def test_it_links_each_version_to_its_invocations(browser_client, runs):
    body = browser_client.get(f"/agents/{runs.id}/?range=7d").content.decode()
    href = unescape(re.search(r'class="version-link" href="([^"]+)">1.0<', body).group(1))
    query = parse_qs(urlsplit(href).query)
    assert (query["agent"], query["agent_version"]) == (["support-bot"], ["1.0"])
    listed = set(rows_of(browser_client.get(href).content.decode()))
    # The version's runs in the range: not the 40-day-old one, not the other agent's.
    assert listed == set(
        Invocation.objects.filter(
            agent=runs,
            agent_version="1.0",
            created_at__gte=timezone.now() - timedelta(days=7),
        ).values_list("trace_id", flat=True)
    )
    assert len(listed) == 8


def test_it_limits_the_evaluation_to_the_chosen_range(browser_client, agent):
    _run(agent, "old", age=timedelta(days=10))
    assert ">old<" not in browser_client.get(f"/agents/{agent.id}/?range=7d").content.decode()
    assert ">old<" in browser_client.get(f"/agents/{agent.id}/?range=30d").content.decode()
    # An unknown range is the default, 30 days.
    assert ">old<" in browser_client.get(f"/agents/{agent.id}/?range=1y").content.decode()


def test_it_shows_an_agent_without_runs(browser_client, agent):
    body = browser_client.get(f"/agents/{agent.id}/").content.decode()
    assert "No runs in this range." in body and 'id="compare-form"' not in body
    body = browser_client.get(f"/agents/{agent.id}/compare/").content.decode()
    assert body.count("No runs of this version in this range.") == 2
    assert "dashboard-figures" not in body


def test_it_compares_two_versions_and_highlights_the_worse(browser_client, agent):
    for i in range(20):
        _run(agent, "1.0", "ok" if i else "error", "1.00", 10, 4, category="" if i else "tool")
        _run(
            agent,
            "2.0",
            "ok" if i % 2 else "error",
            "1.03",
            10,
            4,
            category="" if i % 2 else "tool",
        )
    response = browser_client.get(f"/agents/{agent.id}/compare/?a=1.0&b=2.0&range=7d")
    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<tr id="metric-completion_rate" class="metric-row worse"', body)
    assert re.search(r'<tr id="metric-cost_p50" class="metric-row"', body)
    assert re.search(r'<tr id="failure-tool" class="metric-row worse"', body)
    assert "✖ worse" in body and "Highlighted when both versions have at least 5" in body
    side_b = body[body.index('id="side-b"') :]
    href = unescape(re.search(r'class="version-link" href="([^"]+)"', side_b).group(1))
    assert parse_qs(urlsplit(href).query)["agent_version"] == ["2.0"]
    assert 'id="dashboard-figures" type="application/json"' in body


def test_it_shows_an_unknown_version_and_the_same_version_twice(browser_client, runs):
    body = browser_client.get(f"/agents/{runs.id}/compare/?a=1.0&b=9.9").content.decode()
    assert body.count("No runs of this version in this range.") == 1
    assert '<option value="9.9" selected>9.9</option>' in body
    body = browser_client.get(f"/agents/{runs.id}/compare/?a=1.0&b=1.0").content.decode()
    assert 'id="compare-same"' in body and "✖ worse" not in body and "✔ better" not in body
    # No version named: the two most recent, the older as A.
    body = browser_client.get(f"/agents/{runs.id}/compare/").content.decode()
    assert '<option value="1.0" selected>' in body.split('id="compare-a"')[1].split("</select>")[0]
    assert '<option value="2.0" selected>' in body.split('id="compare-b"')[1].split("</select>")[0]


def test_it_escapes_hostile_version_strings(browser_client, agent):
    _run(agent, HOSTILE, "error", category="tool")
    _run(agent, "1.0")
    for url in (
        f"/agents/{agent.id}/",
        f"/agents/{agent.id}/compare/?a=1.0",
        f"/agents/{agent.id}/compare/?"
        + "a="
        + HOSTILE.replace("&", "%26")
        + "&b=%3Cb%3Eunknown%3C/b%3E",
    ):
        response = browser_client.get(url)
        body = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert" not in body and "<img src=x" not in body and "<b>unknown" not in body
        assert "&lt;script&gt;alert(" in body


def test_it_renders_both_pages_in_few_queries(browser_client, runs):
    for url in (f"/agents/{runs.id}/?range=30d", f"/agents/{runs.id}/compare/?a=1.0&b=2.0"):
        with CaptureQueriesContext(connection) as queries:
            assert browser_client.get(url).status_code == 200
        # Single digits: session, user, agent, owner choices, the evaluation (one query; two on
        # SQLite) and what other parts of the page add (nav counts, scope violations).
        assert len(queries) <= 9, [q["sql"][:120] for q in queries]


def test_it_evaluates_runs_without_a_version_as_their_own_group(browser_client, agent):
    _run(agent, "", seconds=3, age=timedelta(hours=2))
    _run(agent, "1.0", "error", category="tool")
    [v1, none] = _evaluate(agent)
    assert (none.version, none.runs, none.latency_p50) == ("", 1, pytest.approx(3))
    body = browser_client.get(f"/agents/{agent.id}/").content.decode()
    # The list cannot select "no version": the group is shown without a link.
    assert '<td><span class="muted">(none)</span></td>' in body
    assert '<option value="" selected>(none)</option>' in body.split('id="compare-a"')[1]
    body = browser_client.get(f"/agents/{agent.id}/compare/?a=&b=1.0").content.decode()
    assert "No runs of this version" not in body and 'id="compare-same"' not in body
    assert re.search(r'<tr id="metric-completion_rate" class="metric-row"', body)
