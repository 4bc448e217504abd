"""Redaction: built-in secret patterns, secret-named keys, extra patterns and the user's function.

The end-to-end test reads the raw request body the local server received, so a secret that
slipped past redaction anywhere in the payload fails it.
"""

from __future__ import annotations

import pytest
from traceview_sdk.redact import MASK, Redactor

SECRETS = {
    "openai": "sk-proj-Abc123def456GHI789jkl012MNO345pqr",
    "openai legacy": "sk-Abc123def456GHI789jkl012MNO345pqrSTU",
    "anthropic": "sk-ant-api03-Zyx987wvu654TSR321qpo000nml-AA",
    "aws access key": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
    "slack": "xoxb-123456789012-abcdefghij",
    "google": "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "stripe": "sk_live_51Habcdefghijklmnop",
}


@pytest.mark.parametrize("label", sorted(SECRETS))
def test_it_masks_builtin_secret_patterns_inside_text(label):
    secret = SECRETS[label]
    text = Redactor().text(f"calling the API with key {secret} now")
    assert secret not in text
    assert text == f"calling the API with key {MASK} now"


def test_it_masks_bearer_tokens_and_passwords_in_urls():
    redactor = Redactor()
    assert redactor.text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def") == (
        f"Authorization: Bearer {MASK}"
    )
    assert redactor.text("postgres://app:hunter2@db:5432/prod and https://example.com/x") == (
        f"postgres://app:{MASK}@db:5432/prod and https://example.com/x"
    )
    assert (
        redactor.text("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        == f"aws_secret_access_key = {MASK}"
    )


def test_it_leaves_ordinary_text_alone():
    text = "Basically, the skeleton key is in the ask-me drawer at https://example.com/docs"
    assert Redactor().text(text) == text


def test_it_masks_values_under_secret_named_keys_at_any_depth():
    value = Redactor().value(
        {
            "headers": {"Authorization": "abc", "X-Api-Key": "k"},
            "password": "pw",
            "input_tokens": 12,
            "items": [{"token": "t", "name": "n"}],
        }
    )
    assert value == {
        "headers": {"Authorization": MASK, "X-Api-Key": MASK},
        "password": MASK,
        "input_tokens": 12,
        "items": [{"token": MASK, "name": "n"}],
    }


def test_it_applies_extra_patterns_and_the_user_function_after_the_builtins():
    seen = []

    def user(record):
        seen.append(record["input"])
        if record.get("name") == "drop me":
            return None
        record["input"] = record["input"].replace("Alice", "<name>")
        return record

    redactor = Redactor(patterns=[r"\b\d{3}-\d{2}-\d{4}\b"], user=user)
    out = redactor.record(
        {
            "trace_id": "sk-ids-are-not-touched-0000000000",
            "span_id": "s1",
            "input": "Alice, SSN 123-45-6789, key sk-Abc123def456GHI789jkl012MNO",
        }
    )
    assert out == {
        "trace_id": "sk-ids-are-not-touched-0000000000",
        "span_id": "s1",
        "input": f"<name>, SSN {MASK}, key {MASK}",
    }
    assert seen == [f"Alice, SSN {MASK}, key {MASK}"]
    assert (
        redactor.record({"trace_id": "t", "span_id": "s", "name": "drop me", "input": ""}) is None
    )


def test_it_can_turn_the_builtin_patterns_off():
    assert Redactor(builtin=False).text(SECRETS["openai"]) == SECRETS["openai"]


def test_it_redacts_everything_before_it_leaves_the_process(ingest_server, make_client):
    def drop_ssn_step(record):
        return None if record.get("name") == "ssn lookup" else record

    client = make_client(ingest_server.url, redact=drop_ssn_step)
    with client.invocation(
        agent="keys",
        input=f"use {SECRETS['openai']}",
        attributes={"db": "postgres://u:pa55word@db/x"},
    ) as inv:
        with inv.step("call", kind="llm") as step:
            step.set_input([{"role": "user", "content": f"my key is {SECRETS['anthropic']}"}])
            step.set_attribute("api_key", "plain-secret-value")
        with inv.step("ssn lookup", kind="tool") as step:
            step.set_tool(arguments={"ssn": "123-45-6789"})
        with inv.step("boom") as step:
            step.record_error(RuntimeError(f"auth failed with {SECRETS['github']}"))
    client.flush(5)

    raw = b"".join(r["body"] for r in ingest_server.requests)
    for secret in (*SECRETS.values(), "pa55word", "plain-secret-value", "123-45-6789"):
        assert secret.encode() not in raw
    stored = ingest_server.store()[inv.trace_id]
    names = {s["name"] for s in stored["steps"].values()}
    assert names == {"keys", "call", "boom"}
    assert MASK in stored["input"] and stored["attributes"]["db"] == f"postgres://u:{MASK}@db/x"
