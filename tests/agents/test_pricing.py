"""Model prices: choosing a price, pricing cached and reasoning tokens, and the costs ingest
stores for model calls that arrive without one (retries, partial updates, sent costs)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ingest.store import invocations_store
from traceview.agents.pricing import Price, price_for, step_cost, usage_details
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, ModelPrice, Step

D = Decimal
PRICES = [
    Price("gpt-4o*", date(2025, 1, 1), D("2.50"), D("10"), D("1.25")),
    Price("gpt-4o-mini*", date(2025, 1, 1), D("0.15"), D("0.60"), D("0.075")),
    Price("gpt-4o*", date(2026, 6, 1), D("2"), D("8")),
    Price("o3*", date(2025, 1, 1), D("2"), D("8"), None, D("4")),
]


def test_it_prefers_the_longest_pattern_and_the_price_in_force():
    assert price_for(PRICES, "gpt-4o-mini-2024-07-18", date(2026, 1, 1)).input == D("0.15")
    assert price_for(PRICES, "GPT-4o", date(2026, 1, 1)).input == D("2.50")
    assert price_for(PRICES, "gpt-4o", date(2026, 7, 1)).input == D("2")
    # Older than every row: the earliest price rather than none.
    assert price_for(PRICES, "gpt-4o", date(2020, 1, 1)).input == D("2.50")
    assert price_for(PRICES, "llama-3", date(2026, 1, 1)) is None
    assert price_for(PRICES, "", None) is None


def test_it_prices_cached_input_and_reasoning_tokens_inside_the_totals():
    price = PRICES[0]
    plain = step_cost(price, 1_000_000, 100_000)
    assert plain == D("2.50") + D("1.0")
    cached = step_cost(price, 1_000_000, 100_000, cached_tokens=400_000)
    assert cached == D("0.6") * D("2.50") + D("0.4") * D("1.25") + D("1.0")
    reasoning = step_cost(PRICES[3], 0, 1_000_000, reasoning_tokens=250_000)
    assert reasoning == D("0.75") * 8 + D("0.25") * 4
    # Counts beyond the totals they belong to are clamped, never negative.
    assert step_cost(price, 100, 0, cached_tokens=10_000) == D(100) * D("1.25") / 1_000_000


def test_it_reads_cached_and_reasoning_counts_from_attributes():
    assert usage_details({"gen_ai.usage.cache_read_input_tokens": 30,
                          "llm.token_count.completion_details.reasoning": "7"}) == (30, 7)
    assert usage_details({"usage": {"input_tokens_details": {"cached_tokens": 5},
                                    "output_tokens_details": {"reasoning_tokens": 2}}}) == (5, 2)
    assert usage_details({"gen_ai.usage.cache_read_input_tokens": "junk"}) == (0, 0)
    assert usage_details(None) == (0, 0)


T = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _run(*steps, trace="t-1"):
    return InvocationData(trace_id=trace, agent="bot", status="ok", started_at=T, ended_at=T,
                          steps=list(steps))


@pytest.fixture
def gpt(db):
    ModelPrice.objects.all().delete()
    ModelPrice.objects.create(pattern="gpt-4o*", input_per_mtok=D("2.5"), output_per_mtok=D("10"),
                              cached_input_per_mtok=D("1.25"), effective_from=date(2025, 1, 1))


def test_it_seeds_dated_default_prices(db):
    seeded = ModelPrice.objects.filter(note__startswith="default")
    assert seeded.filter(pattern="gpt-4o*").exists()
    assert seeded.filter(pattern__startswith="claude-sonnet-4").exists()


def test_it_computes_cost_where_the_trace_has_none_and_keeps_totals_under_retries(project, gpt):
    llm = StepData("l1", kind="llm", model="gpt-4o", started_at=T, input_tokens=1000,
                   output_tokens=100, attributes={"gen_ai.usage.cache_read_input_tokens": 200})
    sent = StepData("l2", kind="llm", model="gpt-4o", started_at=T, input_tokens=10,
                    output_tokens=10, cost_usd=D("0.5"))
    expected = (D(800) * D("2.5") + D(200) * D("1.25") + D(100) * 10) / 1_000_000
    for _ in range(3):  # retries add nothing
        invocations_store(project, [_run(llm, sent)])
    inv = Invocation.objects.get()
    assert Step.objects.get(span_id="l1").cost_usd == expected.quantize(D("0.000001"))
    assert Step.objects.get(span_id="l2").cost_usd == D("0.5")
    assert inv.cost_usd == expected.quantize(D("0.000001")) + D("0.5")


def test_it_reprices_a_call_whose_usage_arrives_later(project, gpt):
    invocations_store(project, [_run(StepData("l1", kind="llm", model="gpt-4o", started_at=T))])
    assert Invocation.objects.get().cost_usd == 0
    invocations_store(project, [_run(StepData("l1", input_tokens=1_000_000, output_tokens=0))])
    assert Invocation.objects.get().cost_usd == D("2.5")
    invocations_store(project, [_run(StepData("l1", output_tokens=100_000))])
    assert Invocation.objects.get().cost_usd == D("3.5")
    # A model without a price keeps no cost rather than a guessed one.
    invocations_store(project, [_run(StepData("x", kind="llm", model="mystery", input_tokens=5),
                                     trace="t-2")])
    assert Invocation.objects.get(trace_id="t-2").cost_usd == 0


def test_it_prices_run_level_usage_reported_without_a_cost(project, gpt):
    # A trajectory's model stats: tokens for the whole run, model calls without usage.
    run = _run(StepData("l1", kind="llm", model="gpt-4o", started_at=T), trace="traj")
    run.input_tokens, run.output_tokens = 1_000_000, 100_000
    invocations_store(project, [run])
    assert Invocation.objects.get(trace_id="traj").cost_usd == D("3.5")
    # A cost the sender reports stands.
    run.trace_id, run.cost_usd = "traj-2", D("0.42")
    invocations_store(project, [run])
    assert Invocation.objects.get(trace_id="traj-2").cost_usd == D("0.42")


def test_it_edits_prices_in_the_admin(client, db):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", password="pw-12345!")
    client.force_login(admin)
    assert client.get("/admin/traceview/modelprice/").status_code == 200
    response = client.post("/admin/traceview/modelprice/add/", {
        "pattern": "my-model*", "input_per_mtok": "1", "output_per_mtok": "2",
        "effective_from": "2026-01-01"})
    assert response.status_code == 302
    assert ModelPrice.objects.filter(pattern="my-model*").exists()
