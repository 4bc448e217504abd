"""Asking the judge through the stub over real HTTP: what is sent, what is stored, the checks and
their one retry, the cache, the spend cap, 429s, timeouts and refusals."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.judge.stub import answer, reply
from tests.pages_data import store, support_run
from traceview.classify.diagnosis import invocation_classify
from traceview.core.trace import StepData
from traceview.judge.prompt import PROMPT_VERSION
from traceview.judge.services import (
    JudgeRetry,
    invocation_judge,
    judge_trigger,
    retry_countdown,
)
from traceview.models import Diagnosis, JudgeSpend, JudgeVerdict

GOOD = answer("planning", "llm-2", [("llm-2", "Your order has shipped."),
                                    ("tool-1", "503 Service Unavailable")],
              summary="It claims the order shipped although the lookup failed.")


@pytest.fixture
def run(project):
    return store(project, support_run(project))


def test_it_stores_a_checked_verdict_with_its_tokens_and_cost(judge_on, stub, run):
    stub.script = [reply(GOOD, usage=(1500, 120))]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "done", verdict.problems
    assert (verdict.category, verdict.root_span_id) == ("planning", "llm-2")
    assert verdict.summary.startswith("It claims the order shipped")
    assert verdict.evidence[1] == {"step": "tool-1", "quote": "503 Service Unavailable"}
    assert (verdict.model, verdict.prompt_version, verdict.trigger) == (
        "stub-judge-1", PROMPT_VERSION, "on_demand")
    assert (verdict.calls, verdict.prompt_tokens, verdict.completion_tokens) == (1, 1500, 120)
    # $2 and $10 a million tokens.
    assert verdict.cost_usd == Decimal("0.004200")
    spend = JudgeSpend.objects.get(project=run.project)
    assert spend.month == timezone.now().date().replace(day=1)
    assert (spend.spent_usd, spend.calls, spend.prompt_tokens) == (Decimal("0.0042"), 1, 1500)

    (request,) = stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-judge"
    body = request["body"]
    assert body["model"] == "stub-judge-1" and body["temperature"] == 0
    assert body["max_tokens"] == 800
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert 'id="tool-1" kind=tool' in body["messages"][1]["content"]


def test_it_never_touches_the_rules_diagnosis(judge_on, stub, run):
    before = Diagnosis.objects.get(invocation=run).as_dict()
    stub.script = [reply(answer("context", "llm-1", [("llm-1", "Where is my order 4411?")]))]
    assert invocation_judge(run.id, "on_demand").category == "context"
    assert Diagnosis.objects.get(invocation=run).as_dict() == before
    assert run.__class__.objects.get(id=run.id).category == before["category"]


def test_it_asks_once_more_with_the_problems_then_stores_a_corrected_answer(judge_on, stub, run):
    stub.script = [
        reply(answer("planning", "llm-2", [("llm-2", "The order was delivered yesterday")])),
        reply(GOOD),
    ]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "done" and verdict.calls == 2
    assert verdict.problems[0]["attempt"] == 1
    assert "is not in step" in verdict.problems[0]["problems"][0]
    second = stub.requests[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert "The order was delivered yesterday" in second[2]["content"]
    assert "failed these checks" in second[3]["content"]
    assert "is not in step" in second[3]["content"]


@pytest.mark.parametrize("first, second, problem", [
    ("not json at all", '{"category": "tool", "root_step": "tool-1"', "not one JSON object"),
    (answer("tool", "tool-42", [("tool-1", "HTTPError")]),
     answer("tool", "step-99", [("tool-1", "HTTPError")]), "is not the id of a step in the run"),
    (answer("tool", "tool-1", [("llm-1", "503 Service Unavailable")]),
     answer("tool", "tool-1", [("search-1", "HTTPError 503")]), "is not in step"),
    (answer("network", "tool-1", [("tool-1", "HTTPError")]),
     answer("network", "tool-1", [("tool-1", "HTTPError")]), "is not one of planning"),
])
def test_it_records_an_answer_that_fails_the_checks_twice_as_unusable(
    judge_on, stub, run, first, second, problem
):
    stub.script = [reply(first), reply(second)]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "unusable"
    assert verdict.calls == 2 and len(stub.requests) == 2
    assert [p["attempt"] for p in verdict.problems] == [1, 2]
    assert problem in " ".join(verdict.problems[1]["problems"])
    assert verdict.category == "" and verdict.root_span_id == "" and verdict.evidence == []
    assert verdict.cost_usd > 0  # both calls were paid for


def test_it_reuses_the_verdict_for_unchanged_data_and_asks_again_for_new_data(
    judge_on, stub, project, run
):
    stub.script = [reply(GOOD)]
    first = invocation_judge(run.id, "low_confidence")
    again = invocation_judge(run.id, "on_demand")
    # Reclassifying the same data, and re-sending it, change nothing the judge reads.
    invocation_classify(run.id)
    store(project, support_run(project))
    cached = invocation_judge(run.id, "on_demand")
    assert first.id == again.id == cached.id and len(stub.requests) == 1
    assert cached.updated_at > first.updated_at

    data = support_run(project)
    data.steps.append(StepData("llm-3", "root", kind="llm", name="chat", status="ok",
                               output={"role": "assistant", "content": "Sorry, it did not."}))
    store(project, data)
    fresh = invocation_judge(run.id, "on_demand")
    assert fresh.id != first.id and len(stub.requests) == 2
    assert JudgeVerdict.objects.filter(invocation=run).count() == 2


def test_it_skips_a_call_that_would_start_past_the_monthly_cap(judge_on, stub, run):
    month = timezone.now().date().replace(day=1)
    JudgeSpend.objects.create(project=run.project, month=month, spent_usd=Decimal("4.99"))
    stub.script = [reply(GOOD)]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "skipped" and stub.requests == []
    assert verdict.reason.startswith("monthly cap of $5.00 reached: $4.9900 spent")
    assert verdict.cost_usd == 0 and verdict.reserved_usd == 0
    # Last month's spending does not count against this month's cap.
    JudgeSpend.objects.filter(project=run.project).update(month=date(2020, 1, 1))
    assert invocation_judge(run.id, "on_demand").status == "done"
    assert len(stub.requests) == 1


def test_it_counts_calls_in_flight_against_the_cap(judge_on, stub, run, project):
    """A call's worst case is held while it runs, so a second one cannot overrun the cap."""
    month = timezone.now().date().replace(day=1)
    JudgeSpend.objects.create(project=project, month=month, spent_usd=Decimal("4.90"))
    other = store(project, support_run(project, trace_id="run-2"))
    JudgeVerdict.objects.create(
        invocation=other, project=project, data_digest="x" * 64, model="stub-judge-1",
        prompt_version=PROMPT_VERSION, trigger="on_demand", status="pending", claim="c" * 32,
        claimed_at=timezone.now(), reserved_usd=Decimal("0.09"),
    )
    stub.script = [reply(GOOD)]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "skipped" and "$0.0900 held by calls in flight" in verdict.reason
    assert stub.requests == []


