"""`manage.py bench_pages`: server time of the list and replay pages at scale.

Creates (once; later runs reuse it) a project with --invocations invocations (each with a model
call and its messages, spread over 30 days, agents, statuses and categories) and one invocation of
--steps steps, then renders the pages with Django's test Client in this process and prints the
minimum and median of --runs timings for each: the list (first page, a filtered page, a search, a
later page by cursor), the replay page of the large invocation, one of its step details and one
window of its step tree, a run diff, a session, an agent's graph and the large run's graph.
Rows are written with COPY on PostgreSQL and bulk_create on SQLite.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from traceview.core.models import (
    Agent,
    Diagnosis,
    Invocation,
    InvocationSearch,
    Project,
    Step,
    StepPayload,
)
from traceview.core.partitions import partitions_ensure
from traceview.replay.outline import outline_cache_clear

HELP = """Create (if absent) N invocations and one large invocation, then print server times of
the list and replay pages (Django test Client, min/median over --runs).

  createdb -h 127.0.0.1 -U postgres traceview_bench
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/traceview_bench .venv/bin/python manage.py migrate
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/traceview_bench \\
      .venv/bin/python manage.py bench_pages            # 1,000,000 invocations on PostgreSQL
"""

PROJECT = "bench-pages"
BIG_TRACE = "bench-large-invocation"
AGENTS = [f"agent-{i}" for i in range(20)]
MODELS = ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4o-mini")
WORDS = ("invoice refund order shipping delay customer billing discount policy warehouse "
         "tracking address payment card timeout quota retry summary escalate").split()
CATEGORY_CYCLE = ("", "", "", "tool", "planning", "context", "budget", "")
BATCH = 20_000


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("--invocations", type=int, default=None,
                            help="invocations to have (default 1,000,000 on PostgreSQL, "
                                 "20,000 on SQLite)")
        parser.add_argument("--steps", type=int, default=20_000,
                            help="steps of the large invocation (default 20,000)")
        parser.add_argument("--runs", type=int, default=5, help="timed runs per page")

    def handle(self, *args, invocations, steps, runs, **options):
        pg = connection.vendor == "postgresql"
        target = invocations if invocations is not None else (1_000_000 if pg else 20_000)
        rng = random.Random(7)
        project, _ = Project.objects.get_or_create(name=PROJECT)
        user, _ = get_user_model().objects.get_or_create(username=PROJECT)
        project.members.add(user)
        agents = {a.name: a for a in Agent.objects.filter(project=project)}
        for name in AGENTS:
            if name not in agents:
                agents[name] = Agent.objects.create(
                    project=project, name=name, max_tokens=2_000_000,
                    max_cost_usd=Decimal("50"), max_steps=25_000,
                )
        started = time.perf_counter()
        big = self._large_invocation(project, agents[AGENTS[0]], steps, rng)
        have = Invocation.objects.filter(project=project).exclude(id=big.id).count()
        if have < target:
            self.stdout.write(f"creating {target - have:,} invocations …")
            self._invocations(project, list(agents.values()), have, target - have, rng)
        if pg and not InvocationSearch.objects.filter(invocation__project=project).exists():
            # Data made before search documents existed: derive them from the stored rows.
            with connection.cursor() as c:
                c.execute(
                    "INSERT INTO traceview_invocationsearch (invocation_id, document) "
                    "SELECT i.id, concat_ws(' ', i.trace_id, i.name, s.name, s.model, "
                    "s.error_message, p.input::text, p.output::text) "
                    "FROM traceview_invocation i JOIN traceview_step s ON s.invocation_id = i.id "
                    "JOIN traceview_steppayload p ON p.step_id = s.id WHERE i.project_id = %s "
                    "AND s.span_id = 'llm-1' ON CONFLICT DO NOTHING",
                    [project.id],
                )
        if pg:
            with connection.cursor() as c:
                for table in ("traceview_invocation", "traceview_step", "traceview_steppayload",
                              "traceview_invocationsearch"):
                    c.execute(f"VACUUM ANALYZE {table}")
        self.stdout.write(
            f"data ready in {time.perf_counter() - started:.1f} s: "
            f"{Invocation.objects.filter(project=project).count():,} invocations, "
            f"large one with {big.steps.count():,} steps ({connection.vendor})"
        )
        self._measure(user, project, big, runs)

    # -----------------------------------------------------------------------------------------
    # Data

    def _large_invocation(self, project, agent, steps, rng) -> Invocation:
        big = Invocation.objects.filter(project=project, trace_id=BIG_TRACE).first()
        if big is not None:
            return big
        self.stdout.write(f"creating the {steps:,}-step invocation …")
        t0 = timezone.now() - timedelta(days=31)
        with transaction.atomic():
            big = Invocation.objects.create(
                project=project, trace_id=BIG_TRACE, agent=agent, name="large invocation",
                status="error", category="budget", started_at=t0,
                ended_at=t0 + timedelta(seconds=steps), step_count=steps, created_at=t0,
                classified_version=1, completed_at=t0 + timedelta(seconds=steps),
            )
            rows, payloads, history = [], [], []
            parent = "root"
            rows.append(Step(invocation=big, span_id="root", kind="agent", name="planner",
                             status="error", started_at=t0, ended_at=big.ended_at, seq=0))
            tokens = cost = 0
            for i in range(1, steps):
                if i % 500 == 1:
                    parent = f"sub-{i}"
                    rows.append(Step(invocation=big, span_id=parent, parent_span_id="root",
                                     kind="agent", name=f"worker {i // 500}", status="ok",
                                     started_at=t0 + timedelta(seconds=i),
                                     ended_at=t0 + timedelta(seconds=i + 499), seq=i))
                    continue
                start = t0 + timedelta(seconds=i)
                llm = i % 2 == 0
                text = " ".join(rng.choice(WORDS) for _ in range(30))
                step = Step(
                    invocation=big, span_id=f"s{i}", parent_span_id=parent,
                    kind="llm" if llm else "tool", name="chat gpt-4o" if llm else "search_docs",
                    status="error" if i % 997 == 0 else "ok", seq=i, started_at=start,
                    ended_at=start + timedelta(seconds=0.8), model="gpt-4o" if llm else "",
                    tool_name="" if llm else "search_docs",
                    input_tokens=900 + i % 300 if llm else None,
                    output_tokens=80 if llm else None,
                    cost_usd=Decimal("0.0031") if llm else None,
                )
                rows.append(step)
                if llm:
                    history = (history + [{"role": "user", "content": text}])[-6:]
                    payloads.append((step.span_id, {"input": [
                        {"role": "system", "content": "You are a research agent."}, *history],
                        "output": {"role": "assistant", "content": text[:80]}}))
                    tokens += step.input_tokens + step.output_tokens
                    cost += step.cost_usd
                else:
                    payloads.append((step.span_id, {"tool_arguments": {"query": text[:40]},
                                                    "tool_result": {"hits": [text] * 3}}))
            self._write(Step, rows)
            ids = dict(Step.objects.filter(invocation=big).values_list("span_id", "id"))
            self._write(StepPayload, [
                StepPayload(step_id=ids[s], invocation_created_at=big.created_at, **kw)
                for s, kw in payloads])
            big.input_tokens, big.cost_usd = tokens, cost
            big.save(update_fields=["input_tokens", "cost_usd"])
            Diagnosis.objects.create(
                invocation=big, category="budget", root_span_id=f"s{steps // 2 * 2 - 2}",
                confidence=0.8, ruleset="bench",
                evidence=[{"rule": "budget.steps", "step": f"s{steps // 2 * 2 - 2}",
                           "detail": "step budget exceeded"}],
            )
        return big

    def _invocations(self, project, agents, have, count, rng):
        now = timezone.now()
        next_inv = (Invocation.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        next_step = (Step.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        # The last 30 days' periods, as they would exist had the data arrived over them.
        partitions_ensure(now - timedelta(days=31))
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            invs, steps, payloads, documents = [], [], [], []
            for k in range(n):
                i = have + done + k
                created = now - timedelta(seconds=(count + have - i) * 30 * 86400 / max(count, 1))
                category = CATEGORY_CYCLE[i % len(CATEGORY_CYCLE)]
                status = "error" if category else ("running" if i % 50 == 0 else "ok")
                tokens_in, tokens_out = 500 + (i * 37) % 20_000, 50 + (i * 13) % 2_000
                cost = Decimal(tokens_in * 3 + tokens_out * 12) / Decimal(1_000_000)
                agent = agents[i % len(agents)]
                words = " ".join(rng.choice(WORDS) for _ in range(12))
                inv = Invocation(
                    id=next_inv, project=project, trace_id=f"bench-{i:08d}", agent=agent,
                    # Four versions per agent, so version comparisons have two sides.
                    agent_version=f"1.{(i // len(agents)) % 4}",
                    name=f"{rng.choice(WORDS)} ticket {i}",
                    status=status, category=category, started_at=created,
                    ended_at=created + timedelta(seconds=1 + i % 120), input_tokens=tokens_in,
                    output_tokens=tokens_out, cost_usd=cost, step_count=1, created_at=created,
                    last_data_at=created, completed_at=created, data_version=1,
                    classified_version=1,
                )
                step = Step(
                    id=next_step, invocation_id=next_inv, invocation_created_at=created,
                    span_id="llm-1", kind="llm",
                    name="chat", model=MODELS[i % len(MODELS)], status="ok", started_at=created,
                    ended_at=created + timedelta(seconds=1), input_tokens=tokens_in,
                    output_tokens=tokens_out, cost_usd=cost,
                    error_message="" if not category else f"{category} failure: {words[:40]}",
                )
                invs.append(inv)
                steps.append(step)
                documents.append(InvocationSearch(
                    invocation_id=next_inv,
                    document=f"{inv.trace_id} {inv.name} {agent.name} chat {step.model} "
                             f"{step.error_message} {words} ticket {i} handled",
                ))
                payloads.append(StepPayload(
                    step_id=next_step, invocation_created_at=created,
                    input=[{"role": "user", "content": words}],
                    output={"role": "assistant", "content": f"ticket {i} handled"},
                ))
                next_inv += 1
                next_step += 1
            with transaction.atomic():
                self._write(Invocation, invs)
                self._write(Step, steps)
                self._write(InvocationSearch, documents)
                self._write(StepPayload, payloads)
            done += n
            if done % 200_000 < BATCH:
                self.stdout.write(f"  {have + done:,} invocations")
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                for table in ("traceview_invocation", "traceview_step"):
                    c.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))")

    def _debugging_pages(self, project, big) -> list[tuple]:
        """The diff, session and graph pages over this data: a pair of 500-step runs that differ
        in a stretch, a session of 50 turns, an agent's graph over its runs and the large run's
        graph. Made once, like the rest."""
        rng = random.Random(11)
        pair = []
        for trace, variant in (("bench-diff-a", 0), ("bench-diff-b", 1)):
            inv = Invocation.objects.filter(project=project, trace_id=trace).first()
            if inv is None:
                inv = self._diff_run(project, big.agent, trace, variant, rng)
            pair.append(inv)
        session = list(Invocation.objects.filter(project=project, session_id="bench-session")
                       .values_list("id", flat=True)[:1])
        if not session:
            ids = list(Invocation.objects.filter(project=project, trace_id__startswith="bench-0")
                       .order_by("id").values_list("id", flat=True)[:50])
            Invocation.objects.filter(id__in=ids).update(session_id="bench-session")
        runs = Invocation.objects.filter(agent=big.agent).count()
        return [
            ("diff: two 500-step runs, aligned", f"/compare/?a={pair[0].id}&b={pair[1].id}", {}),
            ("session: 50 turns", "/sessions/?id=bench-session", {}),
            (f"graph: {big.agent.name} over 30 days ({runs:,} runs, latest 500)",
             f"/agents/{big.agent_id}/graph/?range=30d", {}),
            (f"graph: the {big.step_count:,}-step run", f"/invocations/{big.id}/graph/", {}),
        ]

    def _diff_run(self, project, agent, trace, variant, rng) -> Invocation:
        """A 500-step run: plan, then search and fetch; B searches for other terms in the middle
        and makes one extra call there."""
        t0 = timezone.now() - timedelta(days=1)
        inv = Invocation.objects.create(
            project=project, trace_id=trace, agent=agent, name="diff pair", status="ok",
            started_at=t0, ended_at=t0 + timedelta(seconds=500), step_count=500, created_at=t0,
            classified_version=1, completed_at=t0 + timedelta(seconds=500),
        )
        rows = [Step(invocation=inv, span_id="root", kind="agent", name="planner", status="ok",
                     started_at=t0, ended_at=inv.ended_at, seq=0)]
        payloads = []
        for i in range(1, 500 + variant):
            tool = i % 2 == 1
            start = t0 + timedelta(seconds=i)
            query = f"query {i}" if not (variant and 200 <= i < 240) else f"other {i}"
            step = Step(invocation=inv, span_id=f"s{i}", parent_span_id="root",
                        kind="tool" if tool else "llm", name="search" if tool else "chat",
                        tool_name="search" if tool else "", model="" if tool else "gpt-4o",
                        status="ok", seq=i, started_at=start,
                        ended_at=start + timedelta(seconds=0.5),
                        input_tokens=None if tool else 500, output_tokens=None if tool else 40)
            rows.append(step)
            payloads.append((step.span_id, {"tool_arguments": {"q": query},
                                            "tool_result": {"hits": rng.randint(0, 9)}}
                             if tool else {"input": [{"role": "user", "content": query}]}))
        self._write(Step, rows)
        ids = dict(Step.objects.filter(invocation=inv).values_list("span_id", "id"))
        self._write(StepPayload, [StepPayload(step_id=ids[s], invocation_created_at=inv.created_at,
                                              **kw) for s, kw in payloads])
        return inv

    def _write(self, model, objs):
        """COPY on PostgreSQL (several times faster than INSERT), bulk_create elsewhere."""
        if connection.vendor != "postgresql" or objs[0].pk is None:
            model.objects.bulk_create(objs, batch_size=2000)
            return
        fields = model._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with connection.cursor() as c:
            with c.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                for obj in objs:
                    copy.write_row([
                        f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields
                    ])

    # -----------------------------------------------------------------------------------------
    # Timings

    def _measure(self, user, project, big, runs):
        client = Client()
        client.force_login(user)
        middle = big.steps.filter(kind="llm").order_by("seq")[big.step_count // 4 :].first()
        htmx = {"HTTP_HX_REQUEST": "true"}
        first = client.get("/")
        cursor = first.content.decode().split('id="page-next" href="?cursor=')[1].split('"')[0]
        pages = [
            ("list: first page", "/", {}),
            ("list: filtered (agent, status, category, min cost)",
             "/?agent=agent-3&status=error&category=tool&min_cost=0.01", {}),
            ("list: model filter", "/?model=gemini-2.5-pro", {}),
            ("list: full-text search, rare word", "/?q=424242", {}),
            ("list: full-text search, words in ~40% of runs", "/?q=warehouse+refund", {}),
            ("list: sorted by cost", "/?sort=cost", {}),
            ("list: next page by cursor", f"/?cursor={cursor}", {}),
            ("list: htmx poll of the rows", "/", {**htmx, "HTTP_HX_TARGET": "invocation-rows"}),
            (f"replay: {big.step_count:,}-step invocation, first open", f"/invocations/{big.id}/",
             {"cold": True}),
            (f"replay: {big.step_count:,}-step invocation, again", f"/invocations/{big.id}/", {}),
            ("replay: deep link to a step", f"/invocations/{big.id}/?step={middle.span_id}", {}),
            ("replay: step detail (htmx)", f"/invocations/{big.id}/?step={middle.span_id}",
             {**htmx, "HTTP_HX_TARGET": "step-detail"}),
            ("replay: one tree window of 200 rows (htmx, scrolling)",
             f"/invocations/{big.id}/?tree_key=-1&tree_from={big.step_count // 2}",
             {**htmx, "HTTP_HX_TARGET": "tree-window"}),
            *self._debugging_pages(project, big),
        ]
        self.stdout.write(f"\n{'page':<55} {'min ms':>8} {'median ms':>10} {'KB':>7}")
        for label, low, median, size in page_times(client, pages, runs, self.stderr):
            self.stdout.write(f"{label:<55} {low:>8.1f} {median:>10.1f} {size / 1024:>7.0f}")


def page_times(client, pages, runs, stderr) -> list[tuple[str, float, float, int]]:
    """(label, min ms, median ms, bytes) of each (label, url, headers) page, after one untimed
    warm-up request; a page that does not answer 200 is reported on `stderr` and left out.
    Headers may hold "cold": True, which empties the outline cache before each timed run (the
    replay page as a process opening that invocation for the first time)."""
    out = []
    for label, url, headers in pages:
        headers = dict(headers)
        cold = headers.pop("cold", False)
        response = client.get(url, **headers)  # warm-up
        if response.status_code != 200:
            stderr.write(f"{label}: HTTP {response.status_code}")
            continue
        times = []
        for _ in range(runs):
            if cold:
                outline_cache_clear()
            t = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - t) * 1000)
        out.append((label, min(times), statistics.median(times), len(response.content)))
    return out
