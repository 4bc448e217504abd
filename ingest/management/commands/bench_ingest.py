"""`manage.py bench_ingest`: post a generated OTLP workload to a running server and time it.

The workload is what an instrumented agent fleet exports in the OpenTelemetry GenAI conventions:
invoke_agent roots, chat spans carrying gen_ai.input.messages / gen_ai.output.messages, usage and
models, execute_tool spans with arguments and results (about 1.5 KB per span), traces of 10-30
spans, spans in the order they end (children before their parent, as the SDK's batch processor
sends them), packed into protobuf requests of --batch spans, so traces straddle requests the way
they do in real exports.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import queue
import random
import statistics
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson
import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import F
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from traceview.core.redaction import DETECTORS
from traceview.models import Agent, ApiKey, Invocation, Project, Step, StepPayload

HELP = """Post a generated OTLP/protobuf workload (GenAI conventions, ~1.3 KB per span on the wire,
traces of 10-30 spans, --batch spans per request) to a RUNNING server from --concurrency
connections, wait until every span is stored, and print spans accepted and persisted per second
and request latency percentiles. A few small untimed requests warm each server process up first.
Then it waits for the worker to classify the run (--wait-classified) and prints the bytes stored
per span (tables, TOAST and indexes of every table, growth over the run) against wire bytes.

--limit measures the machine's limit in the same run, before and after it: the same bodies parsed
and COPYed into one indexed scratch table of the same database from --concurrency processes (one
transaction per body), dropped afterwards. The ratio of the server's persisted rate to the mean
of the two limits is the figure to compare between machines and runs; absolute rates move with
whatever else the machine does. When the server, the worker and PostgreSQL run on this machine
(found by their DATABASE_URL), it also prints CPU microseconds per span of the web processes and
their database sessions, and the same ratio in CPU time, which a busy machine moves far less.
Before the run it VACUUM ANALYZEs the tables ingest writes, as autovacuum keeps them in a
deployment (without it a reused database keeps every earlier run's dead rows and stale planner
statistics). CPU times are sampled every quarter second, so a database session the server
replaces during the run still counts. It does not start a server; without --key it issues one
for project "bench" in the database this command is configured with (DATABASE_URL), which must
be the one the server uses: the benchmark counts the Step rows of the traces it sent.