def test_it_skips_a_model_with_no_price(judge_on, stub, run, settings):
    settings.TRACEVIEW_JUDGE_PRICE_INPUT = ""
    stub.script = [reply(GOOD)]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "skipped" and "no price for model 'stub-judge-1'" in verdict.reason
    assert stub.requests == []


def test_it_prices_from_the_model_price_table_when_no_price_is_configured(
    judge_on, stub, run, settings
):
    settings.TRACEVIEW_JUDGE_PRICE_INPUT = settings.TRACEVIEW_JUDGE_PRICE_OUTPUT = ""
    settings.TRACEVIEW_JUDGE_MODEL = "gpt-4o-mini"
    stub.script = [reply(GOOD, usage=(1_000_000, 0))]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "done" and verdict.cost_usd == Decimal("0.15")


def test_it_charges_a_server_that_reports_no_usage_at_the_bound(judge_on, stub, run):
    stub.script = [reply(GOOD, usage=None)]
    verdict = invocation_judge(run.id, "on_demand")
    prompt_bytes = sum(len(m["content"].encode()) for m in stub.requests[0]["body"]["messages"])
    assert verdict.status == "done" and verdict.prompt_tokens >= prompt_bytes
    assert verdict.completion_tokens == len(GOOD.encode())
    assert "no token usage" in verdict.reason


def test_it_leaves_the_verdict_pending_with_the_servers_retry_after_on_a_429(judge_on, stub, run):
    stub.script = [{"status": 429, "headers": {"Retry-After": "7"}, "body": "slow down"},
                   reply(GOOD)]
    with pytest.raises(JudgeRetry) as raised:
        invocation_judge(run.id, "on_demand", claim="task1")
    assert raised.value.retry_after == 7 and raised.value.reason == "HTTP 429"
    verdict = JudgeVerdict.objects.get(id=raised.value.verdict_id)
    assert verdict.status == "pending" and verdict.reserved_usd == 0
    assert "waiting to ask again: HTTP 429" in verdict.reason
    # Another request leaves it to the one that holds it; the holder's retry completes it.
    assert invocation_judge(run.id, "on_demand", claim="task2").status == "pending"
    assert len(stub.requests) == 1
    assert invocation_judge(run.id, "on_demand", claim="task1").status == "done"
    assert retry_countdown(7, 0) == 7 and retry_countdown(None, 2) == 20
    assert retry_countdown(3600, 0) is None


