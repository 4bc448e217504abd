"""Comparing two versions in Chromium: an owner opens an agent with several versions, picks two
in the form, lands on the compare page with the worse metric highlighted and the outcome chart
drawn, and follows a version's link to the invocation list filtered to it. No CSP complaint and
no script error along the way."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from traceview.models import Agent, Invocation

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def _runs(agent, version, ok, failed, age):
    created = timezone.now() - age
    rows = []
    for i in range(ok + failed):
        status, category = ("ok", "") if i < ok else ("error", "tool")
        rows.append(
            Invocation(
                project=agent.project,
                trace_id=f"{version}-run-{i}",
                agent=agent,
                agent_version=version,
                status=status,
                category=category,
                step_count=6,
                tool_call_count=2,
                tool_error_count=0 if status == "ok" else 1,
                cost_usd=Decimal("0.0100"),
                started_at=created,
                ended_at=created + timedelta(seconds=12),
                created_at=created,
            )
        )
    Invocation.objects.bulk_create(rows)


def test_it_compares_two_versions_and_opens_one_versions_runs(page, project, user):
    agent = Agent.objects.create(project=project, name="support-bot", owner=user)
    _runs(agent, "1.0", ok=19, failed=1, age=timedelta(days=3))
    _runs(agent, "2.0", ok=8, failed=12, age=timedelta(days=2))
    _runs(agent, "3.0-rc", ok=2, failed=0, age=timedelta(hours=2))

    page.goto(f"{page.base}/agents/{agent.id}/")
    expect(page.locator("#agent-versions .version-row")).to_have_count(3)
    # The form proposes the two most recent; the owner wants the release before.
    expect(page.locator("#compare-b")).to_have_value("3.0-rc")
    page.select_option("#compare-a", "1.0")
    page.select_option("#compare-b", "2.0")
    page.click("#compare-submit")
    page.wait_for_url(re.compile(r"/compare/\?a=1\.0&b=2\.0&range=30d$"))

    completion = page.locator("#metric-completion_rate")
    expect(completion).to_have_class(re.compile(r"\bworse\b"))
    expect(completion).to_contain_text("95.0%")
    expect(completion).to_contain_text("40.0%")
    expect(completion).to_contain_text("worse")
    expect(page.locator("#failure-tool")).to_have_class(re.compile(r"\bworse\b"))
    # Same cost on both sides: nothing to highlight.
    expect(page.locator("#metric-cost_p50")).not_to_have_class(re.compile(r"better|worse"))
    expect(page.locator("#chart-compare")).to_have_attribute("data-rendered", "plot")

    page.click("#side-b .version-link")
    page.wait_for_url(lambda url: "agent_version=2.0" in url)
    table = page.locator("#invocation-table")
    expect(table).to_contain_text("2.0-run-0")
    expect(table).not_to_contain_text("1.0-run-")
    expect(table).not_to_contain_text("3.0-rc-run-")
    assert page.console_errors == []
