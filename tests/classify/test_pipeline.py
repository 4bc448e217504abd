"""The whole path with a real Celery worker process: ingest -> enqueue after commit -> classify,
the periodic sweep for quiet invocations, and reclassification on new data."""

import pytest
import requests

from tests.conftest import wait_for
from traceview.models import Diagnosis, Invocation


def _post(live_server, api_key, body):
    r = requests.post(
        f"{live_server.url}/api/v1/traces",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    return r


def _read(live_server, api_key, trace_id):
    r = requests.get(
        f"{live_server.url}/api/v1/invocations",
        params={"trace_id": trace_id},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    results = r.json()["results"]
    return results[0] if results else None


@pytest.mark.worker
def test_it_classifies_a_failed_tool_step_within_seconds(live_server, api_key, celery_worker):
    _post(
        live_server,
        api_key,
        {
            "invocations": [
                {
                    "trace_id": "pipe-1",
                    "status": "error",
                    "steps": [
                        {
                            "span_id": "root",
                            "kind": "agent",
                            "name": "bot",
                            "status": "error",
                            "started_at": 1767225600,
                            "ended_at": 1767225610,
                        },
                        {
                            "span_id": "call-7",
                            "parent_span_id": "root",
                            "kind": "tool",
                            "name": "search",
                            "tool": {"name": "search", "arguments": {"q": "x"}},
                            "error": {"type": "HTTPError", "message": "500 Internal Server Error"},
                            "started_at": 1767225601,
                            "ended_at": 1767225602,
                        },
                    ],
                }
            ]
        },
    )
    inv = wait_for(
        lambda: (_read(live_server, api_key, "pipe-1") or {}).get("diagnosis"), worker=celery_worker
    )
    assert inv["category"] == "tool"
    assert inv["root_step"] == "call-7"


@pytest.mark.worker
def test_it_classifies_an_invocation_that_went_quiet(live_server, api_key, celery_worker):
    # No root step end and no final status: only the sweep (quiet period 2 s here) finds it.
    _post(
        live_server,
        api_key,
        {
            "steps": [
                {
                    "trace_id": "pipe-2",
                    "span_id": "t",
                    "parent_span_id": "never-arrives",
                    "kind": "tool",
                    "error": "ConnectionError: connection refused",
                    "ended_at": 1767225601,
                }
            ]
        },
    )
    inv = Invocation.objects.get(trace_id="pipe-2")
    assert inv.completed_at is None
    wait_for(lambda: Diagnosis.objects.filter(invocation=inv).exists(), worker=celery_worker)
    assert Diagnosis.objects.get(invocation=inv).category == "tool"


@pytest.mark.worker
def test_it_reclassifies_when_new_data_arrives(live_server, api_key, celery_worker):
    base = {"trace_id": "pipe-3", "status": "ok", "ended_at": 1767225610}
    _post(
        live_server,
        api_key,
        {
            "invocations": [
                {**base, "steps": [{"span_id": "a", "kind": "llm", "ended_at": 1767225601}]}
            ]
        },
    )
    inv = Invocation.objects.get(trace_id="pipe-3")
    wait_for(lambda: Diagnosis.objects.filter(invocation=inv).exists(), worker=celery_worker)
    assert Diagnosis.objects.get(invocation=inv).category == ""
    _post(
        live_server,
        api_key,
        {
            "invocations": [
                {
                    **base,
                    "status": "error",
                    "steps": [
                        {
                            "span_id": "b",
                            "kind": "llm",
                            "ended_at": 1767225602,
                            "error": {
                                "type": "BadRequestError",
                                "message": "This model's maximum context length is 8192 tokens",
                            },
                        }
                    ],
                }
            ]
        },
    )
    wait_for(
        lambda: Diagnosis.objects.get(invocation=inv).category == "context", worker=celery_worker
    )
    inv.refresh_from_db()
    assert inv.classified_version == inv.data_version and inv.category == "context"


def test_it_classifies_the_rest_of_a_batch_when_one_invocation_fails(project, monkeypatch):
    # Runs the real task body in-process: the batch fails as a whole, then each invocation is
    # classified alone; the broken one is left for the sweep.
    from traceview.classify import diagnosis, tasks

    ok = Invocation.objects.create(project=project, trace_id="fine", status="ok")
    broken = Invocation.objects.create(project=project, trace_id="broken", status="ok")
    real = diagnosis.classify

    def flaky(canonical):
        if canonical.trace_id == "broken":
            raise ValueError("a rule crashed")
        return real(canonical)

    monkeypatch.setattr(diagnosis, "classify", flaky)
    assert tasks.classify_invocations.apply(args=[[broken.id, ok.id]]).get() == 2
    assert Diagnosis.objects.filter(invocation=ok).exists()
    assert not Diagnosis.objects.filter(invocation=broken).exists()
