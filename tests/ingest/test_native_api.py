"""The native ingest API: upserts, split and out-of-order arrival, errors, limits."""

import gzip
import json
import zlib

import pytest
from django.test import override_settings

from tests.conftest import post_native
from traceview.models import ApiKey, Invocation, Step, StepPayload


def body(trace_id="t-1", steps=None, **inv):
    return {"invocations": [{"trace_id": trace_id, **inv, "steps": steps or []}]}


STEPS = [
    {"span_id": "root", "kind": "agent", "name": "bot", "started_at": "2026-01-01T00:00:00Z",
     "ended_at": "2026-01-01T00:00:10Z"},
    {"span_id": "llm", "parent_span_id": "root", "kind": "llm", "model": "gpt-4o",
     "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.01,
     "started_at": "2026-01-01T00:00:01Z", "ended_at": "2026-01-01T00:00:02Z",
     "input": [{"role": "user", "content": "hi"}]},
    {"span_id": "tool", "parent_span_id": "root", "kind": "tool",
     "tool": {"name": "lookup", "arguments": {"id": 1}, "result": None},
     "error": {"type": "Timeout", "message": "timed out after 30s"},
     "started_at": "2026-01-01T00:00:03Z", "ended_at": "2026-01-01T00:00:09Z"},
]


def test_it_stores_an_invocation_with_its_steps(api, project):
    r = post_native(api, body(steps=STEPS, agent="bot", agent_version="1.0"))
    assert r.status_code == 202, r.content
    assert r.json() == {"invocations": 1, "steps": 3}
    inv = Invocation.objects.get(project=project, trace_id="t-1")
    assert inv.agent.name == "bot" and inv.agent_version == "1.0"
    assert (inv.step_count, inv.tool_call_count, inv.error_count) == (3, 1, 1)
    assert (inv.input_tokens, inv.output_tokens) == (100, 20)
    assert inv.status == "ok"  # the root step ended without an error
    assert inv.completed_at is not None
    tool = Step.objects.get(invocation=inv, span_id="tool")
    assert (tool.status, tool.error_type, tool.tool_name) == ("error", "Timeout", "lookup")
    assert tool.payload.tool_arguments == {"id": 1}
    assert Step.objects.get(invocation=inv, span_id="llm").payload.input == [
        {"role": "user", "content": "hi"}
    ]


def test_it_changes_nothing_when_the_same_data_is_sent_twice(api, project):
    for _ in range(2):
        assert post_native(api, body(steps=STEPS)).status_code == 202
    assert Invocation.objects.count() == 1
    assert Step.objects.count() == 3
    assert StepPayload.objects.count() == 3
    inv = Invocation.objects.get()
    assert (inv.input_tokens, inv.step_count) == (100, 3)


def test_it_accepts_steps_before_their_parent_and_before_their_invocation(api, project):
    child = {"trace_id": "t-9", **STEPS[1]}
    assert post_native(api, {"steps": [child]}).status_code == 202
    inv = Invocation.objects.get(trace_id="t-9")
    assert inv.status == "running" and inv.completed_at is None
    assert post_native(api, body("t-9", steps=[STEPS[0]], agent="bot")).status_code == 202
    inv.refresh_from_db()
    assert inv.step_count == 2 and inv.agent.name == "bot"
    assert inv.status == "ok" and inv.completed_at is not None


def test_it_completes_a_running_invocation_sent_again_later(api, project):
    post_native(api, body("t-2", status="running", started_at="2026-01-01T00:00:00Z",
                          name="first", input={"q": "x"}))
    inv = Invocation.objects.get(trace_id="t-2")
    assert inv.status == "running" and inv.completed_at is None
    post_native(api, body("t-2", status="error", ended_at="2026-01-01T00:01:00Z"))
    inv.refresh_from_db()
    assert inv.status == "error" and inv.completed_at is not None
    # Fields left out of the second request keep the values the first one gave them.
    assert inv.name == "first" and inv.input == {"q": "x"}
    assert inv.duration_s == 60


def test_it_merges_a_step_sent_in_two_parts(api, project):
    start = {"span_id": "s", "kind": "tool", "name": "search", "started_at": 1767225600,
             "tool": {"name": "search", "arguments": {"q": "a"}}}
    post_native(api, body("t-3", steps=[start]))
    step = Step.objects.get(span_id="s")
    assert step.status == "running"
    post_native(api, body("t-3", steps=[{"span_id": "s", "ended_at": 1767225601,
                                         "tool": {"result": "found"}}]))
    step.refresh_from_db()
    assert step.status == "ok" and step.name == "search" and step.duration_s == 1
    assert step.payload.tool_arguments == {"q": "a"} and step.payload.tool_result == "found"


