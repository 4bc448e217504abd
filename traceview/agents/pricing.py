"""Cost of a model call from its token counts, for traces that carry tokens but no cost.

Prices come from the ModelPrice table (defaults seeded by migration 0007, editable in /admin/).
`price_for` and `step_cost` are pure; `prices_load` reads the table once per ingest request.

Cached input and reasoning tokens are not canonical fields: they are read from the step's raw
attributes, under the names the conventions use (OTel GenAI, OpenInference, the OpenAI usage
object). Following OpenAI and the OTel GenAI conventions, cached tokens are counted inside the
input tokens and reasoning tokens inside the output tokens, so they are re-priced, not added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

MILLION = Decimal(1_000_000)

CACHED_KEYS = (
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cached_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.cachedInputTokens",
)
REASONING_KEYS = (
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.output_tokens.reasoning",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.reasoningTokens",
)


@dataclass(frozen=True, slots=True)
class Price:
    pattern: str
    effective_from: date
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    reasoning: Decimal | None = None


def price_for(prices: list[Price], model: str, when: datetime | date | None) -> Price | None:
    """The most specific price for `model` in force on `when`: the longest matching pattern,
    then its latest effective date not after `when`, else (a trace older than every row) its
    earliest, since an approximate cost is better than none."""
    model = (model or "").lower()
    if not model:
        return None
    matching = [p for p in prices if fnmatchcase(model, p.pattern.lower())]
    if not matching:
        return None
    longest = max(len(p.pattern) for p in matching)
    candidates = sorted(
        (p for p in matching if len(p.pattern) == longest), key=lambda p: p.effective_from
    )
    day = when.date() if isinstance(when, datetime) else when
    if day is None:
        return candidates[-1]
    in_force = [p for p in candidates if p.effective_from <= day]
    return in_force[-1] if in_force else candidates[0]


def usage_details(attributes: dict[str, Any] | None) -> tuple[int, int]:
    """(cached input tokens, reasoning tokens) named in a step's raw attributes."""
    attrs = attributes or {}
    cached = _first_int(attrs, CACHED_KEYS)
    reasoning = _first_int(attrs, REASONING_KEYS)
    usage = attrs.get("usage")
    if isinstance(usage, dict):
        # The OpenAI usage object, kept whole by the OpenAI Agents format.
        details = usage.get("input_tokens_details") or usage.get("prompt_tokens_details") or {}
        out_details = (
            usage.get("output_tokens_details") or usage.get("completion_tokens_details") or {}
        )
        if not cached and isinstance(details, dict):
            cached = _int(details.get("cached_tokens"))
        if not reasoning and isinstance(out_details, dict):
            reasoning = _int(out_details.get("reasoning_tokens"))
    return cached, reasoning


def step_cost(
    price: Price,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> Decimal:
    """Dollars for one call. Cached and reasoning counts are clamped to the totals they are part
    of, so a sender that reports them apart (Anthropic's cache reads) is never charged less than
    nothing for its plain input."""
    inp, out = max(input_tokens or 0, 0), max(output_tokens or 0, 0)
    cached = min(max(cached_tokens, 0), inp)
    reasoning = min(max(reasoning_tokens, 0), out)
    cached_price = price.cached_input if price.cached_input is not None else price.input
    reasoning_price = price.reasoning if price.reasoning is not None else price.output
    dollars = (
        (inp - cached) * price.input
        + cached * cached_price
        + (out - reasoning) * price.output
        + reasoning * reasoning_price
    )
    return dollars / MILLION


def prices_load() -> list[Price]:
    from traceview.agents.models import ModelPrice

    return [
        Price(p.pattern, p.effective_from, p.input_per_mtok, p.output_per_mtok,
              p.cached_input_per_mtok, p.reasoning_per_mtok)
        for p in ModelPrice.objects.all()
    ]


def _first_int(attrs: dict, keys: tuple[str, ...]) -> int:
    for key in keys:
        if key in attrs:
            value = _int(attrs[key])
            if value:
                return value
    return 0


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
