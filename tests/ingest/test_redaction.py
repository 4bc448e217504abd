"""Redaction at ingest: per-project rules remove secrets and personal data before anything is
stored, whatever wire format sent them, with a visible marker and a count on the step."""

from __future__ import annotations

import json

import orjson
import pytest
from django.core.exceptions import ValidationError

from tests.conftest import post_native
from tests.ingest.test_odd_input import ROOT, T0, TRACE, post_otlp
from traceview.core.redaction import Redactor, patterns_errors
from traceview.models import Invocation, Step

ALL = ["api_key", "bearer_token", "url_password", "email", "card_number"]
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
SECRET_TEXT = (
    f"use {OPENAI_KEY} with Authorization: Bearer eyJhbGciOi.payload-part_9 against "
    "postgres://app:hunter2@db.internal:5432/orders, mail ana.ruiz@example.com, "
    "card 4111 1111 1111 1111"
)


def redact(text: str, **rules) -> tuple[str, int]:
    counter = [0]
    return Redactor(**rules).text(text, counter), counter[0]


@pytest.mark.parametrize("text, kind", [
    (f"key {OPENAI_KEY} end", "api_key"),
    ("aws AKIAIOSFODNN7EXAMPLE end", "api_key"),
    ("gh ghp_" + "a" * 36 + " end", "api_key"),
    ("Authorization: Bearer abc.def-ghi_jkl", "bearer_token"),
    ("authorization: basic dXNlcjpwYXNzd29yZA==", "bearer_token"),
    ("dsn redis://default:s3cr3t@cache:6379/0", "url_password"),
    ("write to ana.ruiz@example.com today", "email"),
    ("card 4111-1111-1111-1111 on file", "card_number"),
    ("card 4012888888881881 on file", "card_number"),
])
def test_it_finds_each_builtin_kind(text, kind):
    out, n = redact(text, detectors=ALL)
    assert f"[redacted: {kind}]" in out and n == 1


def test_it_keeps_the_scheme_user_and_host_around_a_url_password():
    out, _ = redact("postgres://app:hunter2@db:5432/x", detectors=["url_password"])
    assert out == "postgres://app:[redacted: url_password]@db:5432/x"


def test_it_leaves_digit_runs_that_fail_the_luhn_check():
    text = "order 4111 1111 1111 1112 and invoice 1234567890123"
    assert redact(text, detectors=ALL) == (text, 0)


def test_it_leaves_ordinary_text_alone():
    text = "the basic plan costs 20 dollars; see https://example.com/pricing and user@host"
    assert redact(text, detectors=ALL) == (text, 0)


def test_it_applies_only_the_detectors_chosen():
    out, n = redact(f"mail ana.ruiz@example.com with {OPENAI_KEY}", detectors=["email"])
    assert out == f"mail [redacted: email] with {OPENAI_KEY}" and n == 1


def test_it_applies_custom_patterns_with_their_names():
    out, n = redact("ticket TCK-4411 for\nsecret: xyz\nend", patterns=[
        {"name": "ticket", "pattern": r"TCK-\d+"}, r"^secret:.*$"])
    assert out == "ticket [redacted: ticket] for\n[redacted: pattern 2]\nend" and n == 2


def test_it_matches_a_backtracking_pattern_in_linear_time_instead_of_hanging():
    # With a backtracking engine this pattern over this text would not finish.
    out, n = redact("a" * 200_000 + "!", patterns=[r"(a+)+$"])
    assert n == 0 and len(out) == 200_001


def test_it_names_what_is_wrong_with_a_pattern():
    errors = patterns_errors(["(?<=x)y", "", "a*", "x" * 600, "["])
    assert errors[0].startswith("pattern 1: not a valid RE2 regular expression")
    assert errors[1] == "pattern 2: the pattern must be a non-empty string"
    assert errors[2].startswith("pattern 3: matches the empty string")
    assert errors[3] == "pattern 4: longer than 500 characters"
    assert errors[4].startswith("pattern 5: not a valid RE2")


def test_it_refuses_invalid_rules_on_the_project(project):
    project.redact_detectors = ["email", "ssn"]
    project.redact_patterns = ["(?<=x)y"]
    project.redact_drop_keys = "password"
    with pytest.raises(ValidationError) as exc:
        project.full_clean()
    assert set(exc.value.message_dict) == {
        "redact_detectors", "redact_patterns", "redact_drop_keys"}
    assert "unknown detector ssn" in exc.value.message_dict["redact_detectors"][0]


