"""The debugging pages of issue 17 in a real browser: a run diff reached by ticking two rows of
the list and from a failed run, a session, an agent's graph whose nodes open the list, with
payloads that must never run. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.agents.test_graph import _multi_agent
from tests.pages_data import T0, repeating_run, store, support_run
from traceview.core.trace import StepData
from traceview.models import Agent

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1;alert(1)">'


def assert_clean(page) -> None:
    assert page.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.console_errors == []


def _pair(project):
    good = support_run(project, "good-run", status="ok", start=T0)
    good.steps[2].status, good.steps[2].error_type, good.steps[2].error_message = "ok", None, None
    bad = support_run(project, "bad-run", start=T0 + timedelta(hours=1))
    bad.steps[2].tool_arguments = {"id": 4412, "note": XSS}
    bad.steps.insert(3, StepData(
        "retry-1", "root", kind="tool", name=XSS, tool_name="lookup_order",
        started_at=bad.steps[2].ended_at, ended_at=bad.steps[2].ended_at, status="ok"))
    return store(project, good), store(project, bad)


def test_it_diffs_two_rows_ticked_on_the_list(page, project, artifacts):
    good, bad = _pair(project)
    page.goto(page.base + "/")
    page.check(f"input.compare-pick[value='{good.id}']")
    page.check(f"input.compare-pick[value='{bad.id}']")
    # The list refreshes itself every 5 s; ticked rows must survive it.
    page.wait_for_timeout(5500)
    assert page.locator("input.compare-pick:checked").count() == 2
    page.click("#compare-selected")
    page.wait_for_url(re.compile(r"/compare/\?run="))
    first = page.locator("#first-divergence")
    assert "called with other arguments" in first.inner_text()
    assert page.locator("tr.diff-only_b").count() == 1
    page.click("text=Jump to the first divergence")
    page.screenshot(path=str(artifacts / "run-diff.png"), full_page=True)
    assert_clean(page)


def test_it_diffs_a_failed_run_with_the_last_success(page, project):
    good, bad = _pair(project)
    page.goto(f"{page.base}/invocations/{bad.id}/")
    page.click("#compare-baseline")
    page.wait_for_url(re.compile(rf"/compare/\?a={good.id}&b={bad.id}$"))
    assert page.locator("#diff-summary").is_visible()
    page.click("#diff-b")
    page.wait_for_url(re.compile(rf"/invocations/{bad.id}/$"))
    assert_clean(page)


def test_it_shows_a_session_and_its_failed_turn(page, project, artifacts):
    for i, status in enumerate(("ok", "error", "ok")):
        data = support_run(project, f"turn-{i}", name=f"turn {i} {XSS}", status=status,
                           start=T0 + timedelta(minutes=i))
        data.attributes = {"conversation_id": "chat-7"}
        data.input, data.output = f"question {i}", f"answer {i}"
        store(project, data)
    page.goto(page.base + "/")
    page.click("a.session-link >> nth=0")
    page.wait_for_url(re.compile(r"/sessions/\?id=chat-7"))
    assert page.locator("#session-turns > li").count() == 3
    assert page.locator("#session-failed li").count() == 1
    texts = page.locator("#session-turns .role-assistant").all_inner_texts()
    assert [t.split("\n")[-1].strip() for t in texts] == ["answer 0", "answer 1", "answer 2"]
    page.screenshot(path=str(artifacts / "session.png"), full_page=True)
    assert_clean(page)


def test_it_draws_an_agents_graph_whose_nodes_open_the_list(page, project, artifacts):
    now = timezone.now()
    store(project, _multi_agent("g1", now - timedelta(minutes=10), fail_search=True))
    store(project, _multi_agent("g2", now - timedelta(minutes=5)))
    agent = Agent.objects.get(project=project, name="triage")
    page.goto(f"{page.base}/agents/{agent.id}/")
    page.click("#agent-graph-link")
    page.wait_for_selector("#agent-graph")
    assert page.locator("#agent-graph a.graph-node").count() == 5
    page.screenshot(path=str(artifacts / "agent-graph.png"), full_page=True)
    page.click("#agent-graph a.graph-node[data-name='search']")
    page.wait_for_url(re.compile(r"q=search"))
    assert page.locator("a.inv-link").count() == 2
    assert_clean(page)


def test_it_scrolls_a_100000_step_run_end_to_end(page, project, artifacts):
    """The time is printed, not asserted: speed is for bench_pages to measure."""
    inv = repeating_run(project, 49_999, fail_at=30_000)
    # The first open reads the whole run into the server process (SQLite here, on a machine
    # that may be busy): generous waits; bench_pages measures it.
    page.set_default_timeout(120_000)
    started = time.perf_counter()
    page.goto(f"{page.base}/invocations/{inv.id}/")
    page.wait_for_selector("#tree-window tr")
    opened = time.perf_counter() - started
    # Collapsed: two stretches around the failed call.
    assert page.locator("tr.tree-group").count() == 2
    page.screenshot(path=str(artifacts / "replay-100k-collapsed.png"), full_page=True)
    # Open the first stretch (~60,000 rows) and scroll through it all.
    page.click("tr.tree-group >> nth=0 >> a")
    page.wait_for_function(
        "() => Number(document.getElementById('step-tree').dataset.total) > 50000")
    total = int(page.get_attribute("#step-tree", "data-total"))
    viewport = page.locator("#tree-viewport")
    jumps, started = 0, time.perf_counter()
    while True:
        top = page.evaluate(
            "() => { const v = document.getElementById('tree-viewport');"
            " v.scrollTop = Math.min(v.scrollTop + v.clientHeight * 40, v.scrollHeight);"
            " return Math.floor(v.scrollTop / 28); }")
        jumps += 1
        # Wait until the rows on screen are the ones that belong there.
        page.wait_for_function(
            "row => { const w = document.getElementById('tree-window');"
            " const f = Number(w.dataset.from), c = Number(w.dataset.count);"
            " return f <= row && row < f + c; }", arg=top)
        if page.evaluate("() => { const v = document.getElementById('tree-viewport');"
                         " return v.scrollTop + v.clientHeight >= v.scrollHeight - 2; }"):
            break
    scrolled = time.perf_counter() - started
    assert "answer" in viewport.inner_text()
    page.screenshot(path=str(artifacts / "replay-100k-end.png"), full_page=True)
    print(f"\n100,001-step run: opened in {opened:.2f} s; {total:,} rows scrolled end to end "
          f"in {jumps} jumps, {scrolled:.2f} s ({scrolled / jumps * 1000:.0f} ms a jump)")
    assert_clean(page)
