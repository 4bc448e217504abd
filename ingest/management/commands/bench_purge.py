"""`manage.py bench_purge`: what the retention purge costs ingest.

Seeds --invocations expired invocations (with --steps steps and payloads each, a search document
and a diagnosis) in a project of their own, generated inside PostgreSQL (INSERT ... SELECT over
generate_series, 50,000 invocations a transaction), then alternates rounds of `bench_ingest`
against a RUNNING server: one with the purge paused, one with it running in a thread of this
process (traceview.retention.purge.project_purge, the beat task's code, with its batch sizes:
first the seeded months' step partitions dropped whole, then the invocations in batches), until
the seeded invocations are gone or --rounds pairs are done. Alternating keeps the machine's
drift out of the comparison, and every other pair runs the purge first, so that what a round
leaves behind (dirty pages, WAL to checkpoint) weighs on rounds of both kinds alike. The purge
runs while a round's spans are posted and stored, the part measured; the worker then classifies
the round with the purge parked. Before each round, the purge parked, it VACUUM ANALYZEs the
tables the purge and ingest write, autovacuum's work in a deployment (autovacuum is off on the
development machine), and prints how long that took after rounds with and without the purge.
Prints each round, ingest's persisted spans/s without and with the purge and their ratio, and
the purge's own rate.
"""

from __future__ import annotations

import io
import os
import re
import statistics
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from traceview.core.partitions import partitions_ensure
from traceview.models import (
    ApiKey,
    Diagnosis,
    Invocation,
    InvocationSearch,
    Project,
    Step,
    StepPayload,
)
from traceview.retention.purge import BATCH, STEP_BATCH, PurgeResult, project_purge

HELP = """Seed N expired invocations, then alternate bench_ingest rounds without and with the
retention purge running, and print ingest's rate in both and their ratio. PostgreSQL only; start
the server and a worker as for bench_ingest (same DATABASE_URL):

  .venv/bin/gunicorn traceview.wsgi -b 127.0.0.1:8123 -w 4 &
  nice -n 19 .venv/bin/celery -A traceview worker -c 1 &
  .venv/bin/python manage.py bench_purge --url http://127.0.0.1:8123 --invocations 1000000
"""

PROJECT = "bench-purge"
CHUNK = 50_000
# Seeded invocations are this old; the purge's cutoff is half as far back.
AGE = timedelta(days=200)
PERSISTED = re.compile(r"persisted:\s+([\d,]+) spans/s")


def _insert_select(model, exprs: dict[str, str], source: str, params: list,
                   returning: str = "") -> list:
    """INSERT INTO model's table SELECT ... FROM source: columns in `exprs` take that SQL, every
    other column its field's default, so columns added later need no change here."""
    qn = connection.ops.quote_name
    columns, select, args = [], [], []
    for field in model._meta.concrete_fields:
        if field.column not in exprs and field.primary_key:
            continue  # a serial id
        columns.append(qn(field.column))
        if field.column in exprs:
            select.append(exprs[field.column])
        else:
            select.append("%s")
            args.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(columns)}) "
           f"SELECT {', '.join(select)} FROM {source}")
    if returning:
        sql = f"WITH new AS ({sql} RETURNING {returning}) SELECT min(id), max(id) FROM new"
    with connection.cursor() as cursor:
        cursor.execute(sql, args + params)
        return cursor.fetchall() if returning else []


