"""Small readers over what the test ingest server stored."""

from __future__ import annotations


def only(store: dict) -> dict:
    assert len(store) == 1, f"expected one invocation, got {list(store)}"
    return next(iter(store.values()))


def steps_by_name(invocation: dict) -> dict:
    return {step.get("name"): step for step in invocation["steps"].values()}
