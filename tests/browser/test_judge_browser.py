"""The judge on the replay page in Chromium: its verdict beside the rules' one, "ask the judge"
posting through htmx (CSRF from `hx-headers`) to a real worker on the judge's queue, which asks
the stub chat-completions server, and the panel updating in place with tokens and cost.

Here rather than in tests/judge so that it uses this folder's Playwright fixtures; the judge's
fixtures come from tests/judge/conftest.py."""

from __future__ import annotations

import pytest

from tests.judge.conftest import judge_on, judge_workers, stub  # noqa: F401 - fixtures
from tests.judge.stub import answer, reply
from tests.pages_data import store, support_run
from traceview.models import JudgeVerdict

pytestmark = [pytest.mark.browser, pytest.mark.worker]
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_it_asks_the_judge_and_shows_its_verdict_beside_the_rules(
    page, project, judge_workers, stub, artifacts  # noqa: F811 - fixtures
):
    stub.script = [reply(answer(
        "planning", "llm-2",
        [("llm-2", "Your order has shipped."), ("tool-1", "503 Service Unavailable")],
        summary="The answer claims the order shipped although the lookup failed.",
    ), usage=(1834, 96))]
    run = store(project, support_run(project))
    page.goto(f"{page.base}/invocations/{run.id}/")
    rules, judge = page.locator("#diagnosis"), page.locator("#judge-verdict")
    expect(rules.locator("h2")).to_contain_text("by the rules")
    expect(judge.locator("h2")).to_contain_text("by the language-model judge")
    expect(judge).to_contain_text("Not judged yet")
    page.evaluate("window.__noReload = true")

    page.click("#ask-judge")
    expect(judge).to_contain_text("planning failure", timeout=30_000)
    expect(judge).to_contain_text("The answer claims the order shipped")
    expect(page.locator("#judge-tokens")).to_have_text("1930 tokens (1834 prompt, 96 answer)")
    expect(page.locator("#judge-cost")).to_have_text("$0.0046")
    expect(rules).to_contain_text("tool failure")
    assert page.evaluate("window.__noReload") is True
    assert JudgeVerdict.objects.get(invocation=run).trigger == "on_demand"
    assert len(stub.requests) == 1

    # Side by side: the two panels share a row.
    r, j = rules.bounding_box(), judge.bounding_box()
    assert abs(r["y"] - j["y"]) < 2 and j["x"] >= r["x"] + r["width"]
    page.screenshot(path=str(artifacts / "judge-side-by-side.png"), full_page=False)

    page.click("#judge-root")
    page.wait_for_url("**?step=llm-2")
    expect(page.locator("#step-detail h2")).to_contain_text("chat gpt-4o")
    assert page.dialogs == [] and page.console_errors == []