Against PostgreSQL with gunicorn and a Celery worker (classification runs behind ingest, at a lower
CPU priority so that it drains its backlog without taking the web processes' CPU):

  createdb -h 127.0.0.1 -U postgres traceview_bench
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/traceview_bench
  export CELERY_BROKER_URL=redis://127.0.0.1:6379/14
  .venv/bin/python manage.py migrate
  .venv/bin/gunicorn traceview.wsgi -b 127.0.0.1:8123 -w 4 &
  nice -n 19 .venv/bin/celery -A traceview worker -c 1 &
  .venv/bin/python manage.py bench_ingest --url http://127.0.0.1:8123 --limit

On two cores, one gunicorn process per connection (-w 4, no threads) did best: a request is CPU
work from start to end, and threads in one process only queue on the GIL. Compare
with `uptime` first: the figures are only as good as the machine is idle.
"""


MODELS = ("gpt-4o-2024-08-06", "claude-sonnet-4-5", "gemini-2.5-pro")
TOOLS = ("search_docs", "read_file", "run_sql", "http_get", "write_file")
WORDS = (
    "the customer reports that the invoice total does not match the order lines after the "
    "discount was applied twice please check the billing service logs and the refund policy "
    "then summarise the findings and propose a fix with the exact steps to reproduce it"
).split()


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        return KeyValue(key=key, value=AnyValue(array_value={
            "values": [AnyValue(string_value=v) for v in value]}))
    return KeyValue(key=key, value=AnyValue(string_value=value))


class Workload:
    """Deterministic (seeded) traces, with a per-run random trace id prefix so reruns never
    collide with earlier runs' rows. `sizes` bounds the spans of a trace; the text of messages,
    arguments and results is drawn from `self.words` (bench_scale varies it per trace)."""

    def __init__(self, spans: int, seed: int, sizes: tuple[int, int] = (10, 30)):
        self.rng = random.Random(seed)
        self.run = os.urandom(4)
        self.total = spans
        self.sizes = sizes
        self.words: tuple[str, ...] = WORDS
        self.trace_ids: list[str] = []
        self.span_bytes = 0

    def _text(self, words: int) -> str:
        return " ".join(self.rng.choice(self.words) for _ in range(words))

    def spans(self):
        made = 0
        while made < self.total:
            size = min(self.rng.randint(*self.sizes), self.total - made)
            trace = self._trace(size)
            made += len(trace)
            yield from trace

    def _trace(self, size: int) -> list[Span]:
        rng = self.rng
        trace_id = self.run + rng.randbytes(12)
        self.trace_ids.append(trace_id.hex())
        start = time.time_ns() - rng.randint(60, 3600) * 1_000_000_000
        root_id = rng.randbytes(8)
        agent = f"agent-{rng.randint(1, 5)}"
        failed = rng.random() < 0.2
        children, t = [], start + 1_000_000
        history = [{"role": "system", "parts": [{"type": "text", "content": self._text(30)}]},
                   {"role": "user", "parts": [{"type": "text", "content": self._text(40)}]}]
        for i in range(size - 1):
            span_id = rng.randbytes(8)
            duration = rng.randint(50, 3000) * 1_000_000
            if i % 2 == 0:
                span = self._chat(trace_id, span_id, root_id, t, duration, history)
            else:
                span = self._tool(trace_id, span_id, root_id, t, duration,
                                  failed and i == size - 2)
            children.append(span)
            t += duration + 1_000_000
        root = Span(trace_id=trace_id, span_id=root_id, name=f"invoke_agent {agent}",
                    kind=Span.SPAN_KIND_INTERNAL, start_time_unix_nano=start,
                    end_time_unix_nano=t,
                    status=Status(code=Status.STATUS_CODE_ERROR if failed else
                                  Status.STATUS_CODE_OK),
                    attributes=[_kv("gen_ai.operation.name", "invoke_agent"),
                                _kv("gen_ai.agent.name", agent),
                                _kv("gen_ai.agent.id", f"{agent}-v3"),
                                _kv("gen_ai.conversation.id", rng.randbytes(8).hex())])
        return [*children, root]

    def _chat(self, trace_id, span_id, parent, t, duration, history) -> Span:
        rng = self.rng
        model = rng.choice(MODELS)
        answer = self._text(25)
        call = {"type": "tool_call", "id": "call_" + rng.randbytes(6).hex(),
                "name": rng.choice(TOOLS), "arguments": {"query": self._text(6)}}
        output = [{"role": "assistant", "parts": [{"type": "text", "content": answer}, call],
                   "finish_reason": "tool_call"}]
        # Keep the prompt at a realistic size per span instead of growing with the trace.
        prompt = history[:2] + [{"role": "assistant", "parts": [{"type": "text",
                                                               "content": self._text(40)}]}]
        return Span(
            trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=f"chat {model}",
            kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=t,
            end_time_unix_nano=t + duration, status=Status(code=Status.STATUS_CODE_UNSET),
            attributes=[
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", model),
                _kv("gen_ai.response.model", model),
                _kv("gen_ai.request.temperature", 0.2),
                _kv("gen_ai.request.max_tokens", 4096),
                _kv("gen_ai.response.id", "chatcmpl-" + rng.randbytes(8).hex()),
                _kv("gen_ai.response.finish_reasons", ["tool_call"]),
                _kv("gen_ai.usage.input_tokens", rng.randint(200, 6000)),
                _kv("gen_ai.usage.output_tokens", rng.randint(10, 800)),
                _kv("gen_ai.input.messages", orjson.dumps(prompt).decode()),
                _kv("gen_ai.output.messages", orjson.dumps(output).decode()),
                _kv("server.address", "api.openai.com"),
            ],
        )

    def _tool(self, trace_id, span_id, parent, t, duration, failed) -> Span:
        rng = self.rng
        tool = rng.choice(TOOLS)
        args = {"query": self._text(12), "limit": rng.randint(1, 50), "path": "/srv/data/x.csv"}
        result = {"rows": [{"id": i, "text": self._text(12)} for i in range(5)]}
        attributes = [
            _kv("gen_ai.operation.name", "execute_tool"),
            _kv("gen_ai.tool.name", tool),
            _kv("gen_ai.tool.type", "function"),
            _kv("gen_ai.tool.description", self._text(10)),
            _kv("gen_ai.tool.call.id", "call_" + rng.randbytes(6).hex()),
            _kv("gen_ai.tool.call.arguments", orjson.dumps(args).decode()),
        ]
        status = Status(code=Status.STATUS_CODE_UNSET)
        events = []
        if failed:
            status = Status(code=Status.STATUS_CODE_ERROR, message="upstream timed out")
            attributes.append(_kv("error.type", "TimeoutError"))
            events.append(Span.Event(name="exception", time_unix_nano=t + duration, attributes=[
                _kv("exception.type", "TimeoutError"),
                _kv("exception.message", "upstream timed out after 30s"),
                _kv("exception.stacktrace", "Traceback (most recent call last):\n  ...")]))
        else:
            attributes.append(_kv("gen_ai.tool.call.result", orjson.dumps(result).decode()))
        return Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent,
                    name=f"execute_tool {tool}", kind=Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=t, end_time_unix_nano=t + duration, status=status,
                    attributes=attributes, events=events)

    def bodies(self, batch: int) -> list[tuple[int, bytes]]:
        resource = [_kv("service.name", "support-agents"), _kv("service.version", "3.2.1"),
                    _kv("deployment.environment", "bench"), _kv("telemetry.sdk.name",
                                                                "opentelemetry"),
                    _kv("telemetry.sdk.language", "python"), _kv("telemetry.sdk.version",
                                                                 "1.38.0"),
                    _kv("host.name", "worker-7")]
        out, chunk = [], []

        def flush():
            req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
                resource={"attributes": resource},
                scope_spans=[{"scope": {"name": "opentelemetry.instrumentation.openai_v2",
                                        "version": "2.1b0"}, "spans": chunk}])])
            data = req.SerializeToString()
            self.span_bytes += len(data)
            out.append((len(chunk), data))

        for span in self.spans():
            chunk.append(span)
            if len(chunk) == batch:
                flush()
                chunk = []
        if chunk:
            flush()
        return out


LIMIT_TABLE = "bench_limit_spans"


def _pb_plain(v) -> object:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_pb_plain(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_plain(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which) if which else None


def _ns_time(ns: int) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else None


def limit_rows(body: bytes):
    """The least a store can do with a span: decode it and keep its ids, times, status,
    attributes and events as one row."""
    request = ExportTraceServiceRequest.FromString(body)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield (
                    s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name,
                    _ns_time(s.start_time_unix_nano), _ns_time(s.end_time_unix_nano),
                    s.status.code,
                    orjson.dumps({kv.key: _pb_plain(kv.value) for kv in s.attributes}).decode(),
                    orjson.dumps([
                        {"name": e.name, "time_ns": e.time_unix_nano,
                         "attributes": {kv.key: _pb_plain(kv.value) for kv in e.attributes}}
                        for e in s.events]).decode(),
                )


def _limit_sender(conninfo, bodies, work, results, ready, go):
    """One probe connection: COPY each body it takes into the scratch table, one transaction
    per body as a request commits, and report (spans, start, end) per body."""
    with psycopg.connect(conninfo) as conn:
        backend = conn.info.backend_pid
        ready.put(1)
        go.wait()
        cpu = time.process_time() + cpu_seconds(backend)
        done = []
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            rows = list(limit_rows(bodies[i][1]))
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(
                f"COPY {LIMIT_TABLE} FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            done.append((len(rows), t0, time.perf_counter()))
        results.put((done, time.process_time() + cpu_seconds(backend) - cpu))


def _conninfo() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(**{
        key: str(db[name]) for key, name in (("dbname", "NAME"), ("user", "USER"),
                                             ("password", "PASSWORD"), ("host", "HOST"),
                                             ("port", "PORT")) if db.get(name)
    })


def limit_probe(bodies: list[tuple[int, bytes]], concurrency: int) -> dict:
    """Parse the same bodies and COPY them into one indexed scratch table of the same database
    from `concurrency` processes (the server's processes, one per connection): the rate a
    bare store reaches on this machine now, against which the server's rate is a ratio."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {LIMIT_TABLE}")
        cursor.execute(
            f"CREATE TABLE {LIMIT_TABLE} (trace_id text, span_id text, parent_span_id text, "
            "name text, started_at timestamptz, ended_at timestamptz, status smallint, "
            "attributes jsonb, events jsonb, PRIMARY KEY (trace_id, span_id))"
        )
        # The same compression as step payloads (migration 0004), where the server has lz4.
        cursor.execute(
            f"DO $$ BEGIN ALTER TABLE {LIMIT_TABLE} ALTER COLUMN attributes SET COMPRESSION "
            "lz4, ALTER COLUMN events SET COMPRESSION lz4; "
            "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
        )
    conninfo = _conninfo()
    connection.close()  # never share a connection with forked processes
    ctx = multiprocessing.get_context("fork")
    work, results, ready, go = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    for i in range(len(bodies)):
        work.put(i)
    procs = [ctx.Process(target=_limit_sender, args=(conninfo, bodies, work, results, ready, go))
             for _ in range(concurrency)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    time.sleep(0.2)  # let the work queue's feeder thread fill the pipe
    started = time.perf_counter()
    go.set()
    reports = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    done = [item for items, _ in reports for item in items]
    spans = sum(n for n, _, _ in done)
    elapsed = max(t1 for _, _, t1 in done) - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [LIMIT_TABLE])
        size = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {LIMIT_TABLE}")
    return {"spans": spans, "elapsed": elapsed, "rate": spans / elapsed, "bytes": size,
            "latencies": [(t1 - t0) * 1000 for _, t0, t1 in done],
            "cpu": sum(c for _, c in reports)}


# CPU time, for when the machine is shared: wall-clock rates move with the neighbours' load,
# CPU seconds per span much less. Readable when the server, the worker and PostgreSQL run on
# this machine (under the same user, or as root); otherwise the figures are left out.
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of `pid`'s sockets."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[9] in inodes:
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def cpu_snapshot(exclude: frozenset[int] = frozenset()) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the web and worker processes serving this database (those whose
    DATABASE_URL is this process's) and of the database backends each is connected to (but
    the backends in `exclude`: this command's own)."""
    url = os.environ.get("DATABASE_URL", "").encode()
    groups: dict[str, list[int]] = {"web": [], "worker": []}
    if url:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{name}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                continue
            if b"DATABASE_URL=" + url not in environ:
                continue
            if b"gunicorn" in cmdline:
                groups["web"].append(int(name))
            elif b"celery" in cmdline:
                groups["worker"].append(int(name))
    worker_ports = set().union(*(_local_ports(p) for p in groups["worker"]))
    out: dict[str, dict[int, float]] = {k: {} for k in ("web", "worker", "web db", "worker db")}
    for group, pids in groups.items():
        out[group] = {p: cpu_seconds(p) for p in pids}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, client_port FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for pid, port in cursor.fetchall():
            if pid not in exclude:
                out["worker db" if port in worker_ports else "web db"][pid] = cpu_seconds(pid)
    return out


class CpuMeter:
    """CPU seconds of the web and worker processes and their database sessions since it started,
    sampled every `interval` seconds in a thread. A database session that ends during the run
    (the server closes a connection older than CONN_MAX_AGE after a request and opens another)
    takes its CPU time with it: two snapshots, at the start and at the end, missed all of it
    since the start and made the database's share swing between runs; sampled, a session counts
    up to its last sample."""

    def __init__(self, interval: float = 0.25):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.exclude = {cursor.fetchone()[0]}
        self.interval = interval
        self.lock = threading.Lock()
        self.base = self._flat(cpu_snapshot(frozenset(self.exclude)))
        self.last = dict(self.base)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _flat(snapshot: dict) -> dict[tuple[str, int], float]:
        return {(group, pid): v for group, pids in snapshot.items() for pid, v in pids.items()}

    def _sample(self) -> None:
        snapshot = self._flat(cpu_snapshot(frozenset(self.exclude)))
        with self.lock:
            self.last.update(snapshot)

    def _run(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.exclude.add(cursor.fetchone()[0])
        try:
            while not self.stop.wait(self.interval):
                self._sample()
        finally:
            connection.close()

    def used(self) -> dict[str, float]:
        """CPU seconds by group ("web", "worker", "web db", "worker db") since the start; a
        process first seen after the start counts whole."""
        self._sample()
        out = {"web": 0.0, "worker": 0.0, "web db": 0.0, "worker db": 0.0}
        with self.lock:
            for (group, pid), v in self.last.items():
                out[group] += v - self.base.get((group, pid), 0.0)
        return out

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def stored_sizes() -> dict[str, int]:
    """Bytes on disk (table, TOAST and indexes) of each table of this database's schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND c.relname <> %s",
            [LIMIT_TABLE],
        )
        return dict(cursor.fetchall())


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = HELP

    def create_parser(self, *args, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(*args, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--spans", type=int, default=50_000)
        parser.add_argument("--batch", type=int, default=500, help="spans per request")
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--key", help="an API key; by default one is issued for project "
                                          "'bench' in the configured database")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--timeout", type=float, default=600,
                            help="seconds to wait for every span to be stored")
        parser.add_argument("--limit", action="store_true",
                            help="first measure the machine's limit: parse the same bodies and "
                                 "COPY them into a scratch table (PostgreSQL only)")
        parser.add_argument("--redact", choices=("off", "builtin"), default=None,
                            help="set the benchmark project's redaction rules first: none, or "
                                 "every built-in detector (default: leave them as they are)")
        parser.add_argument("--wait-classified", type=float, default=300, metavar="SECONDS",
                            help="wait this long for the worker to classify every benchmark "
                                 "invocation before measuring storage (0: do not wait)")

    def handle(self, url, spans, batch, concurrency, key, seed, timeout, limit,
               wait_classified, redact, **options):
        target = urlsplit(url)
        if target.scheme != "http" or not target.hostname:
            raise CommandError("--url must be http://host[:port]")
        if connection.vendor != "postgresql":
            raise CommandError("bench_ingest measures PostgreSQL: set DATABASE_URL")
        if key:
            api_key = ApiKey.objects.filter(hashed_key=ApiKey.hash(key)).first()
            if api_key is None:
                raise CommandError("--key is not a key of the configured database, whose rows "
                                   "the benchmark counts; point DATABASE_URL at the server's")
            project = api_key.project
        else:
            project, _ = Project.objects.get_or_create(name="bench")
            _, key = ApiKey.issue(project, name="bench_ingest")
        if redact is not None:
            project.redact_detectors = list(DETECTORS) if redact == "builtin" else []
            project.redact_patterns, project.redact_drop_keys = [], []
            project.save(update_fields=["redact_detectors", "redact_patterns",
                                        "redact_drop_keys"])
            self.stdout.write(f"redaction: {', '.join(project.redact_detectors) or 'off'}")

        workload = Workload(spans, seed)
        started = time.perf_counter()
        bodies = workload.bodies(batch)
        self.stdout.write(
            f"generated {spans} spans in {len(workload.trace_ids)} traces, {len(bodies)} "
            f"requests, {workload.span_bytes / spans:.0f} bytes per span "
            f"({time.perf_counter() - started:.1f} s)")
        self._vacuum()
        probes = []
        if limit:
            probes.append(self._probe(bodies, concurrency, "before"))

        warmup = Workload(concurrency * 2 * min(batch, 50), seed + 1)
        warm_bodies = warmup.bodies(min(batch, 50))
        work: queue.Queue = queue.Queue()
        latencies: list[float] = []
        failures: list[str] = []
        last_ok = [0.0]
        accepted = [0]
        lock = threading.Lock()
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
        path = (target.path.rstrip("/") or "") + "/v1/traces"

        def sender():
            conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=300)
            while True:
                try:
                    n, data = work.get_nowait()
                except queue.Empty:
                    break
                t0 = time.perf_counter()
                try:
                    conn.request("POST", path, body=data, headers=headers)
                    resp = conn.getresponse()
                    reply = resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(target.hostname, target.port or 80,
                                                      timeout=300)
                    status, reply = 0, str(exc).encode()
                t1 = time.perf_counter()
                with lock:
                    latencies.append(t1 - t0)
                    if 200 <= status < 300:
                        last_ok[0] = max(last_ok[0], t1)
                        accepted[0] += n
                    else:
                        failures.append(f"{status} {reply[:200]!r}")
            conn.close()

        def run(items):
            for item in items:
                work.put(item)
            threads = [threading.Thread(target=sender) for _ in range(concurrency)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()

        # A few small requests first, untimed: each server process loads its views, the
        # protobuf classes and its database connection at its first request.
        run(warm_bodies)
        if failures:
            raise CommandError(f"the warm-up requests failed: {failures[0]}")
        latencies.clear()
        accepted[0] = 0
        sizes_before = stored_sizes()
        cpu = CpuMeter()
        first_send = time.perf_counter()
        run(bodies)

        # 2xx means committed, so the count is complete at the last 2xx unless the server
        # stores asynchronously; polling only afterwards keeps the poll off the measured load.
        stored = Step.objects.filter(invocation__project=project,
                                     invocation__trace_id__in=workload.trace_ids)
        deadline = time.perf_counter() + timeout
        while True:
            # The moment a count is asked, not when its answer arrives: counting takes a while.
            persisted_at = time.perf_counter()
            count = stored.count()
            if count >= spans or persisted_at > deadline:
                break
            time.sleep(0.05)

        ingest_cpu = cpu.used()
        classified_at = None
        if wait_classified and count >= spans:
            pending = Invocation.objects.filter(
                project=project, trace_id__in=workload.trace_ids,
                classified_version__lt=F("data_version"))
            deadline = time.perf_counter() + wait_classified
            while time.perf_counter() < deadline:
                asked = time.perf_counter()
                if not pending.exists():
                    classified_at = asked
                    break
                time.sleep(0.2)
        sizes_after = stored_sizes()
        worker = cpu.used()
        cpu.close()

        ok = len(latencies) - len(failures)
        self.stdout.write(f"requests: {len(latencies)} ({ok} 2xx, {len(failures)} failed), "
                          f"{concurrency} connections, {batch} spans each")
        for reason in failures[:5]:
            self.stdout.write(f"  failed: {reason}")
        if last_ok[0]:
            self.stdout.write(
                f"accepted:  {accepted[0] / (last_ok[0] - first_send):,.0f} spans/s "
                f"({accepted[0]} spans in {last_ok[0] - first_send:.2f} s, first send to "
                "last 2xx)")
        if count >= spans:
            self.stdout.write(f"persisted: {spans / (persisted_at - first_send):,.0f} spans/s "
                              f"({persisted_at - first_send:.2f} s to {count} steps stored)")
        else:
            self.stdout.write(f"persisted: only {count} of {spans} steps after {timeout:.0f} s")
        if latencies:
            ms = [v * 1000 for v in latencies]
            self.stdout.write(
                f"latency:   p50 {_percentile(ms, 50):.0f} ms, p95 {_percentile(ms, 95):.0f} ms,"
                f" p99 {_percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms"
                f" (mean {statistics.fmean(ms):.0f} ms)")
        web_cpu = ingest_cpu["web"] + ingest_cpu["web db"]
        if web_cpu:
            self.stdout.write(
                f"cpu:       {web_cpu / spans * 1e6:,.0f} µs per span in the web processes and "
                f"their database sessions ({ingest_cpu['web'] / spans * 1e6:,.0f} + "
                f"{ingest_cpu['web db'] / spans * 1e6:,.0f}), {spans / web_cpu:,.0f} spans per "
                "CPU-second")
        traces = len(workload.trace_ids)
        if classified_at:
            self.stdout.write(
                f"classified: {traces} invocations {classified_at - first_send:.2f} s after the "
                f"first send ({traces / (classified_at - first_send):,.0f} invocations/s)")
        elif wait_classified and count >= spans:
            self.stdout.write(f"classified: not all {traces} invocations after "
                              f"{wait_classified:.0f} s more")
        worker_cpu = worker["worker"] + worker["worker db"]
        if classified_at and worker_cpu:
            self.stdout.write(
                f"worker cpu: {worker_cpu / traces * 1000:,.1f} ms per invocation "
                f"({worker['worker'] / traces * 1000:,.1f} + "
                f"{worker['worker db'] / traces * 1000:,.1f} in its database sessions), "
                f"{traces / worker_cpu:,.0f} invocations per CPU-second")
        grown = {t: sizes_after.get(t, 0) - sizes_before.get(t, 0) for t in sizes_after}
        total = sum(grown.values())
        wire = workload.span_bytes / spans
        top = sorted(grown.items(), key=lambda kv: -kv[1])[:4]
        self.stdout.write(
            f"storage:   {total / spans:,.0f} bytes per span (tables and indexes) for "
            f"{wire:,.0f} wire bytes ({total / spans / wire:.2f}x): "
            + ", ".join(f"{t.removeprefix('traceview_')} {b / spans:,.0f}" for t, b in top))
        if probes and count >= spans:
            probes.append(self._probe(bodies, concurrency, "after"))
            # The machine is shared: the limit is measured on both sides of the run, and the
            # run is compared with their mean.
            limit_rate = statistics.fmean(p["rate"] for p in probes)
            rate = spans / (persisted_at - first_send)
            self.stdout.write(f"ratio:     {rate / limit_rate:.2f} of the limit "
                              f"({rate:,.0f} / {limit_rate:,.0f} spans/s)")
            limit_cpu = sum(p["cpu"] for p in probes) / len(probes)
            if web_cpu and limit_cpu:
                # The same comparison in CPU time, which the neighbours' load moves far less.
                self.stdout.write(
                    f"cpu ratio: {limit_cpu / web_cpu:.2f} (the limit's "
                    f"{limit_cpu / spans * 1e6:,.0f} µs per span against the server's "
                    f"{web_cpu / spans * 1e6:,.0f})")
        if failures or count < spans:
            raise CommandError("the benchmark did not complete")

    def _vacuum(self) -> None:
        """VACUUM ANALYZE the tables ingest writes, as autovacuum keeps them in a deployment.
        Where it is off (as on the development machine), they kept every earlier run's dead rows
        (the worker rewrites each invocation it classifies) and the statistics of when they were
        empty, under which the lookup of a request's traces read all of the project's invocations
        through another index (0.8 ms for 25 traces at 3,300 invocations, against 0.2 ms by the
        unique key once analyzed), while the limit's table is new each time."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in (Invocation, Step, StepPayload, Agent):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        self.stdout.write(f"vacuum analyze of the ingest tables: "
                          f"{time.perf_counter() - started:.1f} s")

    def _probe(self, bodies, concurrency: int, when: str) -> dict:
        probe = limit_probe(bodies, concurrency)
        ms = probe["latencies"]
        self.stdout.write(
            f"limit ({when}): {probe['rate']:,.0f} spans/s ({probe['spans']} spans parsed and "
            f"COPYed into one indexed table in {probe['elapsed']:.2f} s from {concurrency} "
            f"processes; p50 {_percentile(ms, 50):.0f} ms, p99 {_percentile(ms, 99):.0f} ms "
            f"per request; {probe['bytes'] / probe['spans']:,.0f} bytes stored per span)")
        return probe
