"""`manage.py bench_scale`: the same figures at 1,000,000 and at 10,000,000 steps, side by side.

Data: a few thousand template runs (2-18 spans, the OTLP GenAI workload of bench_ingest with a
vocabulary that varies per run: one word, "warehouse", is in about 40 % of runs, another,
"zeppelin", in about one in two thousand) are stored through the ingest path into three projects
of several agents, and classified by the real classifier in this process (categories, search
documents). Then the database copies them, set-based, one INSERT ... SELECT per table for a
million steps at a time: new ids, a new trace id prefix per copy (and in the search document),
every timestamp moved back by a different share of 30 days, so that each size covers the same
30 days (ten times the traffic at 10M, the harder case for the list). Each size is reached in
turn; after each, ANALYZE, a full rebuild of the dashboards' rollups, then:

- ingest: the store's path in this process (OTLP protobuf bodies decoded and stored by
  ingest.exports, as a request does without HTTP), one connection, 500 spans a body;
- pages through Django's test Client in this process (bench_pages.page_times): the list's first
  page, its filters, the page after by cursor, search for the common and the rare word, the
  replay page of one run, the dashboards;
- bytes stored per step (tables, TOAST and indexes of every table).

Figures of each size are kept in var/bench_scale.json (per database, or per --series), so a
later run of one size, or a run in another database, prints the comparison with the other.
PostgreSQL only.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.test import Client
from django.utils import timezone

from ingest.exports import otlp_traces_export
from ingest.management.commands.bench_ingest import WORDS, Workload, stored_sizes
from traceview.classify.diagnosis import invocations_classify
from traceview.core.models import Agent, Invocation, Project, Step
from traceview.core.partitions import partitions_ensure
from traceview.dashboards.models import RollupState
from traceview.dashboards.rollups import rollups_refresh
from traceview.management.commands.bench_pages import page_times

HELP = """Grow a PostgreSQL database to each of --sizes steps (copies of classified template runs,
set-based) and print ingest, list, filter, search, replay and dashboard times at each size, side
by side with their ratio. Needs about 3 KB of disk per step.

  createdb -h 127.0.0.1 -U postgres traceview_scale
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/traceview_scale
  .venv/bin/python manage.py migrate
  .venv/bin/python manage.py bench_scale                     # 1M, then 10M steps
