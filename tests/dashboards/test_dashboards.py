"""Dashboards: the aggregate queries (counts by outcome, cost and tokens per agent, latency
percentiles, tool error rates, budget breaches, top issues), the links behind each chart, and the
page (login, isolation between projects, escaping)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.dashboards.charts import (
    Scope,
    budget_breaches,
    invocations_over_time,
    latency_per_agent,
    tool_error_rates,
    top_issues,
    usage_per_agent,
)
from traceview.dashboards.rollups import rollups_refresh
from traceview.dashboards.stats import percentile
from traceview.models import Invocation, Issue, Project


@pytest.fixture
def runs(project):
    now = timezone.now() - timedelta(hours=1)
    store(project, support_run(project, "fail-1", start=now))
    store(project, support_run(project, "fail-2", start=now))
    store(project, support_run(project, "ok-1", status="ok", agent="<i>writer</i>", start=now))
    Invocation.objects.filter(trace_id="fail-2").update(category="budget")
    old = store(project, support_run(project, "old", start=now - timedelta(days=40)))
    Invocation.objects.filter(id=old.id).update(created_at=now - timedelta(days=40))
    rollups_refresh()
    return now


def _scope(project, **kw):
    now = timezone.now()
    return Scope(projects=[project], start=now - timedelta(days=7), end=now, **kw)


def test_it_counts_outcomes_per_bucket_in_range(project, runs):
    rows = invocations_over_time(_scope(project))
    outcomes = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + r["n"]
    assert outcomes == {"tool": 1, "budget": 1, "ok": 1}


def test_it_sums_cost_and_tokens_per_agent(project, runs):
    by_agent = {}
    for r in usage_per_agent(_scope(project)):
        by_agent[r["agent"]] = by_agent.get(r["agent"], 0) + r["cost"]
    assert by_agent == {"support-bot": pytest.approx(2 * 0.0068), "<i>writer</i>": 0.0068}
    only = usage_per_agent(_scope(project, agent="<i>writer</i>"))
    assert {r["agent"] for r in only} == {"<i>writer</i>"}


def test_it_computes_latency_percentiles_per_agent(project, runs):
    slow = support_run(project, "slow", start=runs)
    slow.ended_at = slow.steps[0].ended_at = runs + timedelta(seconds=120)
    store(project, slow)
    rollups_refresh()
    rows = {r["agent"]: r for r in latency_per_agent(_scope(project))}
    bot = rows["support-bot"]
    # 9 s, 9 s, 120 s: interpolated between closest ranks, as percentile_cont does.
    assert (bot["n"], bot["p50"], bot["p95"], bot["p99"]) == (
        3, pytest.approx(9), pytest.approx(9 + 111 * 0.9), pytest.approx(9 + 111 * 0.98))
    assert (rows["<i>writer</i>"]["n"], rows["<i>writer</i>"]["p95"]) == (1, pytest.approx(9))
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1.0, 10.0], 0.99) == pytest.approx(9.91)
    assert percentile([], 0.5) is None


def test_it_rates_tool_errors_and_budget_breaches(project, runs):
    tools = tool_error_rates(_scope(project))
    lookup = next(t for t in tools if t["tool"] == "lookup_order")
    # Every run in range (the ok one too) had its lookup fail; the 40-day-old one is out.
    assert (lookup["calls"], lookup["errors"], lookup["rate"]) == (3, 3, 1.0)
    writer = tool_error_rates(_scope(project, agent="<i>writer</i>"))
    assert [(t["tool"], t["calls"]) for t in writer if t["tool"] == "lookup_order"] == [
        ("lookup_order", 1)]
    assert [(b["agent"], b["n"]) for b in budget_breaches(_scope(project))] == [("support-bot", 1)]
    # The two support-bot failures in range share one issue; the 40-day-old one is out.
    issue = Issue.objects.get(title="tool: lookup_order · HTTPError")
    assert [(i["title"], i["n"], i["url"]) for i in top_issues(_scope(project))] == [
        ("tool: lookup_order · HTTPError", 2, f"/issues/{issue.id}/")]


def test_it_renders_the_page_with_chart_links_and_escaped_names(browser_client, project, runs):
    response = browser_client.get("/dashboards/?range=7d")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<i>writer</i>" not in body
    # Present, escaped: in the agent choices as HTML, in the figures as JSON.
    assert "&lt;i&gt;writer&lt;/i&gt;" in body and "\\u003Ci\\u003Ewriter" in body
    start = body.index('id="dashboard-figures"')
    figures = json.loads(body[body.index(">", start) + 1:body.index("</script>", start)])
    budget = figures["budgets"]["data"][0]
    query = parse_qs(urlsplit(budget["customdata"][0]).query)
    assert query["agent"] == ["support-bot"] and query["category"] == ["budget"]
    listed = browser_client.get(budget["customdata"][0]).content.decode()
    assert "fail-2" in listed and "fail-1" not in listed
    bars = {t["name"]: t for t in figures["outcomes"]["data"] if t["type"] == "bar"}
    assert set(bars) == {"ok", "tool", "budget"}
    expected = {"ok": ("status", "ok", "ok-1"), "tool": ("category", "tool", "fail-1"),
                "budget": ("category", "budget", "fail-2")}
    for name, (key, value, trace) in expected.items():
        [url] = [u for u, n in zip(bars[name]["customdata"], bars[name]["y"], strict=True) if n]
        assert parse_qs(urlsplit(url).query)[key] == [value]
        listed = browser_client.get(url).content.decode()
        others = {"ok-1", "fail-1", "fail-2"} - {trace}
        assert trace in listed and not any(o in listed for o in others), name


def test_it_shows_only_the_users_projects(browser_client, project, runs):
    other = Project.objects.create(name="beta")
    store(other, support_run(other, "foreign", agent="foreign-bot", start=runs))
    rollups_refresh()
    response = browser_client.get("/dashboards/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "support-bot" in body and "foreign-bot" not in body
    body = browser_client.get(f"/dashboards/?project={other.id}").content.decode()
    assert "foreign-bot" not in body


def test_it_requires_login_for_dashboards(client, db):
    assert client.get("/dashboards/").status_code == 302
