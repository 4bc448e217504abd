"""Input at the edges of what the columns hold, through the real endpoints (issue 15, items 1, 3
and 9): numbers beyond what a step or a sum can hold, JSON nested hundreds deep, values of the
wrong type where a reader expected text, and ids longer than their columns. Each is a 400 that
names the field, or a partial success that stores the rest; never a 500 and never a merge."""

from __future__ import annotations

import json

from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.store import MAX_TOTAL_COST
from tests.conftest import post_native
from tests.ingest.test_odd_input import ROOT, langfuse, otlp, post_batch, post_otlp, span
from traceview.classify.diagnosis import invocation_classify
from traceview.core.trace import MAX_TOKENS
from traceview.models import Invocation, Step

__all__ = ["langfuse"]  # the fixture, imported for the Langfuse tests


def step(span_id="s1", **extra):
    return {"span_id": span_id, "kind": "llm", "model": "gpt-4o", "status": "ok", **extra}


def native(*steps, trace_id="run-1", **extra):
    return {"invocations": [{"trace_id": trace_id, "status": "ok", "steps": list(steps),
                             **extra}]}


def paths(response) -> list[str]:
    return [e["path"] for e in response.json()["errors"]]


# ---------------------------------------------------------------------------------------------
# Numbers


def test_it_refuses_token_counts_whose_sum_would_overflow_naming_the_field(api, project):
    # Two such steps once overflowed the invocation's 64-bit total: a 500 at ingest.
    r = post_native(api, native(step("a", input_tokens=2**62), step("b", input_tokens=2**62)))
    assert r.status_code == 400
    assert paths(r) == ["invocations[0].steps[0].input_tokens",
                        "invocations[0].steps[1].input_tokens"]
    assert str(MAX_TOKENS) in r.json()["errors"][0]["reason"]
    assert not Invocation.objects.exists()


def test_it_refuses_a_cost_beyond_any_model_call(api, project):
    r = post_native(api, native(step(cost_usd=99_999_999)))
    assert r.status_code == 400
    assert paths(r) == ["invocations[0].steps[0].cost_usd"]


def test_it_accepts_the_largest_token_count(api, project):
    r = post_native(api, native(step(input_tokens=MAX_TOKENS, output_tokens=MAX_TOKENS)))
    assert r.status_code == 202
    assert Invocation.objects.get().input_tokens == MAX_TOKENS


def test_it_holds_an_invocation_cost_at_its_column_instead_of_failing(api, project):
    assert post_native(api, native(step("a", cost_usd=1))).status_code == 202
    # An invocation gathering enough expensive steps over many requests reaches the column's
    # largest value: later requests still succeed and the total stays there.
    Invocation.objects.update(cost_usd=MAX_TOTAL_COST - 5)
    r = post_native(api, native(step("b", cost_usd=10_000)))
    assert r.status_code == 202, r.content
    assert Invocation.objects.get().cost_usd == MAX_TOTAL_COST
    assert Step.objects.count() == 2


def test_it_refuses_steps_that_are_not_an_array(api, project):
    r = post_native(api, {"invocations": [{"trace_id": "run-1", "steps": True}]})
    assert r.status_code == 400
    assert paths(r) == ["invocations[0].steps"]


def test_it_drops_otlp_token_counts_beyond_int64_and_keeps_the_span(api, project):
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
             {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(10**20)}},
             {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "7"}}]
    r = post_otlp(api, otlp(span(span_id=ROOT, parent=None, name="chat", attributes=attrs)))
    assert r.status_code == 200, r.content
    stored = Step.objects.get(span_id=ROOT)
    assert (stored.input_tokens, stored.output_tokens) == (None, 7)
    # What was sent is kept as sent in the raw attributes.
    assert stored.payload.attributes["gen_ai.usage.input_tokens"] == 10**20