"""

PROJECTS = (("scale-a", 0.6), ("scale-b", 0.3), ("scale-c", 0.1))
TEMPLATE_SPANS = 50_000
TEMPLATE_RUN = b"tmpl"  # the trace id prefix of the templates; copies put their number there
COMMON, RARE = "warehouse", "zeppelin"
COMMON_SHARE, RARE_SHARE = 0.42, 0.0005
# Agent 5 of each project has a step budget, so some runs are classified "budget".
BUDGETED_AGENT, STEP_BUDGET = "agent-5", 14
SPREAD_DAYS = 30
COPY_STEPS = 1_000_000  # steps written by one statement per table
INGEST_SPANS = 20_000
# Pseudo-words with a long tail, as a real vocabulary has: a few frequent, most rare.
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "pra", "gul", "tor",
              "zen", "bri", "mo", "sal")
VOCABULARY = tuple(a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES[:12])
_ZIPF = [1 / (k + 1) for k in range(len(VOCABULARY))]
# Copied tables, and the column that selects the templates' rows by id range.
TABLES = (
    ("traceview_invocation", "id"),
    ("traceview_step", "invocation_id"),
    ("traceview_steppayload", "step_id"),
    ("traceview_invocationsearch", "invocation_id"),
    ("traceview_diagnosis", "invocation_id"),
)

# The template run each table's row belongs to (its times move with the run's), and what a row
# is joined to for it: a payload's partition key is its step's time.
RUN_OF = {"traceview_invocation": "t.id", "traceview_steppayload": "s.invocation_id"}
RUN_OF = {table: RUN_OF.get(table, "t.invocation_id") for table, _by in TABLES}
JOINS = {"traceview_steppayload": "JOIN traceview_step s ON s.id = t.step_id "
                                  "AND s.id BETWEEN {step_lo} AND {step_hi}"}


class ScaleWorkload(Workload):
    """bench_ingest's traces, 2-18 spans, each drawing its text from the common words, twenty
    words of a long-tailed vocabulary, and, for some, the common or the rare search word."""

    def __init__(self, spans: int, seed: int, run: bytes | None = None):
        super().__init__(spans, seed, sizes=(2, 18))
        if run is not None:
            self.run = run

    def _trace(self, size):
        rng = self.rng
        words = list(WORDS) + rng.choices(VOCABULARY, weights=_ZIPF, k=20)
        if rng.random() < COMMON_SHARE:
            words.append(COMMON)
        if rng.random() < RARE_SHARE:
            words.append(RARE)
        self.words = tuple(words)
        return super()._trace(size)


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000000,10000000",
                            help="steps to reach in turn, comma-separated")
        parser.add_argument("--runs", type=int, default=5, help="timed runs per page")
        parser.add_argument("--series", help="the name figures are kept under (default: the "
                            "database's), so sizes measured in two databases compare")

    def handle(self, *args, sizes, runs, series, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_scale needs PostgreSQL (set DATABASE_URL)")
        targets = [int(s.replace("_", "")) for s in sizes.split(",")]
        state_path = Path(settings.BASE_DIR) / "var" / "bench_scale.json"
        series = series or connection.settings_dict["NAME"]
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        figures = state.get(series, {})
        projects = self._projects()
        template = self._templates(projects)
        for target in targets:
            self._grow(template, target)
            figures[str(target)] = self._measure(projects, template, runs)
            state[series] = figures
            state_path.parent.mkdir(exist_ok=True)
            state_path.write_text(json.dumps(state, indent=1))
        self._compare(figures)

    # -----------------------------------------------------------------------------------------
    # Data

    def _projects(self) -> list[Project]:
        user, _ = get_user_model().objects.get_or_create(username="bench-scale")
        projects = []
        for name, _share in PROJECTS:
            project, _ = Project.objects.get_or_create(name=name)
            project.members.add(user)
            Agent.objects.get_or_create(project=project, name=BUDGETED_AGENT,
                                        defaults={"max_steps": STEP_BUDGET})
            projects.append(project)
        return projects

    def _templates(self, projects) -> dict:
        """The id ranges of the template runs, stored and classified on first use."""
        prefix = TEMPLATE_RUN.hex()
        runs = Invocation.objects.filter(trace_id__startswith=prefix)
        if not runs.exists():
            self.stdout.write(f"storing and classifying {TEMPLATE_SPANS:,} template spans …")
            started = time.perf_counter()
            for seed, (project, (_name, share)) in enumerate(zip(projects, PROJECTS, strict=True)):
                workload = ScaleWorkload(int(TEMPLATE_SPANS * share), seed, run=TEMPLATE_RUN)
                self._ingest(project, workload)
            self._classify(runs)
            self.stdout.write(f"  done in {time.perf_counter() - started:.1f} s")
        inv = runs.aggregate(lo=Min("id"), hi=Max("id"))
        step = Step.objects.filter(invocation_id__gte=inv["lo"], invocation_id__lte=inv["hi"]
                                   ).aggregate(lo=Min("id"), hi=Max("id"))
        steps = Step.objects.filter(invocation__trace_id__startswith=prefix).count()
        common = runs.filter(search__document__contains=COMMON).count()
        biggest = runs.order_by("-step_count", "id").first()
        self.stdout.write(
            f"templates: {runs.count():,} runs, {steps:,} steps; "
            f"{COMMON!r} in {common / runs.count():.0%} of runs"
        )
        return {"inv": (inv["lo"], inv["hi"]), "step": (step["lo"], step["hi"]),
                "steps": steps, "replay": biggest.id, "common_share": common / runs.count()}

    def _ingest(self, project, workload) -> float:
        """Store the workload's bodies through the ingest path; returns the seconds it took."""
        bodies = workload.bodies(500)
        started = time.perf_counter()
        for _spans, body in bodies:
            otlp_traces_export(project, body, "application/x-protobuf")
        return time.perf_counter() - started

    def _classify(self, runs):
        ids = list(runs.filter(diagnosis__isnull=True).values_list("id", flat=True))
        for i in range(0, len(ids), 200):
            invocations_classify(ids[i : i + 200])

    def _grow(self, template, target: int):
        have = Step.objects.count()
        if have >= target:
            self.stdout.write(f"{have:,} steps already (≥ {target:,})")
            return
        per_copy = template["steps"]
        copies = math.ceil((target - have) / per_copy)
        first = self._last_copy() + 1
        batch = max(1, COPY_STEPS // per_copy)
        self.stdout.write(f"copying the templates {copies:,} times ({copies * per_copy:,} steps, "
                          f"{batch} copies per statement) …")
        started = time.perf_counter()
        # The months the copies fall in get their partitions (PostgreSQL's time-partitioned
        # steps and payloads), as the beat task makes them ahead of live data.
        partitions_ensure(start=timezone.now() - timedelta(days=SPREAD_DAYS + 1))
        for g0 in range(first, first + copies, batch):
            g1 = min(g0 + batch, first + copies) - 1
            self._copy(template, g0, g1)
            done = g1 - first + 1
            self.stdout.write(f"  {have + done * per_copy:,} steps, "
                              f"{time.perf_counter() - started:.0f} s, load {_load()}")
        with connection.cursor() as c:
            for table in ("traceview_invocation", "traceview_step"):
                c.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT max(id) FROM {table}))")
        self.stdout.write("vacuum analyze …")
        with connection.cursor() as c:
            for table, _by in TABLES:
                c.execute(f"VACUUM ANALYZE {table}")
        self.stdout.write(f"  seeded in {time.perf_counter() - started:.0f} s")

    def _last_copy(self) -> int:
        """The highest copy number stored: copies carry it, in hex, in their trace id's first
        eight characters (the templates and the ingested runs carry random prefixes, far above
        any copy number)."""
        with connection.cursor() as c:
            c.execute("SELECT max(n) FROM (SELECT ('x' || left(trace_id, 8))::bit(32)::bigint "
                      "AS n FROM traceview_invocation) c WHERE n < 1000000")
            return c.fetchone()[0] or 0

    def _copy(self, template, g0: int, g1: int):
        """Copies g0..g1 of the templates, one INSERT ... SELECT per table, in one transaction
        (foreign keys unchecked: every row copies a row whose references hold)."""
        inv_lo, inv_hi = template["inv"]
        step_lo, step_hi = template["step"]
        with connection.cursor() as c:
            c.execute("SELECT max(id) FROM traceview_invocation")
            inv_base = c.fetchone()[0] + 1
            c.execute("SELECT max(id) FROM traceview_step")
            step_base = c.fetchone()[0] + 1
        inv = f"({inv_base} + (g.n - {g0}) * {inv_hi - inv_lo + 1}::bigint - {inv_lo} + t.%s)"
        step = f"({step_base} + (g.n - {g0}) * {step_hi - step_lo + 1}::bigint - {step_lo} + t.%s)"
        ranges = {"id": (inv_lo, inv_hi), "invocation_id": (inv_lo, inv_hi),
                  "step_id": (step_lo, step_hi)}
        # The copy's number replaces the trace id's first eight hex characters, where the
        # template's run prefix is (search documents start with the trace id).
        prefix = "lpad(to_hex(g.n), 8, '0')"
        # Each run of each copy moves back by its own share of the 30 days (from the copy's
        # number and the template run's id, the same for the run and its rows), so that every
        # size fills every hour: moving a whole copy by one amount left the 1M data in 20 of
        # the 720 hours, and the dashboards' cost follows the hours with data.
        def shift(run: str) -> str:
            return (f"make_interval(secs => ((g.n * 0.6180339887 + {run} * 0.7548776662) % 1) "
                    f"* {SPREAD_DAYS * 86400})")
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL session_replication_role = replica")
            for table, by in TABLES:
                exprs = []
                columns = self._columns(c, table)
                for name, kind in columns:
                    if name == "id":
                        expr = (inv if table == "traceview_invocation" else step) % name
                    elif name == "invocation_id":
                        expr = inv % name
                    elif name == "step_id":
                        expr = step % name
                    elif name == "trace_id":
                        expr = f"{prefix} || substr(t.trace_id, 9)"
                    elif name == "document":
                        expr = f"{prefix} || substr(t.document, 9)"
                    elif name == "session_id":
                        expr = ("CASE WHEN t.session_id = '' THEN '' "
                                "ELSE t.session_id || '-' || g.n END")
                    elif kind == "timestamp with time zone":
                        expr = f"t.{name} - {shift(RUN_OF[table])}"
                    else:
                        expr = f"t.{name}"
                    exprs.append(expr)
                lo, hi = ranges[by]
                names = ", ".join(f'"{n}"' for n, _ in columns)
                c.execute(
                    f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)} "
                    f"FROM {table} t "
                    + JOINS.get(table, "").format(step_lo=step_lo, step_hi=step_hi)
                    + f" CROSS JOIN generate_series({g0}, {g1}) g(n) "
                    f"WHERE t.{by} BETWEEN {lo} AND {hi}"
                    + (f" AND t.trace_id LIKE '{TEMPLATE_RUN.hex()}%'"
                       if table == "traceview_invocation" else "")
                )

    @staticmethod
    def _columns(cursor, table) -> list[tuple[str, str]]:
        """The columns an INSERT may name (not the generated ones), in table order."""
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND is_generated = 'NEVER' "
            "ORDER BY ordinal_position",
            [table],
        )
        return cursor.fetchall()

    # -----------------------------------------------------------------------------------------
    # Figures

    def _measure(self, projects, template, runs) -> dict:
        steps = Step.objects.count()
        invocations = Invocation.objects.count()
        self.stdout.write(f"\n== {steps:,} steps, {invocations:,} invocations, load {_load()}")
        figures = {"steps": steps, "invocations": invocations, "load": _load(), "ms": {}}
        RollupState.objects.all().delete()
        started = time.perf_counter()
        rollups_refresh()
        figures["rollups_rebuild_s"] = round(time.perf_counter() - started, 1)
        self.stdout.write(f"rollups, full rebuild: {figures['rollups_rebuild_s']} s")
        sizes = stored_sizes()
        figures["bytes_per_step"] = round(sum(sizes.values()) / steps)
        figures["stored_gb"] = round(sum(sizes.values()) / 1e9, 2)
        self.stdout.write(f"stored: {figures['stored_gb']} GB, "
                          f"{figures['bytes_per_step']:,} bytes per step (tables, TOAST, indexes)")
        # Ingest: the store's path, at this table size, then classified (untimed) like the rest.
        workload = ScaleWorkload(INGEST_SPANS, seed=int.from_bytes(os.urandom(4)))
        seconds = self._ingest(projects[0], workload)
        figures["ingest_spans_per_s"] = round(INGEST_SPANS / seconds)
        self.stdout.write(f"ingest (store path, 1 process): {figures['ingest_spans_per_s']:,} "
                          f"spans/s")
        self._classify(Invocation.objects.filter(project=projects[0],
                                                 trace_id__startswith=workload.run.hex()))
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench-scale"))
        first = client.get("/").content.decode()
        cursor = first.split('id="page-next" href="?cursor=')[1].split('"')[0]
        replay = Invocation.objects.get(id=template["replay"])
        pages = [
            ("list: first page", "/", {}),
            ("list: next page by cursor", f"/?cursor={cursor}", {}),
            ("list: status=error", "/?status=error", {}),
            ("list: category=tool", "/?category=tool", {}),
            ("list: agent=agent-3", "/?agent=agent-3", {}),
            ("list: agent, status, category", "/?agent=agent-3&status=error&category=tool", {}),
            (f"search: common word ({template['common_share']:.0%} of runs)", f"/?q={COMMON}", {}),
            (f"search: rare word ({RARE})", f"/?q={RARE}", {}),
            (f"replay: one {replay.step_count}-step run, first open",
             f"/invocations/{replay.id}/", {"cold": True}),
            ("dashboards: 7 days", "/dashboards/?range=7d", {}),
            ("dashboards: 30 days", "/dashboards/?range=30d", {}),
        ]
        self.stdout.write(f"{'page':<45} {'min ms':>8} {'median ms':>10} {'KB':>6}")
        for label, low, median, size in page_times(client, pages, runs, self.stderr):
            figures["ms"][label] = round(median, 1)
            self.stdout.write(f"{label:<45} {low:>8.1f} {median:>10.1f} {size / 1024:>6.0f}")
        figures["load_after"] = _load()
        return figures

    def _compare(self, figures: dict):
        sizes = sorted(figures, key=int)
        if len(sizes) < 2:
            return
        a, b = figures[sizes[0]], figures[sizes[-1]]
        self.stdout.write(
            f"\n{'':<45} {a['steps']:>12,} {b['steps']:>12,} {'ratio':>6}\n"
            f"{'(invocations)':<45} {a['invocations']:>12,} {b['invocations']:>12,}\n"
            f"{'(load average)':<45} {a['load']:>12} {b['load']:>12}"
        )
        rows = [("ingest, spans/s (store path)", a["ingest_spans_per_s"], b["ingest_spans_per_s"],
                 a["ingest_spans_per_s"] / b["ingest_spans_per_s"]),
                ("bytes stored per step", a["bytes_per_step"], b["bytes_per_step"],
                 b["bytes_per_step"] / a["bytes_per_step"])]
        rows += [(f"{label} (median ms)", a["ms"][label], b["ms"].get(label),
                  b["ms"][label] / a["ms"][label])
                 for label in a["ms"] if label in b["ms"]]
        for label, x, y, ratio in rows:
            flag = "  > 1.5x" if ratio > 1.5 else ""
            self.stdout.write(f"{label:<45} {x:>12,} {y:>12,} {ratio:>6.2f}{flag}")
        self.stdout.write("(ratio: the larger size's cost over the smaller's; for ingest, the "
                          "smaller size's rate over the larger's)")


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
