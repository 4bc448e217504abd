"""Faults against the real services (issue 15): a web server (gunicorn), a Celery worker with beat,
a Redis of the test's own on another port, and PostgreSQL. While a client posts failing runs and
retries whatever was not acknowledged, the worker is killed with SIGKILL mid-batch and Redis is
stopped (and comes back empty, its queue lost). Exact SQL counts then say that everything
acknowledged is stored once, classified once and grouped once.

PostgreSQL only: the embedded default has no server to lose. The shared Redis on 6379 and the
shared PostgreSQL cluster are never touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from django.db import connection
from django.db.models import F

from tests.conftest import FAST_BEAT, REPO, _database_url, wait_for, worker_start, worker_stop
from traceview.models import ApiKey, Diagnosis, Invocation, Issue, IssueInvocation, Project, Step

pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """redis-server on a port of its own, without persistence: a restart loses the queue."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.proc = _free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def services(transactional_db, tmp_path, own_redis):
    if connection.vendor != "postgresql":
        pytest.skip("faults need PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL")
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": own_redis.url,
           **FAST_BEAT, "TRACEVIEW_STALE_ENQUEUE_S": "3", "DEBUG": "false"}
    port = _free_port()
    with open(tmp_path / "web.log", "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "traceview.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", "2", "--timeout", "60"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), timeout=60)
    worker_env = {"CELERY_BROKER_URL": own_redis.url, **FAST_BEAT,
                  "TRACEVIEW_STALE_ENQUEUE_S": "3"}

    def start_worker(name):
        return worker_start(tmp_path, name, "-B", "-s", str(tmp_path / f"{name}-beat"),
                            env=worker_env)

    yield url, start_worker
    web.terminate()
    web.wait(20)


def _up(url) -> bool:
    try:
        return requests.get(f"{url}/api/schema/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def failing_run(i: int) -> dict:
    return {"invocations": [{"trace_id": f"fault-{i}", "agent": "bot", "status": "error",
                             "steps": [
        {"span_id": "root", "kind": "agent", "name": "bot", "status": "error",
         "started_at": "2026-11-24T10:00:00Z", "ended_at": "2026-11-24T10:00:05Z"},
        {"span_id": "lookup", "parent_span_id": "root", "kind": "tool", "name": "lookup_order",
         "tool": {"name": "lookup_order", "arguments": {"id": i}},
         "error": {"type": "HTTPError", "message": "503 Service Unavailable"},
         "started_at": "2026-11-24T10:00:01Z", "ended_at": "2026-11-24T10:00:04Z"}]}]}


class Poster(threading.Thread):
    """A client that sends runs one by one and retries each until it is acknowledged, as an
    exporter does; records what was acknowledged."""

    def __init__(self, url, key, count):
        super().__init__(daemon=True)
        self.url, self.key, self.count = url, key, count
        self.acked, self.statuses, self.sent = [], [], 0

    def run(self):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.key}"
        for i in range(self.count):
            for _ in range(200):
                try:
                    r = session.post(f"{self.url}/api/v1/traces", json=failing_run(i), timeout=30)
                    self.statuses.append(r.status_code)
                except requests.RequestException:
                    self.statuses.append("no answer")
                    time.sleep(0.2)
                    continue
                if r.status_code == 202:
                    self.acked.append(f"fault-{i}")
                    break
                time.sleep(0.2)
            time.sleep(0.02)


def test_it_loses_nothing_when_the_worker_is_killed_and_redis_is_lost(services, own_redis):
    url, start_worker = services
    project = Project.objects.create(name="faults")
    _, key = ApiKey.issue(project, name="faults")
    worker = start_worker("victim")
    poster = Poster(url, key, 120)
    poster.start()
    # Mid-batch: once the worker has classified some, SIGKILL it (no chance to ack or clean up).
    wait_for(lambda: Diagnosis.objects.count() >= 10, timeout=120, worker=worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    # Redis goes away while the client keeps posting, and comes back empty.
    acked_before = len(poster.acked)
    own_redis.stop()
    wait_for(lambda: len(poster.acked) >= acked_before + 10, timeout=60)
    own_redis.start()
    poster.join(300)
    assert not poster.is_alive()
    survivor = start_worker("survivor")
    try:
        n = len(poster.acked)
        wait_for(lambda: IssueInvocation.objects.filter(
            invocation__project=project).count() == n, timeout=180, worker=survivor)
    finally:
        worker_stop(survivor)

    n = len(poster.acked)
    assert n == 120 and 500 not in poster.statuses
    invocations = Invocation.objects.filter(project=project)
    # Stored once: one row per acknowledged trace, two steps each.
    assert invocations.count() == n
    assert set(invocations.values_list("trace_id", flat=True)) == set(poster.acked)
    assert Step.objects.filter(invocation__project=project).count() == 2 * n
    # Classified once: one diagnosis each, on the latest data.
    assert Diagnosis.objects.filter(invocation__project=project).count() == n
    assert not invocations.filter(classified_version__lt=F("data_version")).exists()
    # Grouped once: each failure in exactly one issue, counted once.
    assert IssueInvocation.objects.filter(invocation__project=project).count() == n
    assert sum(Issue.objects.filter(project=project).values_list("times_seen", flat=True)) == n


# --- PostgreSQL restarted under load: a cluster of the test's own -------------------------------


class OwnCluster:
    """A PostgreSQL cluster made for this test on a free port (pg_createcluster) and dropped
    afterwards: restarting it touches nothing shared."""

    def __init__(self):
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.name, self.port = f"tvfault{os.getpid()}", _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/traceview"

    def create(self):
        subprocess.run(["pg_createcluster", self.version, self.name, "-p", str(self.port),
                        "--start", "--", "--auth=trust"], check=True, capture_output=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-c", "CREATE DATABASE traceview"], check=True, capture_output=True)

    def ctl(self, action: str):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name,
                        action, *(["-m", "fast"] if action != "start" else [])],
                       check=True, capture_output=True)

    def drop(self):
        subprocess.run(["pg_dropcluster", self.version, self.name, "--stop"], capture_output=True)

    def count(self, sql: str) -> int:
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchone()[0]


@pytest.fixture
def own_cluster(own_redis):
    if connection.vendor != "postgresql" or not os.path.isdir("/etc/postgresql"):
        pytest.skip("needs PostgreSQL's cluster tools (pg_createcluster) and a PostgreSQL run")
    cluster = OwnCluster()
    cluster.create()
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=REPO,
                       env={**os.environ, "DATABASE_URL": cluster.url}, check=True, timeout=600)
        yield cluster
    finally:
        cluster.drop()