def test_it_reads_retry_after_as_an_http_date(judge_on, stub, run):
    stub.script = [{"status": 503, "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}}]
    with pytest.raises(JudgeRetry) as raised:
        invocation_judge(run.id, "on_demand")
    assert raised.value.retry_after == 0 and raised.value.reason == "HTTP 503"


def test_it_gives_up_on_an_endpoint_that_does_not_answer_in_time(judge_on, stub, run, settings):
    settings.TRACEVIEW_JUDGE_TIMEOUT_S = 0.5
    stub.script = [{"hang": 3, "then": reply(GOOD)}]
    with pytest.raises(JudgeRetry) as raised:
        invocation_judge(run.id, "on_demand")
    assert raised.value.reason.startswith("no answer within 0.5 s")
    assert raised.value.retry_after is None
    assert JudgeVerdict.objects.get(id=raised.value.verdict_id).prompt_tokens == 0


@pytest.mark.parametrize("scripted, reason", [
    ({"status": 401, "body": '{"error": "bad key"}'}, 'HTTP 401: {"error": "bad key"}'),
    ({"status": 302, "headers": {"Location": "http://127.0.0.1:9/elsewhere"}}, "HTTP 302"),
    ({"status": 200, "body": '{"object": "list"}'}, "the reply is not a chat completion"),
])
def test_it_records_a_refusal_as_failed_without_following_it(judge_on, stub, run, scripted,
                                                             reason):
    stub.script = [scripted]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "failed" and verdict.reason.startswith(reason)
    assert len(stub.requests) == 1 and verdict.cost_usd == 0


def test_it_does_nothing_when_the_judge_is_off(settings, stub, run):
    stub.script = [reply(GOOD)]
    assert invocation_judge(run.id, "on_demand") is None
    settings.TRACEVIEW_JUDGE_URL, settings.TRACEVIEW_JUDGE_MODEL = stub.url, "m"
    settings.TRACEVIEW_JUDGE_PROJECTS = ["another-project"]
    assert invocation_judge(run.id, "on_demand") is None
    assert stub.requests == [] and not JudgeVerdict.objects.exists()


def test_it_enforces_a_projects_own_cap(judge_on, stub, run, settings):
    settings.TRACEVIEW_JUDGE_PROJECTS = ["acme=0"]
    stub.script = [reply(GOOD)]
    verdict = invocation_judge(run.id, "on_demand")
    assert verdict.status == "skipped" and "monthly cap of $0.00" in verdict.reason


@pytest.mark.django_db(transaction=True)
def test_it_holds_one_verdict_per_data_for_concurrent_requests(judge_on, stub, run):
    """Two requests at once: one calls, the other finds the verdict held and returns."""
    release = threading.Event()
    stub.script = [{"hold": release, "then": reply(GOOD)}]
    results = []

    def ask():
        from django.db import connection

        try:
            results.append(invocation_judge(run.id, "on_demand").status)
        finally:
            connection.close()

    first = threading.Thread(target=ask)
    first.start()
    try:
        for _ in range(100):
            if stub.requests:
                break
            threading.Event().wait(0.05)
        assert invocation_judge(run.id, "on_demand").status == "pending"
    finally:
        release.set()
        first.join(10)
    assert results == ["done"] and len(stub.requests) == 1


def test_it_wants_a_second_opinion_only_where_the_rules_are_unsure(project):
    from traceview.classify.engine import classify

    confident = classify(support_run(project))
    assert confident.category and confident.confidence >= 0.5
    assert judge_trigger(confident, 0.5) is None
    assert judge_trigger(confident, 0.99) == "low_confidence"

    silent = support_run(project)
    silent.steps = [StepData("root", kind="agent", name="bot", status="error"),
                    StepData("llm-1", "root", kind="llm", name="chat", status="ok",
                             output={"role": "assistant", "content": "Here you go."})]
    assert judge_trigger(classify(silent), 0.5) == "fallback"

    # A figure found in no tool result, over a table too large for the rules to check: a doubt
    # (over a small result it fails the run: planning.ungrounded_answer).
    invented = support_run(project, status="ok")
    invented.steps[2] = StepData(
        "tool-1", "root", kind="tool", name="lookup_order", tool_name="lookup_order",
        status="ok", tool_result="\n".join(["order line shipped return policy"] * 60),
        started_at=invented.steps[2].started_at, ended_at=invented.steps[2].ended_at)
    invented.steps[4].output = {"role": "assistant", "content": "Your order 4411 shipped and "
                                "costs 1,234.56 to return."}
    verdict = classify(invented)
    assert verdict.category is None and verdict.doubts
    assert judge_trigger(verdict, 0.5) == "doubtful"

    plain = support_run(project, status="ok")
    plain.steps[2] = StepData("tool-1", "root", kind="tool", name="lookup_order",
                              status="ok", tool_result={"status": "shipped"})
    assert judge_trigger(classify(plain), 0.5) is None

