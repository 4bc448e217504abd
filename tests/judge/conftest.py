"""Fixtures for the judge: a stub chat-completions server over real HTTP, the judge switched on
for the test project (in this process and in the environment the workers inherit), and real
Celery workers: one on the default queue for classification, one on the judge's queue."""

from __future__ import annotations

import pytest

from tests.conftest import FAST_BEAT, worker_start, worker_stop
from tests.judge.stub import StubServer

# Dollars per million tokens: one verdict's cost is easy to compute by hand.
PRICE_IN, PRICE_OUT = "2", "10"


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def judge_environment(stub: StubServer, **overrides) -> dict[str, str]:
    return {
        "TRACEVIEW_JUDGE_URL": stub.url,
        "TRACEVIEW_JUDGE_MODEL": "stub-judge-1",
        "TRACEVIEW_JUDGE_API_KEY": "sk-test-judge",
        "TRACEVIEW_JUDGE_PROJECTS": "acme",
        "TRACEVIEW_JUDGE_MONTHLY_CAP_USD": "5",
        "TRACEVIEW_JUDGE_PRICE_INPUT": PRICE_IN,
        "TRACEVIEW_JUDGE_PRICE_OUTPUT": PRICE_OUT,
        "TRACEVIEW_JUDGE_TIMEOUT_S": "2",
        **overrides,
    }


def judge_settings(settings, environment: dict[str, str]) -> None:
    """The same configuration as Django settings of this process (settings.py reads the
    environment once, at start)."""
    for key, value in environment.items():
        if key == "TRACEVIEW_JUDGE_PROJECTS":
            value = [p for p in value.split(",") if p]
        elif key in ("TRACEVIEW_JUDGE_MONTHLY_CAP_USD", "TRACEVIEW_JUDGE_TIMEOUT_S",
                     "TRACEVIEW_JUDGE_BELOW_CONFIDENCE"):
            value = float(value)
        elif key in ("TRACEVIEW_JUDGE_MAX_PROMPT_CHARS", "TRACEVIEW_JUDGE_MAX_OUTPUT_TOKENS"):
            value = int(value)
        setattr(settings, key, value)


@pytest.fixture
def judge_on(settings, stub):
    """The judge on for project "acme", pointed at the stub; returns its environment."""
    environment = judge_environment(stub)
    judge_settings(settings, environment)
    return environment


@pytest.fixture
def judge_workers(transactional_db, tmp_path, judge_on):
    """A classification worker (default queue, with beat) and a judge worker (`-Q judge`, rate
    limit one call a second), both configured for the stub."""
    from traceview.celery import app

    app.control.purge()
    environment = {**judge_on, **FAST_BEAT, "TRACEVIEW_JUDGE_RATE_LIMIT": "60/m"}
    rules = worker_start(tmp_path, "rules", "-B", "-s", str(tmp_path / "beat-schedule"),
                         env=environment)
    judge = worker_start(tmp_path, "judge", "-Q", "judge", env=environment)
    yield rules, judge
    worker_stop(judge)
    worker_stop(rules)