@pytest.mark.parametrize(
    ("payload", "path", "reason"),
    [
        ({"invocations": [{"steps": []}]}, "invocations[0].trace_id", "is required"),
        (body(steps=[{"kind": "llm"}]), "invocations[0].steps[0].span_id", "is required"),
        (body(steps=[{"span_id": "a", "kind": "robot"}]), "invocations[0].steps[0].kind",
         "must be one of"),
        (body(steps=[{"span_id": "a", "started_at": "yesterday"}]),
         "invocations[0].steps[0].started_at", "RFC 3339"),
        (body(steps=[{"span_id": "a", "input_tokens": -3}]),
         "invocations[0].steps[0].input_tokens", "non-negative"),
        (body(status="done"), "invocations[0].status", "must be one of"),
        ({"steps": [{"span_id": "a"}]}, "steps[0].trace_id", "is required"),
        ({"invocations": {}}, "invocations", "must be an array"),
        ({}, "", "nothing to ingest"),
        ({"invocations": [], "extra": 1}, "extra", "unknown field"),
        (body(steps=[{"span_id": "a"}, {"span_id": "a"}]), "trace t-1", "appears twice"),
        (body(cost_usd="NaN"), "invocations[0].cost_usd", "non-negative number"),
    ],
)
def test_it_names_the_bad_field_and_writes_nothing(api, project, payload, path, reason):
    good = {"trace_id": "good", "steps": [{"span_id": "x"}]}
    if isinstance(payload.get("invocations"), list):
        payload = {**payload, "invocations": [good, *payload["invocations"]]}
        path = path.replace("invocations[0]", "invocations[1]")
    r = post_native(api, payload)
    assert r.status_code == 400, r.content
    errors = r.json()["errors"]
    assert any(e["path"] == path and reason in e["reason"] for e in errors), errors
    assert Invocation.objects.count() == 0 and Step.objects.count() == 0


@pytest.mark.parametrize(
    "raw", [b"", b"{not json", b"[1, 2]", b"null", b'"text"', b"\xff\xfe\x00"],
)
def test_it_answers_400_to_a_body_that_is_not_a_json_object(api, project, raw):
    r = api.post("/api/v1/traces", raw, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["reason"]


def test_it_rejects_requests_without_a_valid_key(client, project, api_key):
    assert client.post("/api/v1/traces", {}, content_type="application/json").status_code == 401
    r = client.post("/api/v1/traces", body(), content_type="application/json",
                    HTTP_AUTHORIZATION="Bearer tv_wrong")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    key = ApiKey.objects.get()
    key.revoked_at = key.created_at
    key.save()
    r = client.post("/api/v1/traces", body(), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert r.status_code == 401
    assert Invocation.objects.count() == 0


def test_it_stores_only_the_hash_of_a_key(project):
    key, raw = ApiKey.issue(project)
    assert raw not in (key.hashed_key, key.prefix) and len(key.hashed_key) == 64
    assert raw.startswith(key.prefix)


@override_settings(TRACEVIEW_MAX_BODY_BYTES=2000)
def test_it_answers_413_above_the_limit_even_after_decompression(api, project):
    big = body(steps=[{"span_id": "a", "input": "x" * 5000}])
    r = post_native(api, big)
    assert r.status_code == 413
    compressed = gzip.compress(json.dumps(big).encode())
    assert len(compressed) < 2000
    r = api.post("/api/v1/traces", compressed, content_type="application/json",
                 HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 413
    assert "TRACEVIEW_MAX_BODY_BYTES" in r.json()["errors"][0]["reason"]
    assert Invocation.objects.count() == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_it_accepts_compressed_bodies(api, project, encoding):
    raw = json.dumps(body(steps=STEPS)).encode()
    data = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    r = api.post("/api/v1/traces", data, content_type="application/json",
                 HTTP_CONTENT_ENCODING=encoding)
    assert r.status_code == 202
    assert Step.objects.count() == 3


def test_it_answers_400_to_corrupt_compressed_data(api, project):
    r = api.post("/api/v1/traces", b"not gzip", content_type="application/json",
                 HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 400


def test_it_stores_hostile_strings_without_failing(api, project):
    nasty = "a\x00b<script>alert(1)</script>\u202e"
    r = post_native(api, body("t-\x00", name=nasty, steps=[
        {"span_id": "s\x00", "name": nasty, "kind": "tool", "error": nasty,
         "attributes": {nasty: nasty, "n": float("1e308")}, "input": {"k": [nasty]}}]))
    assert r.status_code == 202, r.content
    step = Step.objects.get()
    assert "\x00" not in step.name and "<script>" in step.name
    assert step.error_message.startswith("a")


def test_it_keeps_each_projects_data_apart(api, project):
    other = type(project).objects.create(name="other")
    _, other_raw = ApiKey.issue(other)
    post_native(api, body("same-id", steps=[STEPS[0]]))
    from rest_framework.test import APIClient

    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {other_raw}")
    post_native(c, body("same-id", steps=[STEPS[1]]))
    assert Invocation.objects.filter(trace_id="same-id").count() == 2
    assert Invocation.objects.get(project=project).step_count == 1


def test_it_joins_id_records_across_requests_and_ignores_odd_ids(api, project):
    post_native(api, body("t-s", attributes={"scores": [{"id": "a", "v": 1}], "odd": [{"id": {}}]}))
    post_native(api, body("t-s", attributes={"scores": [{"id": "b", "v": 2}], "odd": [{"id": []}]}))
    attrs = Invocation.objects.get(trace_id="t-s").attributes
    assert [s["id"] for s in attrs["scores"]] == ["a", "b"]
    assert attrs["odd"] == [{"id": []}]


def test_it_takes_the_agent_named_beside_the_root_step(api, project):
    child = {"span_id": "c", "parent_span_id": "r", "kind": "llm"}
    post_native(api, body("t-a", agent="sub-agent", steps=[child]))
    assert Invocation.objects.get(trace_id="t-a").agent.name == "sub-agent"
    post_native(api, body("t-a", agent="planner", steps=[{"span_id": "r", "kind": "agent"}]))
    post_native(api, body("t-a", agent="sub-agent", steps=[{**child, "span_id": "c2"}]))
    assert Invocation.objects.get(trace_id="t-a").agent.name == "planner"
