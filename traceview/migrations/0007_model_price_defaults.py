"""Default model prices, in US dollars per million tokens, as the vendors' public price pages
listed them on 2025-08-15 (OpenAI, Anthropic, Google; standard tier, prompts under 200k tokens).
Claude Opus 4.5 and Haiku 4.5 were added at their launch prices (2025-11-24 and 2025-10-15).
Edit or add rows in /admin/ (Model prices): a newer row with a later effective date takes over
from that date on, so older traces keep the price of their day."""

from datetime import date
from decimal import Decimal

from django.db import migrations

SEEN = date(2025, 8, 15)

# pattern, input, output, cached input, reasoning (None: the output price)
PRICES = [
    ("gpt-4o*", "2.50", "10.00", "1.25", None),
    ("gpt-4o-mini*", "0.15", "0.60", "0.075", None),
    ("gpt-4.1*", "2.00", "8.00", "0.50", None),
    ("gpt-4.1-mini*", "0.40", "1.60", "0.10", None),
    ("gpt-4.1-nano*", "0.10", "0.40", "0.025", None),
    ("gpt-5*", "1.25", "10.00", "0.125", None),
    ("gpt-5-mini*", "0.25", "2.00", "0.025", None),
    ("gpt-5-nano*", "0.05", "0.40", "0.005", None),
    ("o3*", "2.00", "8.00", "0.50", None),
    ("o3-mini*", "1.10", "4.40", "0.55", None),
    ("o4-mini*", "1.10", "4.40", "0.275", None),
    ("claude-sonnet-4*", "3.00", "15.00", "0.30", None),
    ("claude-3-7-sonnet*", "3.00", "15.00", "0.30", None),
    ("claude-3-5-sonnet*", "3.00", "15.00", "0.30", None),
    ("claude-opus-4*", "15.00", "75.00", "1.50", None),
    ("claude-opus-4-5*", "5.00", "25.00", "0.50", None),
    ("claude-haiku-4-5*", "1.00", "5.00", "0.10", None),
    ("claude-3-5-haiku*", "0.80", "4.00", "0.08", None),
    ("gemini-2.5-pro*", "1.25", "10.00", "0.31", None),
    ("gemini-2.5-flash*", "0.30", "2.50", "0.075", None),
    ("gemini-2.5-flash-lite*", "0.10", "0.40", "0.025", None),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("traceview", "ModelPrice")
    ModelPrice.objects.bulk_create(
        [
            ModelPrice(
                pattern=pattern,
                input_per_mtok=Decimal(inp),
                output_per_mtok=Decimal(out),
                cached_input_per_mtok=Decimal(cached) if cached else None,
                reasoning_per_mtok=Decimal(reasoning) if reasoning else None,
                effective_from=SEEN,
                note="default, vendor list price on 2025-08-15",
            )
            for pattern, inp, out, cached, reasoning in PRICES
        ],
        ignore_conflicts=True,
    )


def unseed(apps, schema_editor):
    apps.get_model("traceview", "ModelPrice").objects.filter(
        effective_from=SEEN, note__startswith="default"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("traceview", "0006_agent_scope_prices")]
    operations = [migrations.RunPython(seed, unseed)]