def test_it_stores_a_langfuse_generation_with_absurd_usage_unpriced(langfuse, project):
    batch = [{"id": "e1", "type": "generation-create", "timestamp": "2026-01-01T00:00:00Z",
              "body": {"id": "g1", "traceId": "lf-1", "model": "gpt-4o",
                       "startTime": "2026-01-01T00:00:01Z", "endTime": "2026-01-01T00:00:02Z",
                       "usage": {"input": 10**20, "output": 5}}}]
    r = post_batch(langfuse, batch)
    assert r.status_code == 207, r.content
    assert r.json()["errors"] == []
    stored = Step.objects.get(span_id="g1")
    assert (stored.input_tokens, stored.output_tokens) == (None, 5)


# ---------------------------------------------------------------------------------------------
# Nesting


def nested(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def test_it_stores_classifies_and_shows_a_value_nested_to_the_limit(api, project,
                                                                    browser_client):
    # 124 levels of {"a": [...]} under a step's input: the body is 253 levels deep, the most
    # the wire accepts; everything downstream that walks values must cope with it.
    r = post_native(api, native(step(input=nested(124), span_id="deep", kind="llm"),
                                {"span_id": "t", "kind": "tool", "status": "error",
                                 "error": "boom", "tool": {"name": "x", "result": nested(124)}}))
    assert r.status_code == 202, r.content[:300]
    invocation = Invocation.objects.get()
    assert invocation_classify(invocation.id) is not None
    assert browser_client.get(f"/invocations/{invocation.id}/?step=deep").status_code == 200
    detail = api.get(f"/api/v1/invocations/{invocation.id}/steps/deep")
    assert detail.status_code == 200 and detail.json()["input"]["a"][0]["a"]


def test_it_refuses_native_json_nested_hundreds_deep_naming_where(api, project):
    r = post_native(api, native(step(input=nested(300))))
    assert r.status_code == 400, r.content[:300]
    [error] = r.json()["errors"]
    assert error["path"].startswith("invocations[0].steps[0].input.a[0].a[0]")
    assert "nested deeper than" in error["reason"]
    assert not Invocation.objects.exists()


def test_it_refuses_otlp_json_nested_hundreds_deep(api, project):
    # 150 nested values are 600 JSON levels: within the JSON parser's limit, not the readers'.
    value = '{"stringValue": "bottom"}'
    for _ in range(150):
        value = '{"kvlistValue": {"values": [{"key": "k", "value": ' + value + "}]}}"
    body = json.dumps(otlp(span(span_id=ROOT, parent=None, attributes="DEEP")))
    deep = '[{"key": "deep", "value": ' + value + "}]"
    r = post_otlp(api, body.replace('"DEEP"', deep).encode())
    assert r.status_code == 400, r.content[:300]
    assert "nested deeper than" in r.json()["message"]


def test_it_says_why_protobuf_values_nested_past_the_parsers_limit_are_refused(api, project):
    request = ExportTraceServiceRequest()
    pb_span = request.resource_spans.add().scope_spans.add().spans.add()
    pb_span.trace_id, pb_span.span_id = b"\x01" * 16, b"\x02" * 8
    attribute = pb_span.attributes.add()
    attribute.key, value = "deep", attribute.value
    for _ in range(40):
        inner = value.kvlist_value.values.add()
        inner.key, value = "k", inner.value
    value.string_value = "bottom"
    r = post_otlp(api, request.SerializeToString(), content_type="application/x-protobuf")
    assert r.status_code == 400
    assert "nested deeper than the protobuf parser's limit" in Status.FromString(r.content).message


def test_it_refuses_otlp_logs_nested_hundreds_deep(api, project):
    body = '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": ' + "[" * 400 + "]" * 400
    r = post_otlp(api, (body + "}]}]}]}").encode(), path="/v1/logs")
    assert r.status_code == 400, r.content[:300]
    assert "nested deeper than" in r.json()["message"]


def test_it_answers_otlp_log_records_with_odd_names_or_numeric_ids_without_500(api, project):
    # What fuzz_ingest found in the logs reader: an event name that is a list, ids as numbers
    # beyond 64 bits (read as inexact floats).
    def record(**fields):
        return {"timeUnixNano": "1700000000200000000", "spanId": "eee19b7ec3c1b174",
                "traceId": "5b8efff798038103d269b633813fc60c", "eventName": "gen_ai.user.message",
                "body": {"stringValue": "hi"}, **fields}
    records = [record(eventName=[["gen_ai.user.message"]]), record(spanId=10**30),
               record(traceId=-(2**70))]
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]})
    r = post_otlp(api, body.encode(), path="/v1/logs")
    assert r.status_code == 200, r.content[:300]
    assert r.json()["partialSuccess"]["rejectedLogRecords"] == "2"