def test_it_loses_nothing_when_postgresql_restarts_under_load(own_cluster, own_redis, tmp_path):
    cluster = own_cluster
    env = {**os.environ, "DATABASE_URL": cluster.url, "CELERY_BROKER_URL": own_redis.url,
           **FAST_BEAT, "TRACEVIEW_STALE_ENQUEUE_S": "3", "DEBUG": "false"}
    key = subprocess.run([sys.executable, "manage.py", "create_api_key", "faults"], cwd=REPO,
                         env=env, check=True, capture_output=True, text=True
                         ).stdout.strip().splitlines()[-1].split()[-1]
    port = _free_port()
    with open(tmp_path / "web.log", "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "traceview.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", "2", "--timeout", "60"], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    worker = worker_start(tmp_path, "pgfault", "-B", "-s", str(tmp_path / "beat"), env=env)
    try:
        wait_for(lambda: _up(url), timeout=60)
        poster = Poster(url, key, 120)
        poster.start()
        wait_for(lambda: len(poster.acked) >= 30, timeout=120)
        cluster.ctl("stop")
        time.sleep(3)  # requests meanwhile get 503 and are retried by the client
        cluster.ctl("start")
        poster.join(300)
        assert not poster.is_alive()
        n = len(poster.acked)
        wait_for(lambda: cluster.count("SELECT count(*) FROM traceview_issueinvocation") == n,
                 timeout=180, worker=worker)
    finally:
        worker_stop(worker)
        web.terminate()
        web.wait(20)

    assert n == 120 and 500 not in poster.statuses
    assert 503 in poster.statuses or "no answer" in poster.statuses  # the outage was seen
    count = cluster.count
    assert count("SELECT count(DISTINCT trace_id) FROM traceview_invocation") == n
    assert count("SELECT count(*) FROM traceview_invocation") == n
    assert count("SELECT count(*) FROM traceview_step") == 2 * n
    assert count("SELECT count(*) FROM traceview_diagnosis") == n
    assert count("SELECT count(*) FROM traceview_invocation "
                 "WHERE classified_version < data_version") == 0
    assert count("SELECT count(*) FROM traceview_issueinvocation") == n
    assert count("SELECT sum(times_seen) FROM traceview_issue") == n
