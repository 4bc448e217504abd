"""The tool-scope audit in Chromium: an owner sets an agent's allowed tools and a tool needing
confirmation on the agent page (htmx, no reload), a real worker re-audits the recent runs, and the
owner finds the violation on the scope-violations page, follows it to the invocation, and sees
the banner and the flagged step. No CSP complaint and no script error along the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.agents.test_scope_pages import run
from tests.conftest import wait_for
from tests.pages_data import store
from traceview.models import Agent, Invocation, ScopeViolation

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect
CURRENT = re.compile(r"\bcurrent\b")


def test_it_sets_a_scope_and_follows_a_violation_to_its_step(page, project, user, celery_worker):
    start = timezone.now() - timedelta(hours=1)
    store(project, run("refund-unasked", ["lookup_order", "refund"], start=start))
    store(
        project,
        run(
            "refund-approved",
            ["lookup_order", "refund"],
            approve_before=1,
            start=start + timedelta(minutes=5),
        ),
    )
    agent = Agent.objects.get(name="support-bot")
    assert ScopeViolation.objects.count() == 0

    page.goto(f"{page.base}/agents/{agent.id}/")
    expect(page.locator("#agent-scope-violations + span")).to_contain_text("0 in the last 30 days")
    page.evaluate("window.__noReload = true")
    page.select_option("#id_owner", label="alice")
    page.fill("#id_allowed_tools", "lookup_order")
    page.fill("#id_confirm_tools", "refund")
    page.click("#agent-save")
    expect(page.locator("#agent-saved")).to_be_visible()
    expect(page.locator("#scope-reaudit")).to_contain_text("queued")
    assert page.evaluate("window.__noReload") is True

    unasked = Invocation.objects.get(trace_id="refund-unasked")
    wait_for(
        lambda: Invocation.objects.get(id=unasked.id).scope_violation_count == 1,
        worker=celery_worker,
    )
    assert Invocation.objects.get(trace_id="refund-approved").scope_violation_count == 0

    page.click("nav.mainnav >> text=Scope violations")
    page.wait_for_url(lambda url: "/scope-violations/" in url)
    rows = page.locator(".scope-violation-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("refund")
    expect(rows.first).to_contain_text("unconfirmed")
    expect(rows.first).to_contain_text("refund-unasked")
    page.select_option("#id_kind", "not_allowed")
    page.click("#scope-filters button[type=submit]")
    expect(page.locator(".scope-violation-row")).to_have_count(0)
    page.go_back()

    page.locator(".scope-step-link").first.click()
    page.wait_for_url(lambda url: f"/invocations/{unasked.id}/?step=call-1" in url)
    banner = page.locator("#scope-violations")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("called without a preceding human approval")
    flagged = page.locator("#step-tree tr.scope-violation")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("refund")
    expect(flagged).to_have_class(CURRENT)
    expect(page.locator("#step-detail h2 .scope-flag")).to_have_text("unconfirmed")

    # Step away, then back through the banner's link (htmx swaps the detail in place).
    page.click("#nav-first")
    expect(page.locator("#step-detail h2 .scope-flag")).to_have_count(0)
    page.click("#scope-violations a.scope-step")
    expect(page.locator("#step-detail h2 .scope-flag")).to_have_text("unconfirmed")
    expect(page.locator("#step-tree tr.scope-violation")).to_have_class(CURRENT)
    assert page.console_errors == []
