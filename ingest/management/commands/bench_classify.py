"""How many invocations one process classifies per second.

    python manage.py bench_classify [--steps 30] [--n 2000] [--db-n 300] [--batch 50] [--seed 7]

Two figures for invocations of `--steps` steps (an agent span, then model calls and tool calls
with realistic payloads; a quarter of them fail in one of several ways):

- pure: `traceview.classify.engine.classify` over canonical invocations in memory;
- stored: `traceview.classify.diagnosis.invocations_classify` on the database, the worker's
  whole path (load the invocations, their steps and payloads; classify; write the search
  documents; audit the tool scope; store the diagnoses; group the failures), once with one
  invocation a task (an ingest request that completed one trace), once with `--batch` a task
  (the sweep, or an exporter batching many traces), and once more at `--batch` a task over
  invocations classified before ("again": a reclassification, or late data). The invocations
  are stored in a scratch project inside a transaction that is rolled back afterwards.

Both run in this one process, so each is a per-process (per worker) rate. The target is >= 200/s
with 50 a task. On a shared, loaded machine the wall clock also counts other processes' turns, so
beside each rate come figures the load does not change: this process's CPU time an invocation,
and for the stored path the queries sent an invocation and, when PostgreSQL runs on this machine
(its backend's /proc/<pid>/schedstat is readable), the CPU time the database's backend spent on
them, of which the search document's write (the trigger that parses it into a tsvector) is
printed apart, beside the time to build the document in Python. Their sum is the time a worker
and its database take an invocation when neither waits; the time this process waited for a CPU
says how much of the wall clock the load took.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from ingest.store import invocations_store
from traceview.classify.diagnosis import invocations_classify
from traceview.classify.engine import classify
from traceview.core.models import InvocationSearch
from traceview.core.search import search_document
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, Project
from traceview.processes import gc_settle

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


def _schedstat(path: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting for one) of the process or thread at `path`."""
    with open(path) as f:
        run, wait = f.read().split()[:2]
    return int(run) / 1e9, int(wait) / 1e9


def backend_schedstat_path() -> str | None:
    """The schedstat file of this connection's PostgreSQL backend, when it is a process of this
    machine's (a server elsewhere, or in another PID namespace, has none to read)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/comm") as f:
            if not f.read().startswith("postgres"):
                return None
        _schedstat(f"/proc/{pid}/schedstat")
    except (OSError, ValueError):
        return None
    return f"/proc/{pid}/schedstat"


@dataclass
class StoredFigures:
    """What one stored-path run measured, totals over its invocations (seconds)."""
    invocations: int
    wall: float
    cpu: float
    queries: int
    cpu_wait: float | None  # this process's time waiting for a CPU
    db_cpu: float | None  # the database backend's CPU time
    search_db_cpu: float | None  # of which the search documents' writes

    def per_invocation_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None else 1000 * seconds / self.invocations


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
        # As the worker runs: what the process loaded at start is kept from the collector.
        gc_settle()
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
        cpu = time.process_time()
        for inv in invocations:
            search_document(inv)
        search_ms = 1000 * (time.process_time() - cpu) / n
        self.stdout.write(f"search document: {search_ms:.2f} ms CPU to build one (pure)")
        if db_n <= 0:
            return
        stored = [bench_invocation(r, n + k, steps) for k in range(db_n)]
        for size, again in ((1, False), (batch, False), (batch, True)):
            f = self._stored_rate(stored, size, again)
            ms = f.per_invocation_ms
            line = (
                f"stored{' again' if again else ''}, {size} invocation{'s' if size > 1 else ''} "
                f"a task: "
                f"{f.invocations / f.wall:,.0f} invocations/s per process; an invocation: "
                f"{ms(f.cpu):.2f} ms CPU in this process"
            )
            if f.db_cpu is not None:
                line += (f", {ms(f.db_cpu):.2f} ms CPU in the database (search document write "
                         f"{ms(f.search_db_cpu):.2f}), {ms(f.cpu + f.db_cpu):.2f} ms CPU in all")
            line += f", {f.queries / f.invocations:.2f} queries"
            if f.cpu_wait is not None:
                line += f", {ms(f.cpu_wait):.2f} ms waiting for a CPU"
            self.stdout.write(f"{line} ({f.invocations} invocations of {steps} steps)")
        self.stdout.write(
            "the wall-clock rates count waits for the database and for other processes on a "
            "shared machine; the CPU figures are the work alone (1000 / CPU in all is the rate "
            "of a worker whose database never waits)"
        )

    def _stored_rate(self, stored: list[InvocationData], size: int,
                     again: bool = False) -> StoredFigures:
        """Classify the stored invocations `size` at a time, as tasks of that size would, and
        measure it (StoredFigures); `again`: measure their second classification, with nothing
        new (a reclassification, or late data that changed no verdict)."""
        search_table = InvocationSearch._meta.db_table
        try:
            with transaction.atomic():
                project = Project.objects.create(name=f"bench-{time.time_ns()}")
                invocations_store(project, stored)
                ids = list(Invocation.objects.filter(project=project).values_list("id", flat=True))
                if again:
                    for start in range(0, len(ids), size):
                        invocations_classify(ids[start : start + size])
                backend = backend_schedstat_path()
                own = "/proc/self/schedstat" if backend or os.path.exists(
                    "/proc/self/schedstat") else None
                sent, search_db = [0], [0.0]

                def count(execute, sql, params, many, context):
                    sent[0] += 1
                    if backend is None or search_table not in sql:
                        return execute(sql, params, many, context)
                    before = _schedstat(backend)[0]
                    try:
                        return execute(sql, params, many, context)
                    finally:
                        search_db[0] += _schedstat(backend)[0] - before

                with connection.execute_wrapper(count):
                    db0 = _schedstat(backend)[0] if backend else None
                    wait0 = _schedstat(own)[1] if own else None
                    begin, cpu = time.perf_counter(), time.process_time()
                    for start in range(0, len(ids), size):
                        invocations_classify(ids[start : start + size])
                    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
                    figures = StoredFigures(
                        invocations=len(ids), wall=wall, cpu=cpu, queries=sent[0],
                        cpu_wait=_schedstat(own)[1] - wait0 if own else None,
                        db_cpu=_schedstat(backend)[0] - db0 if backend else None,
                        search_db_cpu=search_db[0] if backend else None,
                    )
                raise _Rollback
        except _Rollback:
            pass
        return figures
