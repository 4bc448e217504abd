"""Pages read from a real PostgreSQL streaming replica when DATABASE_REPLICA_URL is set.

The test builds its own primary and replica clusters (pg_createcluster, pg_basebackup) on spare
ports, never touching the shared cluster, runs gunicorn against them, pauses the replica's
replay, and shows that a page then misses what the primary has just stored, except for a user
who has just written (read-your-writes), and that ingest and the API read the primary. The
clusters are dropped afterwards. PostgreSQL runs only (it needs root and Debian's cluster tools).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
VERSION = "15"

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    or shutil.which("pg_createcluster") is None or os.geteuid() != 0,
    reason="needs PostgreSQL, Debian's pg_createcluster and root (it builds its own clusters)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str, **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def _psql(port: int, sql: str, db: str = "postgres") -> str:
    return _run("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                "-Atqc", sql).strip()


@pytest.fixture
def clusters():
    tag = f"tvrep{os.getpid()}"
    primary, replica = f"{tag}p", f"{tag}r"
    p_port, r_port = _free_port(), _free_port()
    made = []
    try:
        made.append(primary)  # dropped even if its creation fails half-way
        _run("pg_createcluster", VERSION, primary, "-p", str(p_port), "--start",
             "-o", "listen_addresses=localhost", "-o", "wal_level=replica",
             "-o", "max_wal_senders=4", "-o", "fsync=off", "--", "--auth=trust")
        _psql(p_port, "CREATE DATABASE traceview")
        made.append(replica)
        _run("pg_createcluster", VERSION, replica, "-p", str(r_port),
             "-o", "listen_addresses=localhost", "-o", "hot_standby=on", "--",
             "--auth=trust")
        data = Path(f"/var/lib/postgresql/{VERSION}/{replica}")
        for child in data.iterdir():  # emptied, not removed: its parent belongs to root
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        _run("runuser", "-u", "postgres", "--", "pg_basebackup", "-h", "127.0.0.1", "-p",
             str(p_port), "-U", "postgres", "-D", str(data), "-R", "-X", "stream")
        _run("pg_ctlcluster", VERSION, replica, "start")
        deadline = time.time() + 60
        while _psql(r_port, "SELECT pg_is_in_recovery()") != "t":
            assert time.time() < deadline, "the replica did not start"
            time.sleep(0.5)
        yield p_port, r_port
    finally:
        for name in reversed(made):
            subprocess.run(["pg_dropcluster", VERSION, name, "--stop"], capture_output=True)


def _manage(env: dict, *args: str) -> str:
    return _run(sys.executable, "manage.py", *args, cwd=ROOT, env=env)


class Browser:
    """A logged-in user: cookies kept, as a browser keeps them."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode()

    def login(self, username: str, password: str) -> None:
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": token}).encode()
        req = urllib.request.Request(self.base + "/login/", data=data,
                                     headers={"Referer": self.base + "/login/"})
        with self.opener.open(req, timeout=30) as r:
            assert "/login/" not in r.geturl(), "login failed"


def _ingest(base: str, key: str, trace_id: str, agent: str) -> None:
    body = json.dumps({"invocations": [{"trace_id": trace_id, "agent": agent, "status": "ok",
                                        "steps": [{"span_id": "a", "kind": "agent",
                                                   "name": agent}]}]}).encode()
    req = urllib.request.Request(f"{base}/api/v1/traces", data=body, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202


def _wait_replayed(r_port: int, agent: str) -> None:
    deadline = time.time() + 30
    while _psql(r_port, "SELECT count(*) FROM traceview_invocation i JOIN traceview_agent a "
                        f"ON a.id = i.agent_id WHERE a.name = '{agent}'", "traceview") != "1":
        assert time.time() < deadline, "the replica did not catch up"
        time.sleep(0.2)


def test_it_reads_pages_from_the_replica_and_a_writers_pages_from_the_primary(clusters):
    p_port, r_port = clusters
    web_port = _free_port()
    env = {**os.environ,
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:{p_port}/traceview",
           "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{r_port}/traceview",
           "TRACEVIEW_REPLICA_PIN_S": "2", "DEBUG": "true", "SECRET_KEY": "replica-test",
           "ALLOWED_HOSTS": "127.0.0.1", "GUNICORN_BIND": f"127.0.0.1:{web_port}",
           "WEB_CONCURRENCY": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    _manage(env, "migrate", "--no-input", "-v0")
    key = _manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User\n"
        "from traceview.models import ApiKey, Project\n"
        "p = Project.objects.create(name='replicated')\n"
        "u = User.objects.create_user('ana', password='pw-replica-1')\n"
        "p.members.add(u)\n"
        "print(ApiKey.issue(p, name='t')[1])")).strip().splitlines()[-1]
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")),
                               "traceview.wsgi"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/login/", timeout=5).close()
                break
            except OSError:
                assert time.time() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        ana = Browser(base)
        ana.login("ana", "pw-replica-1")
        _ingest(base, key, "before-pause", "agent-before-pause")
        _wait_replayed(r_port, "agent-before-pause")
        _psql(r_port, "SELECT pg_wal_replay_pause()")
        _ingest(base, key, "during-pause", "agent-during-pause")
        time.sleep(2.5)  # past the pin of the login
        page = ana.get("/")
        # The replica has the first run and not the second: the page was read from it.
        assert "agent-before-pause" in page and "agent-during-pause" not in page
        # The API reads the primary (a client posts then reads back).
        req = urllib.request.Request(f"{base}/api/v1/invocations?trace_id=during-pause",
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.loads(r.read())["results"][0]["trace_id"] == "during-pause"
        # A write pins the writer's pages to the primary for a while: they see the new run.
        ana.login("ana", "pw-replica-1")
        assert "agent-during-pause" in ana.get("/")
        # Once the replica has caught up, a user who wrote nothing sees the run from it.
        bob = Browser(base)
        _manage(env, "shell", "-c", (
            "from django.contrib.auth.models import User\n"
            "from traceview.models import Project\n"
            "Project.objects.get(name='replicated').members.add("
            "User.objects.create_user('bob', password='pw-replica-2'))"))
        _psql(r_port, "SELECT pg_wal_replay_resume()")
        _wait_replayed(r_port, "agent-during-pause")
        bob.login("bob", "pw-replica-2")
        time.sleep(2.5)
        assert "agent-during-pause" in bob.get("/")
    finally:
        server.terminate()
        server.wait(timeout=30)
