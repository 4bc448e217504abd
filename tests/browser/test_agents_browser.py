"""Agents and dashboards in Chromium: an owner edits an agent's budgets and scope in place (htmx,
no reload), then opens the dashboards, sees the charts drawn, and follows a chart's link to the
invocations it counts. No CSP complaint and no script error along the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.dashboards.rollups import rollups_refresh
from traceview.models import Agent, Invocation

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_it_edits_an_agents_budgets_and_sees_the_dashboard(page, project, user):
    start = timezone.now() - timedelta(hours=2)
    store(project, support_run(project, "run-a", start=start))
    store(project, support_run(project, "run-b", status="ok", start=start))
    Invocation.objects.filter(trace_id="run-a").update(category="budget")
    rollups_refresh()
    agent = Agent.objects.get(name="support-bot")

    page.goto(f"{page.base}/agents/")
    expect(page.locator(".agent-row.unowned")).to_have_count(1)
    page.click(f"text={agent.name}")
    page.evaluate("window.__noReload = true")
    page.select_option("#id_owner", label="alice")
    page.select_option("#id_category", "workflow")
    page.fill("#id_max_steps", "12")
    page.fill("#id_max_cost_usd", "0.5")
    page.fill("#id_allowed_tools", "lookup_order\nsearch_help")
    page.click("#agent-save")
    expect(page.locator("#agent-saved")).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    agent.refresh_from_db()
    assert (agent.owner, agent.category, agent.max_steps) == (user, "workflow", 12)
    assert agent.allowed_tools == ["lookup_order", "search_help"]
    expect(page.locator("#agent-versions")).to_contain_text("1.4.0")

    page.click("nav.mainnav >> text=Dashboards")
    for chart in ("outcomes", "cost", "latency", "budgets"):
        expect(page.locator(f"#chart-{chart}")).to_have_attribute("data-rendered", "plot")
    expect(page.locator("#chart-budgets .main-svg").first).to_be_visible()
    # The budget bar opens the list filtered to that agent's budget failures.
    # Plotly's drag layer lies over the bars and takes the click, as it does for a person.
    bar = page.locator("#chart-budgets .bars .point path").first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(lambda url: "category=budget" in url)
    expect(page.locator("#invocation-table")).to_contain_text("run-a")
    expect(page.locator("#invocation-table")).not_to_contain_text("run-b")
    assert page.console_errors == []
