"""The judge on real Celery workers: its own queue, so classification never waits on a model;
its rate limit; a 429's Retry-After honoured by the task's retry."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.conftest import wait_for
from tests.judge.stub import answer, reply
from traceview.judge.services import invocation_judge_enqueue
from traceview.models import Diagnosis, Invocation, JudgeVerdict

pytestmark = pytest.mark.worker


def _silent_failure(trace_id: str) -> dict:
    """A run that failed with no error on any step: only the rules' fallback explains it, so
    the judge is asked."""
    return {"invocations": [{"trace_id": trace_id, "status": "error", "steps": [
        {"span_id": "root", "kind": "agent", "name": "bot", "status": "error",
         "started_at": 1767225600, "ended_at": 1767225610},
        {"span_id": "llm-1", "parent_span_id": "root", "kind": "llm", "name": "chat",
         "status": "ok", "output": {"role": "assistant", "content": "Here is your refund: 40 EUR"},
         "started_at": 1767225601, "ended_at": 1767225602},
    ]}]}


def _post(live_server, api_key, body):
    r = requests.post(f"{live_server.url}/api/v1/traces", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 202, r.text


def test_it_judges_on_its_own_queue_while_classification_goes_on(
    live_server, api_key, judge_workers, stub
):
    rules_worker, judge_worker = judge_workers
    release = threading.Event()
    stub.script = [{"hold": release, "then": reply(
        answer("planning", "llm-1", [("llm-1", "Here is your refund: 40 EUR")]))}]
    try:
        _post(live_server, api_key, _silent_failure("slow-judge"))
        wait_for(lambda: stub.requests, worker=judge_worker)
        first = Invocation.objects.get(trace_id="slow-judge")
        assert Diagnosis.objects.get(invocation=first).evidence[0]["rule"] == "engine.fallback"
        verdict = JudgeVerdict.objects.get(invocation=first)
        assert (verdict.status, verdict.trigger) == ("pending", "fallback")

        # The judge's call is still open: another run is classified all the same.
        _post(live_server, api_key, _silent_failure("next-run"))
        wait_for(lambda: Diagnosis.objects.filter(invocation__trace_id="next-run").exists(),
                 worker=rules_worker)
        assert len(stub.requests) == 1 and not release.is_set()
    finally:
        release.set()
    verdict = wait_for(
        lambda: JudgeVerdict.objects.filter(invocation=first, status="done").first(),
        worker=judge_worker,
    )
    assert (verdict.category, verdict.root_span_id) == ("planning", "llm-1")
    wait_for(lambda: JudgeVerdict.objects.filter(invocation__trace_id="next-run",
                                                 status="done").exists(), worker=judge_worker)
    received = "Task traceview.judge.tasks.judge_invocation["
    assert received not in rules_worker.log_path.read_text()
    assert received in judge_worker.log_path.read_text()


def test_it_waits_out_a_429_and_keeps_to_its_rate_limit(live_server, api_key, judge_workers,
                                                         stub, project):
    _, judge_worker = judge_workers
    good = reply(answer("planning", "llm-1", [("llm-1", "Here is your refund")]))
    stub.script = [{"status": 429, "headers": {"Retry-After": "2"}, "body": "{}"}, good, good]
    # Runs the rules are sure of (the judge is not asked on its own), then asked from the page.
    for trace_id in ("a", "b"):
        body = _silent_failure(trace_id)
        body["invocations"][0]["steps"][1].update(
            error={"type": "HTTPError", "message": "500"}, status="error", kind="tool")
        _post(live_server, api_key, body)
    invocations = [
        wait_for(lambda t=t: Invocation.objects.filter(trace_id=t, classified_version__gt=0)
                 .first(), worker=judge_worker)
        for t in ("a", "b")
    ]
    assert not JudgeVerdict.objects.exists()
    for invocation in invocations:
        invocation_judge_enqueue(invocation.id, "on_demand")
    wait_for(lambda: JudgeVerdict.objects.filter(status="done").count() == 2,
             worker=judge_worker)
    assert len(stub.requests) == 3
    times = [r["at"] for r in stub.requests]
    # One task a second at most (60/m; the calls follow the tasks' starts after a prompt is
    # built, which takes a varying part of a second), and the 429's Retry-After (2 s) before
    # its retry. Unlimited, the second call would follow the 429 within a tenth of a second.
    assert all(b - a >= 0.6 for a, b in zip(times, times[1:], strict=False)), times
    assert times[2] - times[0] >= 1.9, times
    assert "retry" in judge_worker.log_path.read_text().lower()
