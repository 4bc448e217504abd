"""The list and the replay page in a real browser: filter, open, step with keys, deep links, jump
to the root cause, play, chart clicks, live updates, and XSS payloads that must never run."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ingest.store import invocations_store
from tests.pages_data import T0, long_run, store, support_run
from traceview.core.trace import InvocationData, StepData

pytestmark = pytest.mark.browser


def wait_index(page, index: int) -> None:
    page.wait_for_function(
        "i => { const d = document.getElementById('step-detail');"
        " return d && d.dataset.index === i"
        " && document.getElementById('row-' + i)?.classList.contains('current'); }",
        arg=str(index),
    )


def assert_clean(page) -> None:
    assert page.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.console_errors == []


def test_it_filters_the_list_and_opens_a_replay(page, project):
    store(project, support_run(project, "run-a", name="failing ticket"))
    store(project, support_run(project, "run-b", name="happy ticket", agent="other-bot",
                               status="ok"))
    page.goto(page.base + "/")
    assert page.locator("a.inv-link").count() == 2
    page.fill("input[name=agent]", "support-bot")
    page.select_option("select[name=status]", "error")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"agent=support-bot"))
    assert page.locator("a.inv-link").all_inner_texts() == ["failing ticket"]
    page.click("a.inv-link")
    page.wait_for_url(re.compile(r"/invocations/\d+/$"))
    # It opens at the root cause.
    wait_index(page, 2)
    assert "HTTPError" in page.inner_text("#step-detail")
    assert_clean(page)


def test_it_steps_through_a_replay_with_keys_jump_and_play(page, project, artifacts):
    inv = store(project, support_run(project))
    url = f"{page.base}/invocations/{inv.id}/"
    page.goto(url + "?step=root")
    wait_index(page, 0)
    page.keyboard.press("j")
    wait_index(page, 1)
    assert page.url.endswith("?step=llm-1")
    assert "You are a support agent" in page.inner_text("#step-detail")
    page.keyboard.press("ArrowDown")
    wait_index(page, 2)
    page.keyboard.press("k")
    wait_index(page, 1)
    page.keyboard.press("End")
    wait_index(page, 4)
    assert "Added to the context since the model call" in page.inner_text("#step-detail")
    page.keyboard.press("Home")
    wait_index(page, 0)
    page.click("#jump-root")
    wait_index(page, 2)
    assert page.url.endswith("?step=tool-1")
    page.click("#play")
    wait_index(page, 4)
    page.wait_for_function("() => document.getElementById('play').textContent.includes('Play')")
    # A bar of the waterfall opens its step: the retrieval step has the fourth colour.
    bar = page.locator("#timeline-chart .barlayer .trace").nth(3).locator("path").first
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_index(page, 3)
    assert "Orders ship within 2 days." in page.inner_text("#step-detail")
    page.goto(url + "?step=llm-2")
    wait_index(page, 4)
    page.screenshot(path=str(artifacts / "replay.png"), full_page=True)
    assert_clean(page)


def test_it_opens_a_deep_link_into_a_large_tree(page, project):
    inv = long_run(project, 1200)
    page.goto(f"{page.base}/invocations/{inv.id}/?step=s1100")
    wait_index(page, 1100)
    # A window of the tree, not all of it.
    assert page.locator("#step-tree tbody tr").count() == 200
    page.keyboard.press("j")
    wait_index(page, 1101)
    page.keyboard.press("Home")
    # The first step is in another window of the tree, which is fetched and marked.
    wait_index(page, 0)
    assert page.locator("#step-tree tbody tr").count() == 200
    assert_clean(page)


def test_it_shows_new_steps_and_invocations_as_they_arrive(page, project):
    run = support_run(project, status="running", ended_at=None)
    run.steps = run.steps[:2]
    run.steps[0].status, run.steps[0].ended_at = "running", None
    inv = store(project, run, classify=False)
    page.goto(f"{page.base}/invocations/{inv.id}/")
    page.wait_for_selector("#row-1")
    assert page.locator("#row-2").count() == 0
    invocations_store(project, [InvocationData(trace_id="run-1", steps=[StepData(
        "late-tool", "root", kind="tool", name="late_lookup", status="ok",
        started_at=T0 + timedelta(seconds=2), ended_at=T0 + timedelta(seconds=3))])])
    page.wait_for_selector("#row-2 >> text=late_lookup", timeout=15_000)
    page.goto(page.base + "/")
    page.wait_for_selector("text=answer ticket 4411")
    store(project, support_run(project, "run-new", name="brand new run"), classify=False)
    page.wait_for_selector("text=brand new run", timeout=15_000)
    assert_clean(page)


PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    '"><svg onload="window.__xss=3;alert(3)">',
    "</script><script>window.__xss=4</script>",
    '<a href="javascript:window.__xss=5">click</a>',
    "{{7*7}}<b onmouseover=alert(6)>b</b>",
]


def test_it_runs_no_script_from_trace_data(page, project, api):
    from tests.conftest import post_native

    def p(i: int) -> str:
        return PAYLOADS[i % len(PAYLOADS)]

    steps = [
        {"span_id": p(0), "kind": "agent", "name": p(1), "agent_name": p(2),
         "started_at": 1767225600, "ended_at": 1767225609, "status": "error"},
        {"span_id": p(1), "parent_span_id": p(0), "kind": "llm", "name": p(2), "model": p(3),
         "input": [{"role": p(4), "content": p(5), "name": p(0)},
                   {"role": "user", "content": [{"type": "text", "text": p(1)}]}],
         "output": {"role": "assistant", "content": p(2), "tool_calls": [{"name": p(3)}]},
         "finish_reason": p(4), "attributes": {p(5): p(0), "gen_ai.request.temperature": p(1)},
         "input_tokens": 10, "output_tokens": 5, "started_at": 1767225601,
         "ended_at": 1767225602},
        {"span_id": p(2), "parent_span_id": p(0), "kind": "tool", "name": p(3),
         "tool": {"name": p(4), "call_id": p(5), "arguments": {p(0): [p(1), {p(2): p(3)}]},
                  "result": {p(4): p(5)}},
         "error": {"type": p(0), "message": p(1), "traceback": p(2)},
         "started_at": 1767225602, "ended_at": 1767225603},
        {"span_id": p(3), "parent_span_id": p(0), "kind": "retrieval", "name": p(4),
         "output": [{"id": p(5), "content": p(0), "score": p(1), p(2): p(3)}],
         "started_at": 1767225603, "ended_at": 1767225604},
        {"span_id": p(4), "parent_span_id": p(0), "kind": "llm", "name": p(5), "model": p(0),
         "input": [{"role": "user", "content": p(1)}, {"role": "tool", "content": p(2)}],
         "started_at": 1767225604, "ended_at": 1767225605},
    ]
    body = {"invocations": [{"trace_id": p(0), "name": p(1), "agent": p(2), "agent_version": p(3),
                             "status": "error", "input": p(4), "attributes": {p(5): p(0)},
                             "started_at": 1767225600, "ended_at": 1767225609, "steps": steps}]}
    assert post_native(api, body).status_code == 202
    from traceview.classify.diagnosis import invocation_classify
    from traceview.models import Invocation

    inv = Invocation.objects.get()
    diagnosis = invocation_classify(inv.id)
    assert diagnosis.evidence, "the payloads should reach the diagnosis evidence too"

    response = page.goto(page.base + "/?q=" + "script")
    csp = response.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    assert page.locator("a.inv-link").count() == 1
    page.click("a.inv-link")
    page.wait_for_selector("#step-detail[data-index]")
    response = page.reload()
    assert "'unsafe-inline'" not in response.headers["content-security-policy"].split(
        "script-src")[1].split(";")[0]
    # Every step, every chart, every hover: nothing may run.
    for i in range(len(steps)):
        page.goto(f"{page.base}/invocations/{inv.id}/")
        page.wait_for_selector("#step-detail[data-index]")
        page.click(f"#row-{i} a.step-link")
        wait_index(page, i)
        for details in page.locator("#step-detail details").all():
            details.evaluate("d => d.open = true")
        for bar in page.locator("#timeline-chart .barlayer path").all():
            box = bar.bounding_box()
            # Plotly's drag layer lies over the bars; hover by position, as a user does.
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(0, 0)
        for link in page.locator("#step-detail a, #invocation-summary a").all():
            link.hover()
    page.click(".evidence-step >> nth=0")
    page.wait_for_selector("#step-detail[data-index]")
    assert page.locator("text=" + PAYLOADS[0]).count() > 0  # shown as text, not run
    assert_clean(page)