def _otlp_chat_with_secrets() -> dict:
    def kv(key, value):
        return {"key": key, "value": {"stringValue": value}}

    messages = [{"role": "user", "parts": [{"type": "text", "content": SECRET_TEXT}]}]
    return {"resourceSpans": [{"resource": {"attributes": [
        kv("service.name", "billing-agent"), kv("deployment.password", "p4ss")]},
        "scopeSpans": [{"scope": {"name": "tests"}, "spans": [
            {"traceId": TRACE, "spanId": ROOT, "name": "chat gpt-4o",
             "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10**9),
             "attributes": [
                 kv("gen_ai.operation.name", "chat"),
                 kv("gen_ai.request.model", "gpt-4o"),
                 kv("gen_ai.input.messages", json.dumps(messages)),
                 kv("http.request.header.authorization", "Bearer abcdefghijkl"),
                 kv("app.note", "reach me at ops@example.org"),
             ]}]}]}]}


def test_it_redacts_an_otlp_span_before_storing_it(api, project):
    project.redact_detectors = ALL
    project.redact_drop_keys = ["http.request.header.*", "deployment.password"]
    project.save()
    assert post_otlp(api, _otlp_chat_with_secrets()).status_code == 200
    step = Step.objects.select_related("payload").get(invocation__trace_id=TRACE)
    stored = orjson.dumps([step.payload.input, step.payload.attributes]).decode()
    for secret in (OPENAI_KEY, "eyJhbGciOi", "hunter2", "ana.ruiz@example.com",
                   "4111 1111 1111 1111", "ops@example.org", "abcdefghijkl", "p4ss"):
        assert secret not in stored
    content = step.payload.input[0]["content"]
    for kind in ALL:
        assert f"[redacted: {kind}]" in content
    assert step.payload.attributes["app.note"] == "reach me at [redacted: email]"
    assert "http.request.header.authorization" not in step.payload.attributes
    assert "deployment.password" not in step.payload.attributes["otel.resource"]
    # five in the message, one in app.note, two keys dropped
    assert step.redactions == 8


def test_it_shows_the_count_on_the_step(api, project, browser_client):
    project.redact_detectors = ALL
    project.save()
    assert post_otlp(api, _otlp_chat_with_secrets()).status_code == 200
    inv = Invocation.objects.get(trace_id=TRACE)
    detail = api.get(f"/api/v1/invocations/{inv.id}/steps/{ROOT}").json()
    assert detail["redactions"] == 7  # five in the message, the note, the header
    page = browser_client.get(f"/invocations/{inv.id}/?step={ROOT}").content.decode()
    assert "7 values removed at ingest" in page


def test_it_redacts_native_tool_arguments_results_and_errors(api, project):
    project.redact_detectors = ["api_key", "email"]
    project.redact_patterns = [{"name": "order", "pattern": r"ORD-\d{4}"}]
    project.save()
    r = post_native(api, {"invocations": [{
        "trace_id": "native-1", "status": "error", "input": "for bob@example.com",
        "steps": [{
            "span_id": "t1", "kind": "tool", "name": "charge",
            "tool": {"name": "charge", "arguments": {"key": OPENAI_KEY, "order": "ORD-1234"},
                     "result": ["sent to bob@example.com"]},
            "error": {"type": "HTTPError", "message": f"401 for {OPENAI_KEY}"},
        }]}]})
    assert r.status_code == 202, r.content
    step = Step.objects.select_related("payload").get(span_id="t1")
    assert step.payload.tool_arguments == {"key": "[redacted: api_key]",
                                           "order": "[redacted: order]"}
    assert step.payload.tool_result == ["sent to [redacted: email]"]
    assert step.error_message == "401 for [redacted: api_key]"
    assert step.redactions == 4
    assert Invocation.objects.get(trace_id="native-1").input == "for [redacted: email]"


def test_it_stores_everything_as_sent_without_rules(api, project):
    assert post_otlp(api, _otlp_chat_with_secrets()).status_code == 200
    step = Step.objects.select_related("payload").get(invocation__trace_id=TRACE)
    assert SECRET_TEXT in step.payload.input[0]["content"]
    assert step.redactions == 0
