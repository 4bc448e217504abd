"""Shared fixtures: projects and keys, an API client, and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test.testcases import LiveServerThread
from rest_framework.test import APIClient

from traceview.devserver import LiveTestServer
from traceview.models import ApiKey, Project

# The live server de-chunks request bodies as gunicorn and nginx do in production, so that
# clients that stream (Node's OTLP exporters) are tested as they are served.
LiveServerThread.server_class = LiveTestServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(db):
    return Project.objects.create(name="acme")


@pytest.fixture
def api_key(project):
    """The raw key of a fresh API key for `project`."""
    _, raw = ApiKey.issue(project, name="tests")
    return raw


@pytest.fixture
def api(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def user(project):
    u = get_user_model().objects.create_user("alice", password="s3cret-pass!")
    project.members.add(u)
    return u


@pytest.fixture
def bob(project):
    """A second member of `project`, for assigning and concurrent triage."""
    u = get_user_model().objects.create_user("bob", password="s3cret-pass!")
    project.members.add(u)
    return u


@pytest.fixture
def fail(project):
    """Store and classify a failing run: fail("t1", version="1.5.0", start=...)."""
    from tests.pages_data import store
    from tests.triage.data import tool_failure

    def make(trace_id: str, **kwargs):
        return store(project, tool_failure(trace_id, **kwargs))

    return make


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def post_native(api, body, **extra):
    return api.post("/api/v1/traces", body, format="json", **extra)


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def worker_start(tmp_path: Path, name: str, *args: str, env: dict | None = None):
    """Start a real `celery worker` process on the configured broker and the test database;
    the log is in `proc.log_path`. Stop it with worker_stop."""
    env = {**os.environ, "DATABASE_URL": _database_url(), **(env or {})}
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "traceview", "worker", "--pool=solo",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{name}@%h", *args],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
    proc.log_path = log_path
    return proc


def worker_stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


# The sweep and the rollup refresh run every second and the quiet period is two seconds, so
# tests of completion by silence and of the dashboards' rollups finish quickly.
FAST_BEAT = {
    "TRACEVIEW_SWEEP_INTERVAL_S": "1",
    "TRACEVIEW_QUIET_PERIOD_S": "2",
    "TRACEVIEW_ROLLUP_INTERVAL_S": "1",
}


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real `celery worker -B` process on the default queue (see worker_start, FAST_BEAT)."""
    from traceview.celery import app

    app.control.purge()
    proc = worker_start(
        tmp_path, "worker", "-B", "-s", str(tmp_path / "beat-schedule"), env=FAST_BEAT
    )
    yield proc
    worker_stop(proc)


def wait_for(predicate, timeout=30.0, interval=0.2, worker=None):
    """Poll until predicate() is truthy; fail with the worker's log if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    log = worker.log_path.read_text()[-4000:] if worker is not None else ""
    pytest.fail(f"condition not met within {timeout}s\n{log}")


def pytest_sessionfinish(session, exitstatus):
    # The run's own folder (test database, broker queue) under var/test/ is not needed after it.
    import shutil

    if os.environ.get("TRACEVIEW_TEST_RUN") and "test" in Path(settings.VAR_DIR).parts:
        shutil.rmtree(settings.VAR_DIR, ignore_errors=True)
