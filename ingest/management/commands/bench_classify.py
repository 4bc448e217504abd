"""How many invocations one process classifies per second.

    python manage.py bench_classify [--steps 30] [--n 2000] [--db-n 300] [--batch 50] [--seed 7]

Two figures for invocations of `--steps` steps (an agent span, then model calls and tool calls
with realistic payloads; a quarter of them fail in one of several ways):

- pure: `traceview.classify.engine.classify` over canonical invocations in memory;
- stored: `traceview.classify.diagnosis.invocations_classify` on the database, the worker's
  whole path (load the invocations, their steps and payloads; classify; store the diagnoses;
  group the failures), once with one invocation a task (an ingest request that completed one
  trace) and once with `--batch` a task (the sweep, or an exporter batching many traces). The
  invocations are stored in a scratch project inside a transaction that is rolled back afterwards.

Both run in this one process, so each is a per-process (per worker) rate. The target is >= 200/s
with 50 a task. Beside each rate: this process's CPU time an invocation (on a shared, loaded
machine the wall clock also counts other processes' turns), and for the stored path the queries
sent an invocation.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from ingest.store import invocations_store
from traceview.classify.diagnosis import invocations_classify
from traceview.classify.engine import classify
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, Project

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOOLS = ["search_docs", "lookup_order", "run_sql", "read_file", "send_email", "get_weather"]
FAILURES = [
    ("error", {"status": "error", "error_type": "HTTPError", "error_message": "503 Service "
                                                                             "Unavailable"}),
    ("result", {"tool_result": "Traceback (most recent call last):\n  File \"x.py\", line 3\n"
                              "KeyError: 'id'"}),
    ("limit", None),
    ("loop", None),
]


class _Rollback(Exception):
    pass


def bench_invocation(r: random.Random, n: int, steps: int) -> InvocationData:
    """One synthetic invocation of `steps` steps; about a quarter of them fail."""
    failing = r.random() < 0.25
    failure = r.choice(FAILURES) if failing else None
    inv = InvocationData(trace_id=f"bench-{n}", agent="bench-agent",
                         status="error" if failing else "ok", started_at=T0,
                         attributes={"agent.tools": TOOLS})
    root = StepData(span_id=f"{n}-0", kind="agent", name="bench-agent", status=inv.status,
                    started_at=T0, seq=0)
    inv.steps.append(root)
    history = [{"role": "system", "content": "You are a helpful agent. Use the tools."},
               {"role": "user", "content": "Find the order status and email the customer."}]
    t = 0.0
    loop_args = {"order_id": r.randint(1, 9999)}
    for k in range(1, steps):
        t += r.uniform(0.1, 1.5)
        start = T0 + timedelta(seconds=t)
        end = start + timedelta(seconds=0.4)
        if k % 2 == 1:
            text = r.choice(["Let me check that.", "Next I need the order details.",
                             "I'll look this up."])
            step = StepData(span_id=f"{n}-{k}", parent_span_id=root.span_id, kind="llm",
                            name="chat gpt-4o", model="gpt-4o", status="ok", started_at=start,
                            ended_at=end, seq=k, input=history[:2] + history[2:][-6:],
                            output={"role": "assistant", "content": text},
                            input_tokens=r.randint(500, 4000), output_tokens=r.randint(10, 300),
                            cost_usd=Decimal("0.002"), finish_reason="tool_calls")
            history.append({"role": "assistant", "content": text})
        else:
            name = r.choice(TOOLS)
            args = {"q": f"item {r.randint(1, 500)}", "limit": r.randint(1, 20)}
            result = {"rows": [{"id": r.randint(1, 99), "status": "shipped"} for _ in range(5)]}
            if failure and failure[0] == "loop" and k > steps // 2:
                name, args, result = "lookup_order", loop_args, {"status": "pending"}
            step = StepData(span_id=f"{n}-{k}", parent_span_id=root.span_id, kind="tool",
                            name=name, tool_name=name, tool_arguments=args, tool_result=result,
                            status="ok", started_at=start, ended_at=end, seq=k)
            if failure and failure[1] and k == steps - 2 - (steps % 2):
                for key, value in failure[1].items():
                    setattr(step, key, value)
            history.append({"role": "tool", "content": str(result)[:300]})
        inv.steps.append(step)
    if failure and failure[0] == "limit":
        root.error_type, root.error_message = "MaxTurnsExceeded", f"Max turns ({steps}) exceeded"
    inv.ended_at = root.ended_at = T0 + timedelta(seconds=t + 1)
    inv.output = "The order has shipped; I emailed the customer."
    return inv


class Command(BaseCommand):
    help = "Print invocations classified per second per process (pure and stored paths)."

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=30)
        parser.add_argument("--n", type=int, default=2000, help="invocations for the pure path")
        parser.add_argument("--db-n", type=int, default=300,
                            help="invocations for the stored path")
        parser.add_argument("--batch", type=int, default=50,
                            help="invocations a task for the second stored figure "
                                 "(the sweep sends 50)")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, steps, n, db_n, batch, seed, **options):
        r = random.Random(seed)
        invocations = [bench_invocation(r, k, steps) for k in range(n)]
        begin, cpu = time.perf_counter(), time.process_time()
        categories: dict[str | None, int] = {}
        for inv in invocations:
            c = classify(inv).category
            categories[c] = categories.get(c, 0) + 1
        pure = n / (time.perf_counter() - begin)
        cpu_ms = 1000 * (time.process_time() - cpu) / n
        self.stdout.write(f"pure classify: {pure:,.0f} invocations/s per process, "
                          f"{cpu_ms:.2f} ms CPU an invocation ({n} invocations of {steps} "
                          f"steps; verdicts {categories})")
        if db_n <= 0:
            return
        stored = [bench_invocation(r, n + k, steps) for k in range(db_n)]
        for size in (1, batch):
            rate, cpu_ms, queries = self._stored_rate(stored, size)
            self.stdout.write(
                f"stored, {size} invocation{'s' if size > 1 else ''} a task: {rate:,.0f} "
                f"invocations/s per process, {cpu_ms:.2f} ms CPU an invocation in this "
                f"process, {queries / len(stored):.2f} queries an invocation "
                f"({len(stored)} invocations of {steps} steps, database included)"
            )
        self.stdout.write(
            "the wall-clock rates count waits for the database and for other processes on a "
            "shared machine; the CPU figure is this process's work alone (1000 / it is the rate "
            "of a worker that never waits)"
        )

    def _stored_rate(self, stored: list[InvocationData], size: int) -> tuple[float, float, int]:
        """Classify the stored invocations `size` at a time, as tasks of that size would: the
        rate, this process's CPU milliseconds an invocation, and the queries sent."""
        try:
            with transaction.atomic():
                project = Project.objects.create(name=f"bench-{time.time_ns()}")
                invocations_store(project, stored)
                ids = list(Invocation.objects.filter(project=project).values_list("id", flat=True))
                sent = [0]

                def count(execute, sql, params, many, context):
                    sent[0] += 1
                    return execute(sql, params, many, context)

                with connection.execute_wrapper(count):
                    begin, cpu = time.perf_counter(), time.process_time()
                    for start in range(0, len(ids), size):
                        invocations_classify(ids[start : start + size])
                    rate = len(ids) / (time.perf_counter() - begin)
                    cpu_ms = 1000 * (time.process_time() - cpu) / len(ids)
                raise _Rollback
        except _Rollback:
            pass
        return rate, cpu_ms, sent[0]