class Command(BaseCommand):
    help = HELP

    def create_parser(self, *args, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(*args, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--invocations", type=int, default=1_000_000,
                            help="expired invocations to seed and purge (default 1,000,000)")
        parser.add_argument("--steps", type=int, default=5, help="steps of each (default 5)")
        parser.add_argument("--spans", type=int, default=20_000,
                            help="spans each bench_ingest round posts (default 20,000)")
        parser.add_argument("--rounds", type=int, default=0,
                            help="pairs of rounds at most (default: until the purge is done)")
        parser.add_argument("--batch", type=int, default=BATCH,
                            help=f"invocations a purge batch (default {BATCH})")
        parser.add_argument("--step-batch", type=int, default=STEP_BATCH,
                            help=f"steps a purge transaction (default {STEP_BATCH})")
        parser.add_argument("--duty", type=float, default=settings.TRACEVIEW_PURGE_DUTY,
                            help="share of the time the purge works (default "
                                 "TRACEVIEW_PURGE_DUTY, %(default)s)")
        parser.add_argument("--seed-only", action="store_true")

    def handle(self, *args, url, invocations, steps, spans, rounds, batch, step_batch, duty,
               seed_only, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_purge measures PostgreSQL: set DATABASE_URL")
        project, _ = Project.objects.get_or_create(name=PROJECT)
        # Kept forever by the beat task: only this benchmark purges it, with its own cutoff.
        Project.objects.filter(id=project.id).update(retention_days=0)
        self._seed(project, invocations, steps)
        if seed_only:
            return
        bench, _ = Project.objects.get_or_create(name="bench")
        _, key = ApiKey.issue(bench, name="bench_purge")
        cutoff = timezone.now() - AGE / 2

        go, parked, stop, done = (threading.Event() for _ in range(4))
        progress = {"result": PurgeResult(), "active": 0.0, "error": None}

        class Stopped(Exception):
            pass

        def wait_for_go():
            # Parked between batches: a round without the purge starts only once it is here.
            parked.set()
            go.wait()
            parked.clear()
            if stop.is_set():
                raise Stopped

        def on_batch(result: PurgeResult):
            progress["result"] = result
            if not go.is_set() or stop.is_set():
                paused = time.perf_counter()
                wait_for_go()
                progress["active"] -= time.perf_counter() - paused

        def purger():
            started = time.perf_counter()
            try:
                wait_for_go()
                started = time.perf_counter()
                progress["result"] = project_purge(project, cutoff, batch=batch,
                                                   step_batch=step_batch, duty=duty,
                                                   on_batch=on_batch)
            except Stopped:
                pass
            except Exception as exc:  # noqa: BLE001 - reported below
                progress["error"] = exc
            finally:
                progress["active"] += time.perf_counter() - started
                done.set()
                parked.set()
                connection.close()

        thread = threading.Thread(target=purger, daemon=True)
        thread.start()
        without, with_purge, pairs = [], [], []
        # Seconds of VACUUM ANALYZE after rounds without and with the purge.
        vacuumed, after_purge = {False: 0.0, True: 0.0}, False
        n = 0
        try:
            while not done.is_set() and (not rounds or n < rounds):
                n += 1
                # Every other pair runs the purge first. What a round leaves behind (dirty
                # pages, WAL to checkpoint) slows whatever round comes next: always a round
                # without the purge, were the order fixed, and the more the purge did the
                # faster it would look.
                rates, whole = {}, True
                for purging in (False, True) if n % 2 else (True, False):
                    # Autovacuum's work, done here with the purge parked (it is off on the
                    # development machine): what the round before left is cleaned up, and the
                    # steps' newest partition gets the statistics its lookups need.
                    vacuumed[after_purge] += self._vacuum()
                    after_purge = purging
                    if not purging:
                        parked.wait()
                        rates[False] = self._ingest(url, key, spans, n, "without purge")
                    else:
                        before = progress["result"].invocations
                        go.set()
                        rates[True] = self._ingest(url, key, spans, n, "with purge   ")
                        whole = not done.is_set()
                        go.clear()
                        parked.wait()
                        purged = progress["result"].invocations - before
                        self.stdout.write(
                            f"          purge removed {purged:,} invocations during it"
                            + ("" if whole else " and finished: pair not counted"))
                    # The worker classifies the round with the purge parked: the purge runs
                    # while spans are posted and stored, the part that is measured.
                    self._classified(bench)
                    if not whole:
                        break
                if whole:
                    without.append(rates[False])
                    with_purge.append(rates[True])
                    pairs.append(rates[True] / rates[False])
        finally:
            stop.set()
            go.set()
            thread.join()
        if progress["error"]:
            raise CommandError(f"the purge failed: {progress['error']!r}")
        result = progress["result"]
        left = Invocation.objects.filter(project=project).count()
        self.stdout.write(
            f"purge: {result.invocations:,} invocations and {result.steps:,} steps "
            f"({result.partitions} periods' partitions dropped whole) in "
            f"{progress['active']:.1f} s of running beside ingest "
            f"({result.invocations / max(progress['active'], 1e-9):,.0f} invocations/s, "
            f"batches of {batch} invocations and {step_batch} steps, duty {duty:g}); "
            f"{left:,} left")
        self.stdout.write(
            f"vacuum analyze before each round (autovacuum's work in a deployment): "
            f"{vacuumed[True]:.1f} s after the rounds with the purge, {vacuumed[False]:.1f} s "
            f"after those without")
        if without and with_purge:
            a, b = statistics.fmean(without), statistics.fmean(with_purge)
            self.stdout.write(
                f"ingest without purge: {a:,.0f} spans/s (mean of {len(without)}: "
                f"{', '.join(f'{r:,.0f}' for r in without)})")
            self.stdout.write(
                f"ingest with purge:    {b:,.0f} spans/s (mean of {len(with_purge)}: "
                f"{', '.join(f'{r:,.0f}' for r in with_purge)})")
            self.stdout.write(f"ratio: {b / a:.3f} (ingest loses {100 * (1 - b / a):.1f} %); "
                              f"median of the rounds' own ratios {statistics.median(pairs):.3f}")

    def _ingest(self, url: str, key: str, spans: int, n: int, label: str) -> float:
        out = io.StringIO()
        call_command("bench_ingest", url=url, spans=spans, key=key, seed=n, wait_classified=0,
                     stdout=out)
        found = PERSISTED.search(out.getvalue())
        if not found:
            raise CommandError(f"bench_ingest printed no persisted rate:\n{out.getvalue()}")
        rate = float(found.group(1).replace(",", ""))
        self.stdout.write(f"round {n:>3} {label}: {rate:,.0f} spans/s persisted")
        return rate

    def _vacuum(self) -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in (Invocation, InvocationSearch, Diagnosis, Step, StepPayload):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        return time.perf_counter() - started

    def _classified(self, project: Project, timeout: float = 300) -> None:
        pending = Invocation.objects.filter(project=project,
                                            classified_version__lt=F("data_version"))
        deadline = time.perf_counter() + timeout
        while pending.exists() and time.perf_counter() < deadline:
            time.sleep(0.2)

    # -----------------------------------------------------------------------------------------
    # Seeding, inside the database

    def _seed(self, project: Project, invocations: int, steps: int) -> None:
        have = Invocation.objects.filter(project=project).count()
        if have >= invocations:
            self.stdout.write(f"{have:,} invocations already seeded in project {PROJECT}")
            return
        started = time.perf_counter()
        base = timezone.now() - AGE
        # The seeded months' partitions, as they would exist had the data arrived then.
        partitions_ensure(base, base + invocations * timedelta(milliseconds=10))
        base = base.isoformat()
        run = os.urandom(4).hex()  # trace ids never collide with an earlier seeding's
        made = have
        while made < invocations:
            n = min(CHUNK, invocations - made)
            with transaction.atomic():
                self._chunk(project.id, made, n, steps, base, run)
            made += n
            self.stdout.write(f"  seeded {made:,} invocations "
                              f"({time.perf_counter() - started:.0f} s)")
        with connection.cursor() as cursor:
            for model in (Invocation, Step, StepPayload, InvocationSearch, Diagnosis):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        self.stdout.write(f"seeded {invocations - have:,} invocations with {steps} steps each "
                          f"in {time.perf_counter() - started:.0f} s")

    def _chunk(self, project_id: int, first: int, n: int, steps: int, base: str,
               run: str) -> None:
        at = f"('{base}'::timestamptz + g * interval '10 ms')"
        [(lo, hi)] = _insert_select(Invocation, {
            "project_id": str(int(project_id)),
            "trace_id": f"'purge-{run}-' || g",
            "name": "'expired run ' || g",
            "status": "'ok'",
            "started_at": at, "ended_at": f"{at} + interval '5 s'",
            "created_at": at, "last_data_at": at, "completed_at": at, "enqueued_at": at,
            "input_tokens": "1200", "output_tokens": "150", "cost_usd": "0.004",
            "step_count": str(int(steps)), "tool_call_count": str(int(steps) // 2),
            "classified_version": "1", "enqueued_version": "1",
        }, "generate_series(%s::bigint, %s::bigint) AS g", [first + 1, first + n],
            returning="id")
        mine = "i.project_id = %s AND i.id BETWEEN %s AND %s"
        _insert_select(Step, {
            "invocation_id": "i.id",
            "invocation_created_at": "i.created_at",
            "span_id": "'s' || k",
            "parent_span_id": "CASE WHEN k = 1 THEN '' ELSE 's1' END",
            "kind": "CASE WHEN k = 1 THEN 'agent' WHEN k %% 2 = 0 THEN 'llm' ELSE 'tool' END",
            "name": "CASE WHEN k %% 2 = 0 THEN 'chat gpt-4o' ELSE 'search_docs' END",
            "started_at": "i.created_at + k * interval '1 s'",
            "ended_at": "i.created_at + k * interval '1 s' + interval '800 ms'",
            "status": "'ok'",
            "model": "CASE WHEN k %% 2 = 0 THEN 'gpt-4o' ELSE '' END",
            "tool_name": "CASE WHEN k > 1 AND k %% 2 = 1 THEN 'search_docs' ELSE '' END",
            "seq": "k",
        }, f"traceview_invocation i CROSS JOIN generate_series(1, {int(steps)}) AS k "
           f"WHERE {mine}", [project_id, lo, hi])
        _insert_select(StepPayload, {
            "step_id": "s.id",
            "invocation_created_at": "s.invocation_created_at",
            "input": "jsonb_build_array(jsonb_build_object('role', 'user', 'content', "
                     "'where is my order ' || s.id || ', it was due last week and the "
                     "tracking page says nothing'))",
            "output": "jsonb_build_object('role', 'assistant', 'content', "
                      "'order ' || s.id || ' shipped on Monday; tracking number follows')",
            "tool_arguments": "CASE WHEN s.kind = 'tool' THEN jsonb_build_object('query', "
                              "'order ' || s.id) END",
        }, "traceview_step s JOIN traceview_invocation i ON i.id = s.invocation_id "
           f"WHERE {mine}", [project_id, lo, hi])
        _insert_select(InvocationSearch, {
            "invocation_id": "i.id",
            "document": "i.trace_id || ' ' || i.name || ' chat gpt-4o search_docs where is "
                        "my order shipped tracking'",
        }, f"traceview_invocation i WHERE {mine}", [project_id, lo, hi])
        _insert_select(Diagnosis, {
            "invocation_id": "i.id", "ruleset": "'bench'", "confidence": "0.9",
            "classified_at": "i.created_at",
        }, f"traceview_invocation i WHERE {mine}", [project_id, lo, hi])
