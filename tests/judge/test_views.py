"""The judge on the pages: nothing when it is off; beside the rules' verdict when it is on, with
its tokens and cost, escaped; corrections compared with both; the agreement page per side."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.judge.prompt import PROMPT_VERSION
from traceview.judge.services import judge_config
from traceview.models import JudgeVerdict
from traceview.triage.services import invocation_correct


@pytest.fixture
def run(project):
    return store(project, support_run(project))


def _verdict(invocation, **fields) -> JudgeVerdict:
    values = dict(
        invocation=invocation, project=invocation.project, data_digest="d" * 64,
        data_version=invocation.data_version, model="stub-judge-1",
        prompt_version=PROMPT_VERSION, trigger="on_demand", status="done", category="planning",
        root_span_id="llm-2", confidence=0.7, summary="It claims the order shipped.",
        evidence=[{"step": "llm-2", "quote": "Your order has shipped"}], calls=1,
        prompt_tokens=1500, completion_tokens=120, cost_usd=Decimal("0.0042"),
    )
    values.update(fields)
    return JudgeVerdict.objects.create(**values)


def test_it_changes_nothing_on_the_replay_page_when_the_judge_is_off(browser_client, run,
                                                                     settings):
    html = browser_client.get(f"/invocations/{run.id}/").content.decode()
    assert "judge" not in html.lower() and "verdict-pair" not in html
    assert "<h2>Diagnosis</h2>" in html
    # On for other projects only: still nothing here, and the panel is not served.
    settings.TRACEVIEW_JUDGE_URL, settings.TRACEVIEW_JUDGE_MODEL = "http://127.0.0.1:9/v1", "m"
    settings.TRACEVIEW_JUDGE_PROJECTS = ["other"]
    assert "judge" not in browser_client.get(f"/invocations/{run.id}/").content.decode().lower()
    assert browser_client.get(f"/invocations/{run.id}/judge/").status_code == 404


def test_it_puts_the_judges_slot_beside_the_rules_verdict(browser_client, run, judge_on):
    html = browser_client.get(f"/invocations/{run.id}/").content.decode()
    pair = html[html.index('<div class="verdict-pair">'):]
    assert pair.index('id="diagnosis"') < pair.index('id="judge-verdict"')
    assert "by the rules" in pair and "by the language-model judge" in pair
    assert f'hx-get="/invocations/{run.id}/judge/"' in pair


def test_it_offers_to_ask_when_nothing_was_judged(browser_client, run, judge_on):
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "Not judged yet" in html and 'id="ask-judge"' in html
    assert f'hx-post="/invocations/{run.id}/judge/"' in html and "hx-trigger" not in html


def test_it_shows_the_judges_verdict_with_tokens_and_cost(browser_client, run, judge_on):
    _verdict(run)
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "planning failure" in html and 'id="judge-root"' in html
    assert "?step=llm-2" in html
    assert "1620 tokens (1500 prompt, 120 answer)" in html and "$0.0042" in html
    assert "stub-judge-1" in html and PROMPT_VERSION in html
    assert "<q>Your order has shipped</q>" in html
    assert "received data since" not in html


def test_it_escapes_everything_the_judge_said(browser_client, run, judge_on):
    _verdict(
        run, summary="<script>alert(1)</script> see https://evil.example/x",
        evidence=[{"step": "llm-2", "quote": '<img src=x onerror="alert(2)">'}],
    )
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html
    # Addresses in an answer are text, never links.
    assert 'href="https://evil.example' not in html
    _verdict(run, data_digest="e" * 64, status="unusable",
             problems=[{"attempt": 1, "problems": ['quote "<b>bold</b>" is not in step']}])
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "<b>bold" not in html and "&lt;b&gt;bold" in html


def test_it_says_when_the_judge_gave_no_usable_answer(browser_client, run, judge_on):
    _verdict(run, status="unusable", category="", root_span_id="", evidence=[],
             problems=[{"attempt": 1, "problems": ['root_step "x" is not the id of a step']},
                       {"attempt": 2, "problems": ["the answer is not one JSON object"]}])
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "failed the checks" in html
    assert "answer 2: the answer is not one JSON object" in html
    _verdict(run, data_digest="f" * 64, status="skipped", reason="monthly cap of $5.00 reached")
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "Not asked: monthly cap of $5.00 reached" in html


def test_it_marks_a_verdict_on_older_data(browser_client, run, judge_on):
    _verdict(run, data_version=run.data_version - 1)
    html = browser_client.get(f"/invocations/{run.id}/judge/").content.decode()
    assert "the run received data since" in html


def test_it_asks_the_judge_on_its_queue_and_polls_for_the_answer(browser_client, run, judge_on):
    from traceview.celery import app

    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("judge")
        queue.clear()
        response = browser_client.post(f"/invocations/{run.id}/judge/", HTTP_HX_REQUEST="true")
        message = queue.get(timeout=10)
        message.ack()
        queue.close()
    assert message.headers["task"] == "traceview.judge.tasks.judge_invocation"
    assert message.decode()[0] == [run.id, "on_demand"]
    html = response.content.decode()
    assert "Asked the judge" in html and 'hx-trigger="every 2s"' in html
    asked = re.search(r"\?asked=([0-9.]+)", html).group(1)
    # Until a verdict newer than the question is there, the panel keeps polling.
    _verdict(run, updated_at=timezone.now() - timezone.timedelta(minutes=1))
    html = browser_client.get(f"/invocations/{run.id}/judge/?asked={asked}").content.decode()
    assert 'hx-trigger="every 2s"' in html
    JudgeVerdict.objects.update(updated_at=timezone.now())
    html = browser_client.get(f"/invocations/{run.id}/judge/?asked={asked}").content.decode()
    assert "hx-trigger" not in html and "planning failure" in html


def test_it_keeps_another_projects_invocation_from_the_panel(client, run, judge_on):
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.create_user("mallory", password="pw-123456!")
    client.force_login(stranger)
    assert client.get(f"/invocations/{run.id}/judge/").status_code == 404
    assert client.post(f"/invocations/{run.id}/judge/").status_code == 404


def test_it_compares_a_correction_with_the_rules_and_the_judge(browser_client, run, judge_on,
                                                                user):
    # The rules call the false success claim a tool failure; the judge and the triager, as
    # the classification guide does, a planning failure at the answer.
    assert (run.diagnosis.category, run.diagnosis.root_span_id) == ("tool", "tool-1")
    _verdict(run, category="planning", root_span_id="llm-2")
    invocation_correct(run, user, "planning", "llm-2")
    html = browser_client.get(f"/invocations/{run.id}/triage/").content.decode()
    judge_line = html[html.index("Judge:"):html.index("Triager:")]
    assert "planning" in judge_line and "llm-2" in judge_line
    assert "the triager agrees" in judge_line
    assert "disagrees" in html[html.index("Triager:"):]

    page = browser_client.get("/issues/agreement/").content.decode()
    rules = page[page.index('id="agreement"'):page.index('id="judge-agreement"')]
    judge = page[page.index('id="judge-agreement"'):]
    rate = re.compile(r'data-category="planning">.*?class="num rate">(\d+)%', re.DOTALL)
    assert rate.search(rules).group(1) == "0" and rate.search(judge).group(1) == "100"
    assert "(1)" in page[page.index("Language-model judge agreement"):]


def test_it_leaves_the_agreement_page_as_it_was_when_the_judge_is_off(browser_client, run, user):
    invocation_correct(run, user, "tool", "tool-1")
    assert judge_config() is None
    page = browser_client.get("/issues/agreement/").content.decode()
    assert 'id="agreement"' in page and "judge" not in page.lower()
    assert "Judge:" not in browser_client.get(f"/invocations/{run.id}/triage/").content.decode()
