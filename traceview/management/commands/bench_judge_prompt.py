"""How large the judge's prompt is, and so what a verdict costs: prints figures, tests nothing.

    python manage.py bench_judge_prompt [--steps 30 1000] [--invocation ID ...]

For synthetic runs of the given sizes (a tool-using agent whose history is kept to its last
messages, with realistic tool results and one failing call) and for stored invocations, it
builds the prompt (traceview.judge.prompt) and prints its characters, the byte bound that the
spend cap reserves, and its tokens counted with the o200k_base and cl100k_base tokenizers
(GPT-4o and GPT-4 families) when a tokenizer is installed (`pip install -e '.[tokens]'`,
the bpe-openai package, which ships the vocabularies), and the price of one call at the judge's
configured price or the model price table's gpt-4o-mini row.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from traceview.agents.pricing import price_for, prices_load, step_cost
from traceview.core.models import Invocation
from traceview.core.queries import invocation_canonical
from traceview.core.trace import InvocationData, StepData
from traceview.judge.prompt import prompt_build
from traceview.judge.services import judge_config

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SYSTEM = (
    "You are a travel assistant for Acme Travel. Use the tools to search flights and hotels, "
    "compare prices and book only what the customer confirmed. Never invent prices: quote "
    "them from the tools' results. Answer in the customer's language. " * 3
)
HISTORY_KEPT = 20
ANSWER_TOKENS = 250  # a typical verdict's length, for the cost line


def sample_run(steps: int, trace_id: str = "bench") -> InvocationData:
    """A synthetic failed run of `steps` steps: an agent span, then model calls and flight
    searches in turn, the model's input being the system prompt and the last HISTORY_KEPT
    messages; one search in the middle times out and the final answer quotes a price."""
    task = "Find me the cheapest flight from Berlin to Lisbon on 12 December and book it."
    history = [{"role": "user", "content": task}]
    out = [StepData("root", kind="agent", name="travel-agent", status="error", started_at=T0,
                    ended_at=T0 + timedelta(seconds=steps), seq=0)]
    failing = steps // 2 if steps // 2 % 2 == 0 else steps // 2 + 1
    for i in range(1, steps):
        at = T0 + timedelta(seconds=i)
        if i % 2 or i == steps - 1:
            last = i == steps - 1
            output = (
                {"role": "assistant", "content": "The cheapest flight is TP 539 at 89.40 EUR; "
                 "I booked it for you (booking reference QX7Z2K)."}
                if last else
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{i}", "type": "function", "function": {
                        "name": "search_flights",
                        "arguments": f'{{"from": "BER", "to": "LIS", "date": "2026-12-12", '
                                     f'"page": {i // 2 + 1}}}'}}]}
            )
            out.append(StepData(
                f"llm-{i}", "root", kind="llm", name="chat gpt-4o", model="gpt-4o",
                started_at=at, ended_at=at + timedelta(seconds=0.8), status="ok",
                input=[{"role": "system", "content": SYSTEM}, *history[-HISTORY_KEPT:]],
                output=output, input_tokens=900 + 40 * min(i, 2 * HISTORY_KEPT),
                output_tokens=60, finish_reason="stop" if last else "tool_calls", seq=i,
            ))
            history.append(output)
        else:
            failed = i == failing
            result = None if failed else {"flights": [
                {"flight": f"TP {500 + (i * 7 + k) % 90}", "depart": f"{6 + k}:{(i * 13) % 60:02d}",
                 "arrive": f"{10 + k}:{(i * 17) % 60:02d}", "stops": k % 2,
                 "price": {"amount": round(89.4 + (i * 3.7 + k * 11.3) % 140, 2),
                           "currency": "EUR"},
                 "fare": "light" if k % 2 else "classic", "seats_left": (i + k) % 9 + 1}
                for k in range(4)
            ], "page": i // 2, "more": True}
            out.append(StepData(
                f"tool-{i}", "root", kind="tool", name="search_flights",
                tool_name="search_flights", tool_call_id=f"call_{i - 1}",
                tool_arguments={"from": "BER", "to": "LIS", "date": "2026-12-12", "page": i // 2},
                tool_result=result, status="error" if failed else "ok",
                error_type="TimeoutError" if failed else None,
                error_message="search_flights did not answer within 30 s" if failed else None,
                started_at=at, ended_at=at + timedelta(seconds=0.5), seq=i,
            ))
            history.append({"role": "tool", "tool_call_id": f"call_{i - 1}",
                            "content": "error: timeout" if failed else str(result)})
    return InvocationData(trace_id=trace_id, agent="travel-agent", agent_version="2.1.0",
                          name="book a flight", status="error", input=task, started_at=T0,
                          ended_at=T0 + timedelta(seconds=steps), steps=out,
                          budgets={"max_steps": max(steps, 40)})


def _tokenizers() -> dict:
    try:
        import bpe_openai
    except ImportError:
        return {}
    return {name: bpe_openai.get_encoding(name) for name in ("o200k_base", "cl100k_base")}


class Command(BaseCommand):
    help = "Print the judge's prompt size and cost for synthetic and stored invocations."

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, nargs="*", default=[30, 1000])
        parser.add_argument("--invocation", type=int, nargs="*", default=[])

    def handle(self, steps, invocation, **options):
        config = judge_config()
        max_chars = config.max_prompt_chars if config else None
        price, priced = None, ""
        if config is not None and config.price is not None:
            price, priced = config.price, "the configured price"
        else:
            model = config.model if config else "gpt-4o-mini"
            price = price_for(prices_load(), model, timezone.now())
            priced = f"the price table's {model}" if price else ""
        encoders = _tokenizers()
        if not encoders:
            self.stdout.write("no tokenizer installed (pip install -e '.[tokens]'): the byte "
                              "bound only")
        runs = [(f"synthetic, {n} steps", sample_run(n)) for n in steps]
        for inv_id in invocation:
            row = Invocation.objects.select_related("agent").get(id=inv_id)
            runs.append((f"invocation {inv_id}, {row.step_count} steps", invocation_canonical(row)))
        output_tokens = config.max_output_tokens if config else 800
        for label, data in runs:
            started = time.perf_counter()
            prompt = prompt_build(data, max_chars) if max_chars else prompt_build(data)
            took = (time.perf_counter() - started) * 1000
            text = "\n".join(m["content"] for m in prompt.messages)
            counts = {name: len(enc.encode(text)) for name, enc in encoders.items()}
            self.stdout.write(
                f"{label}: {prompt.steps_shown} steps shown, fields cut at {prompt.field_limit} "
                f"characters; {prompt.chars:,} characters, byte bound {prompt.token_bound:,} "
                "tokens" + "".join(f", {n:,} {name} tokens" for name, n in counts.items())
                + f"; built in {took:.0f} ms"
            )
            if price is not None:
                tokens = counts.get("o200k_base", prompt.token_bound)
                typical = step_cost(price, tokens, ANSWER_TOKENS)
                bound = step_cost(price, prompt.token_bound, output_tokens)
                self.stdout.write(
                    f"  one call at {priced}: ${typical:.5f} with a {ANSWER_TOKENS}-token "
                    f"answer; reserved against the cap: ${bound:.5f}; a retried answer about "
                    f"doubles it"
                )
        if price is None:
            self.stdout.write("no price: configure the judge's or add the model to the table")
        else:
            self.stdout.write(f"prices per million tokens: ${price.input} in, "
                              f"${price.output} out")