def test_it_keeps_what_a_trace_nests_at_ordinary_depths(api, project):
    assert post_native(api, native(step(input=nested(40)))).status_code == 202
    payload = Step.objects.get().payload.input
    assert json.dumps(payload).count('"a"') == 40


# ---------------------------------------------------------------------------------------------
# Types


def test_it_answers_a_langfuse_event_whose_type_is_an_object_per_event(langfuse, project):
    body = {"id": "g1", "traceId": "lf-1", "startTime": "2026-01-01T00:00:01Z"}
    batch = [{"id": "e1", "type": {"x": 1}, "body": body},
             {"id": "e2", "type": ["generation-create"], "body": body},
             {"id": "e3", "type": "generation-create", "body": body}]
    r = post_batch(langfuse, batch)
    assert r.status_code == 207, r.content
    assert [(e["id"], e["status"]) for e in r.json()["errors"]] == [("e1", 400), ("e2", 400)]
    assert "type" in r.json()["errors"][0]["message"]
    assert Step.objects.get().span_id == "g1"


def test_it_keeps_an_otlp_span_whose_events_links_or_codes_are_absurd(api, project):
    # What fuzz_ingest found: events and links that are numbers, codes of 5,000 digits.
    attrs = [{"key": "list", "value": {"arrayValue": {"values": 7}}}]
    r = post_otlp(api, otlp(span(span_id=ROOT, parent=None, events=1e308, links=2**62,
                                 kind="9" * 5000, status={"code": "9" * 5000},
                                 attributes=attrs)))
    assert r.status_code == 200, r.content[:300]
    assert Step.objects.get().payload.attributes["list"] == []


# ---------------------------------------------------------------------------------------------
# Ids longer than their columns


def test_it_refuses_langfuse_ids_longer_than_the_column_instead_of_merging(langfuse, project):
    shared = "t" * 128
    batch = [{"id": f"e{i}", "type": "trace-create", "body": {"id": shared + suffix}}
             for i, suffix in enumerate(("-one", "-two"))]
    batch.append({"id": "e2", "type": "span-create",
                  "body": {"id": "s" * 129, "traceId": "lf-ok"}})
    r = post_batch(langfuse, batch)
    assert r.status_code == 207
    errors = r.json()["errors"]
    assert [e["id"] for e in errors] == ["e0", "e1", "e2"]
    assert "body.id must be a non-empty string of at most 128 characters" in errors[0]["message"]
    assert not Invocation.objects.exists()


def test_it_refuses_openai_agents_ids_longer_than_the_column(api, project):
    body = {"data": [{"object": "trace.span", "id": "span_1", "trace_id": "trace_" + "x" * 200,
                      "span_data": {"type": "function", "name": "lookup"}}]}
    r = api.post("/v1/traces/ingest", body, format="json")
    assert r.status_code == 400
    assert paths(r) == ["data[0].trace_id"]
    assert not Invocation.objects.exists()


def test_it_refuses_a_native_id_longer_than_the_column(api, project):
    r = post_native(api, native(step(parent_span_id="p" * 129)))
    assert r.status_code == 400
    assert paths(r) == ["invocations[0].steps[0].parent_span_id"]


def test_it_answers_405_to_a_langsmith_run_path_with_the_wrong_method(api, project):
    # The same view served both paths: a POST with a run id, or a PATCH without, was a 500.
    assert api.post("/runs/abc", {"id": "abc"}, format="json").status_code == 405
    assert api.patch("/runs", {"id": "abc"}, format="json").status_code == 405
