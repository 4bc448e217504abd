"""Working a failure queue in Chromium: assign, resolve, a regression reopening, bulk actions with
the mouse and the keyboard, and a correction that moves the classifier's measured agreement.
Every action happens without a full page reload (a marker set on `window` survives).

Here rather than in tests/triage so that it uses this folder's Playwright fixtures; `fail` and
`bob` come from tests/conftest.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from traceview.models import Correction, Issue

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def mark(page) -> None:
    page.evaluate("window.__noReload = true")


def assert_no_reload(page) -> None:
    assert page.evaluate("window.__noReload") is True


def assert_clean(page) -> None:
    assert page.dialogs == [] and page.console_errors == []


def test_it_assigns_and_resolves_an_issue(page, fail, bob):
    fail("t1", start=timezone.now() - timedelta(days=1))
    issue = Issue.objects.get()
    page.goto(page.base + "/issues/")
    assert page.inner_text("#triage-nav [data-count=unresolved]") == "1"
    page.click(f"#issue-row-{issue.id} a[data-open]")
    page.wait_for_url(f"**/issues/{issue.id}/")
    mark(page)
    page.select_option("#issue-state select[name=assignee]", label="bob")
    page.click("#issue-state button[value=assign]")
    expect(page.locator("#issue-owner")).to_have_text("bob")
    page.fill("#issue-state input[name=in_version]", "1.5.0")
    page.click("#issue-state button[value=resolve]")
    page.wait_for_selector("#issue-state .badge.issue-resolved")
    assert "resolved it in version 1.5.0" in page.inner_text("#issue-activity")
    assert "assigned it to bob" in page.inner_text("#issue-activity")
    assert_no_reload(page)
    issue.refresh_from_db()
    assert (issue.status, issue.assignee, issue.resolved_in_version) == ("resolved", bob, "1.5.0")
    assert_clean(page)


def test_it_shows_a_regression_reopening(page, fail, user):
    fail("t1", start=timezone.now() - timedelta(days=1), version="1.4.0")
    issue = Issue.objects.get()
    page.goto(f"{page.base}/issues/{issue.id}/")
    page.fill("#issue-state input[name=in_version]", "1.5.0")
    page.click("#issue-state button[value=resolve]")
    page.wait_for_selector("#issue-state .badge.issue-resolved")
    # An old agent still failing is not a regression; the fixed version failing is.
    fail("t2", start=timezone.now(), version="1.4.2")
    page.reload()
    assert page.locator("#issue-state .badge.issue-resolved").count() == 1
    fail("t3", start=timezone.now(), version="1.5.0")
    page.goto(page.base + "/issues/")
    row = page.locator(f"#issue-row-{issue.id}")
    assert "regressed" in row.get_attribute("class")
    assert "regressed" in row.inner_text()
    assert "1 regressed" in page.inner_text("#triage-nav")
    row.locator("a[data-open]").click()
    page.wait_for_selector("#issue-state.regressed")
    assert "failed again in version 1.5.0" in page.inner_text("#issue-activity")
    assert "1.5.0" in page.inner_text(".facts") and "1.4.2" in page.inner_text(".facts")
    assert_clean(page)


def test_it_works_the_queue_in_bulk_with_mouse_and_keys(page, fail):
    for tool in ("alpha", "beta", "gamma", "delta"):
        fail(f"run-{tool}", tool=tool)
    ids = {i.title.split(": ")[1].split(" ")[0]: i.id for i in Issue.objects.all()}
    page.goto(page.base + "/issues/?sort=first_seen")
    mark(page)
    page.check(f"#issue-row-{ids['alpha']} input[name=ids]")
    page.check(f"#issue-row-{ids['beta']} input[name=ids]")
    page.select_option("#bulk select[name=ignore_for]", "count:10")
    page.click("#bulk button[value=ignore]")
    page.wait_for_selector(f"#issue-row-{ids['alpha']}", state="detached")
    assert page.locator("tr[data-row]").count() == 2
    assert "Ignore: 2 issue(s)." in page.inner_text("#queue-rows")
    assert page.inner_text("#triage-nav [data-count=unresolved]") == "2"
    # Keyboard: move to the first row, tick it, assign it to me, then resolve the next one.
    page.click("h1")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("a")
    page.wait_for_selector("text=Assign: 1 issue(s).")
    assert page.inner_text("#triage-nav [data-count=mine]") == "1"
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.wait_for_selector("text=Resolve: 1 issue(s).")
    assert page.locator("tr[data-row]").count() == 1
    assert_no_reload(page)
    statuses = dict(Issue.objects.values_list("id", "status"))
    assert sorted(statuses.values()) == ["ignored", "ignored", "open", "resolved"]
    assert Issue.objects.filter(assignee__username="alice").count() == 1
    assert_clean(page)


def test_it_corrects_an_invocation_and_updates_the_agreement(page, fail):
    fail("t1")
    issue = Issue.objects.get()
    inv_id = issue.occurrences.get().invocation_id
    page.goto(f"{page.base}/issues/{issue.id}/")
    mark(page)
    panel = page.locator(f"#invocation-triage-{inv_id}")
    panel.locator("summary").click()
    panel.locator("select[name=category]").select_option("planning")
    panel.locator("select[name=root_step]").select_option("llm-1")
    panel.locator("button[type=submit]").click()
    page.wait_for_selector(f"#invocation-triage-{inv_id} .disagree")
    assert "planning" in page.inner_text(f"#invocation-triage-{inv_id} .correction-verdict")
    assert_no_reload(page)
    assert Correction.objects.get(invocation_id=inv_id).root_span_id == "llm-1"
    page.goto(page.base + "/issues/agreement/")
    assert page.inner_text("tr[data-category=planning] td.rate") == "0%"
    assert page.inner_text("tr[data-category=all] .rate") == "0%"
    assert_clean(page)
