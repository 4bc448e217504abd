"""The corpus recorded from real frameworks and exporters (tests/classify/recorded, issue 14).

The captures are replayed through the ingest routes as their exporters sent them; the labels were
written from /work/shared/CLASSIFICATION.md before any rule was tuned on them. These tests check
that ingest reads every capture (one run, the steps counted when it was recorded, the labelled
root among them), that the same run exported by different routes gets one verdict, and that the
split is the fixed seeded one, drawn for each batch of scenarios apart.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ingest.formats.labelled import load_recorded
from ingest.management.commands.evaluate_classifier import CaptureReplay
from traceview.classify.diagnosis import invocation_classify
from traceview.models import Project, Step

from .recorded.record import BATCHES, split_of, splits_by_batch

RECORDED = Path(__file__).resolve().parent / "recorded"
CAPTURES = load_recorded(RECORDED)


def logical_key(span_id: str | None, steps: list) -> tuple | None:
    """A step named the same way in every route: model calls by their order, tool calls by the
    tool's name and order, other steps by kind, name and order."""
    if span_id is None:
        return None
    seen: dict[tuple, int] = defaultdict(int)
    for s in steps:
        if s.kind == "llm":
            name = ("llm",)
        elif s.kind in ("tool", "retrieval"):
            name = ("tool", s.tool_name or s.name)
        else:
            name = (s.kind, s.name)
        seen[name] += 1
        if s.span_id == span_id:
            return (*name, seen[name])
    return ("missing", span_id)


def _ordered_steps(inv_id: int) -> list:
    return list(Step.objects.filter(invocation_id=inv_id).order_by("started_at", "seq", "id"))


@pytest.mark.parametrize("batch", BATCHES)
def test_each_batch_has_both_splits_and_every_category(batch):
    captures = [c for c in CAPTURES if c.batch == batch]
    splits = {c.split for c in captures}
    assert splits == {"tuning", "holdout"}
    categories = {c.category for c in captures}
    assert categories == {"planning", "tool", "context", "budget", None}
    scenarios = {c.scenario: c for c in captures}
    failed = sum(c.category is not None for c in scenarios.values())
    assert 20 <= len(scenarios) <= 60 and 2.5 <= failed / (len(scenarios) - failed) <= 3.5


def test_it_has_enough_scenarios_and_each_in_one_batch():
    scenarios = {(c.scenario, c.batch) for c in CAPTURES}
    assert len(scenarios) >= 40
    assert len({key for key, _ in scenarios}) == len(scenarios)
    assert {batch for _, batch in scenarios} == set(BATCHES)


@pytest.mark.parametrize("batch", BATCHES)
def test_it_keeps_the_seeded_split_by_scenario_within_each_batch(batch):
    categories = {c.scenario: c.category for c in CAPTURES if c.batch == batch}
    expected = split_of(categories)
    assert {c.scenario: c.split for c in CAPTURES if c.batch == batch} == expected
    for category in {c or "none" for c in categories.values()}:
        keys = [k for k, c in categories.items() if (c or "none") == category]
        holdout = sum(expected[k] == "holdout" for k in keys)
        assert holdout == round(len(keys) / 3), category


def test_a_new_batch_moves_no_scenario_of_the_earlier_ones():
    earlier = {f"s{i}": (cat, "base") for i, cat in enumerate(["tool", None, "planning"] * 7)}
    alone = splits_by_batch({k: (b, c) for k, (c, b) in earlier.items()})
    new = {f"n{i}": ("new", cat) for i, cat in enumerate(["tool", None, "planning"] * 5)}
    together = splits_by_batch({**{k: (b, c) for k, (c, b) in earlier.items()}, **new})
    assert {k: together[k] for k in alone} == alone
    # Drawn over all keys at once, the same categories would have reshuffled the earlier ones.
    pooled = split_of({**{k: c for k, (c, _) in earlier.items()},
                       **{k: c for k, (_, c) in new.items()}})
    assert {k: pooled[k] for k in alone} != alone
    # The new batch gets its own seeded third of each category.
    assert sum(together[k] == "holdout" for k in new) == 3 * round(5 / 3)


def test_it_records_each_scenario_through_at_least_three_routes():
    routes = defaultdict(set)
    for c in CAPTURES:
        routes[c.scenario].add(c.route)
    assert all(len(r) >= 3 for r in routes.values()), routes


@pytest.mark.django_db
def test_it_replays_every_capture_through_ingest():
    replay = CaptureReplay(Project.objects.create(name="recorded"))
    for capture in CAPTURES:
        inv_id = replay.store(capture)
        span_ids = {s.span_id for s in _ordered_steps(inv_id)}
        assert len(span_ids) == capture.steps, capture.key
        if capture.category is not None:
            assert capture.root_step in span_ids, capture.key
        else:
            assert capture.root_step is None, capture.key


@pytest.mark.django_db
def test_it_gives_one_verdict_to_one_run_whatever_the_route():
    replay = CaptureReplay(Project.objects.create(name="verdicts"))
    verdicts = defaultdict(dict)
    for capture in CAPTURES:
        inv_id = replay.store(capture)
        diagnosis = invocation_classify(inv_id)
        root = diagnosis.root_span_id or None
        # The labelled root is the same logical step in every route by construction (a limit
        # is rooted where each framework records it); any other root is compared by its key.
        if root is None or root != capture.root_step:
            root = logical_key(root, _ordered_steps(inv_id))
        else:
            root = "the labelled root"
        verdicts[capture.scenario][capture.route] = (diagnosis.category or None, root)
    split = {scenario: set(by_route.values()) for scenario, by_route in verdicts.items()
             if len(by_route) > 1}
    differing = sorted(scenario for scenario, found in split.items() if len(found) > 1)
    assert differing == sorted(SPLIT_VERDICTS), (
        f"{len(differing)} scenarios get different verdicts by route: {differing}")


# Runs that a later batch showed to get different verdicts by route when it was recorded, before
# any rule was tuned on it: the rules must be mended until this is empty (the test above fails
# as soon as one is mended, so that it is taken off, and when any other run splits).
SPLIT_VERDICTS: set[str] = {
    "devops-cert-expiry-guessed",  # blind-2 (holdout): splits since the rules of 2026-12-07 17:45
    "customs-duty-quoted-from-memory",  # blind-3 (holdout): split when blind-3 was first measured
    "newsroom-factcheck-subagents-past-deadline",  # blind-4 (holdout): split when first measured
    "pharmacy-refill-ready-without-checking",  # blind-4 (tuning): split when first measured
}


def test_it_names_the_same_step_in_every_route_for_each_label():
    # The labels themselves must pass the test above: each scenario's labelled root resolves
    # to the same logical step in every route that has it.
    import gzip
    import json

    from .recorded.record import capture_steps

    roots = defaultdict(set)
    for c in CAPTURES:
        if c.root_step is None:
            continue
        data = json.loads(gzip.decompress(
            (RECORDED / c.split / c.scenario / f"{c.route}.json.gz").read_bytes()))
        steps = capture_steps(data["requests"])
        key = logical_key(c.root_step, steps)
        # Limits are rooted where each framework records them (the agent span that carries
        # the error, or the last model call where none does): compare kinds there.
        roots[c.scenario].add(key[0] if key[0] not in ("llm", "tool") else key)
    assert all(len(k) == 1 or all(isinstance(x, str) for x in k) for k in roots.values()), roots
