"""Regressions for defects seen on the pages (issue 17): filter labels, superusers and projects,
the address `setup_dev` prints, and the cost of a model with no known price."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import REPO
from tests.pages_data import store, support_run
from traceview.core.trace import StepData
from traceview.dashboards.charts import Scope, usage_per_agent
from traceview.dashboards.rollups import rollups_refresh
from traceview.devserver import dev_url
from traceview.models import Project


def test_it_labels_every_filter_of_the_list(browser_client):
    body = browser_client.get("/").content.decode()
    assert "[invalid name]" not in body
    labels = re.findall(r'<span class="muted small">([^<]*)</span><(?:input|select)', body)
    assert "Model" in labels and "Sort" in labels


def test_it_shows_a_superuser_every_project(client, db):
    out = io.StringIO()
    call_command("create_api_key", "made-by-command", stdout=out)
    project = Project.objects.get(name="made-by-command")
    inv = store(project, support_run(project, "cmd-run"))
    admin = get_user_model().objects.create_superuser("root", "", "pw-123456!")
    assert not project.members.filter(pk=admin.pk).exists()
    client.force_login(admin)
    assert client.get(f"/invocations/{inv.id}/").status_code == 200
    assert "cmd-run" in client.get("/").content.decode()
    # Someone who is neither a member nor a superuser still sees nothing of it.
    other = get_user_model().objects.create_user("eve", password="pw-123456!")
    client.force_login(other)
    assert client.get(f"/invocations/{inv.id}/").status_code == 404
    assert "members" in out.getvalue()


@pytest.mark.parametrize("addrport, url", [
    ("0.0.0.0:9123", "http://0.0.0.0:9123/"),
    ("8080", "http://127.0.0.1:8080/"),
    ("::1:8001", "http://[::1]:8001/"),
])
def test_it_reads_run_devs_address(addrport, url):
    assert dev_url(addrport) == url


def test_it_prints_the_address_run_dev_is_given(db):
    out = io.StringIO()
    call_command("setup_dev", addrport="0.0.0.0:9123", no_demo=True, stdout=out)
    assert "http://0.0.0.0:9123/" in out.getvalue()
    assert "127.0.0.1:8000" not in out.getvalue()


def test_it_passes_one_address_to_setup_dev_and_run_dev():
    commands = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "run", "ADDR=0.0.0.0:9123"], cwd=REPO,
        capture_output=True, text=True, check=True,
    ).stdout
    assert re.search(r"setup_dev .*0\.0\.0\.0:9123", commands)
    assert re.search(r"run_dev .*0\.0\.0\.0:9123", commands)


def _unpriced_run(project, trace_id="mystery-1", start=None):
    data = support_run(project, trace_id, status="ok", start=start or timezone.now())
    data.steps.append(StepData(
        "llm-x", "root", kind="llm", name="chat mystery", model="mystery-model-9000",
        started_at=data.steps[-1].started_at, ended_at=data.steps[-1].ended_at, status="ok",
        input_tokens=1000, output_tokens=50,
    ))
    return store(project, data)


def test_it_shows_an_unknown_price_as_unknown_not_free(browser_client, project):
    priced = store(project, support_run(project, "priced"))
    inv = _unpriced_run(project)
    assert inv.unpriced_calls == 1 and priced.unpriced_calls == 0
    # The support run's two priced calls still count; the total is a lower bound.
    assert inv.cost_usd == Decimal("0.0068")
    body = browser_client.get("/").content.decode()
    assert "≥ $0.0068" in body and "$0.0068" in body
    detail = browser_client.get(f"/invocations/{inv.id}/?step=llm-x").content.decode()
    assert "unknown: no price for this model" in detail
    assert "+ 1 unpriced" in detail


def test_it_shows_a_run_with_only_unpriced_calls_as_unknown(browser_client, project):
    data = support_run(project, "all-unknown", status="ok")
    for s in data.steps:
        if s.kind == "llm":
            s.model, s.cost_usd = "mystery-model-9000", None
    inv = store(project, data)
    assert inv.cost_usd == 0 and inv.unpriced_calls == 2
    row = browser_client.get("/").content.decode()
    assert "unknown" in row and "$0.0000" not in row


def test_it_does_not_count_an_unpriced_run_as_free_on_dashboards(browser_client, project):
    _unpriced_run(project, start=timezone.now() - timedelta(minutes=30))
    store(project, support_run(project, "priced", start=timezone.now() - timedelta(minutes=30)))
    rollups_refresh()
    now = timezone.now()
    scope = Scope(projects=[project], start=now - timedelta(days=1), end=now + timedelta(hours=1))
    assert sum(r["unpriced"] for r in usage_per_agent(scope)) == 1
    body = browser_client.get("/dashboards/?range=1d").content.decode()
    assert 'id="unpriced-note"' in body and "1 run whose model has no known price" in body


def _figures(body: str) -> dict:
    start = body.index('id="dashboard-figures"')
    return json.loads(body[body.index(">", start) + 1:body.index("</script>", start)])


def test_it_draws_the_chosen_range_with_bars_a_bucket_wide(browser_client, project):
    store(project, support_run(project, "recent", start=timezone.now() - timedelta(minutes=20)))
    rollups_refresh()
    # No range chosen: the select shows the week the charts draw, not its first option.
    body = browser_client.get("/dashboards/").content.decode()
    assert re.search(r'<option value="7d" selected>', body)
    # A day chosen, beside an agent that does not exist: still a day.
    body = browser_client.get("/dashboards/?range=1d&agent=nobody").content.decode()
    assert re.search(r'<option value="1d" selected>', body)
    figures = _figures(body)
    for name in ("outcomes", "cost", "tokens"):
        axis = figures[name]["layout"]["xaxis"]
        start, end = (timezone.datetime.fromisoformat(v) for v in axis["range"])
        assert end - start == timedelta(days=1), name
    body = browser_client.get("/dashboards/?range=1d").content.decode()
    bars = [t for t in _figures(body)["outcomes"]["data"] if t["type"] == "bar"]
    assert bars and all(t["width"] == 3600 * 1000 * 0.9 and t["offset"] == 0 for t in bars)
    body = browser_client.get("/dashboards/?range=7d").content.decode()
    bars = [t for t in _figures(body)["cost"]["data"] if t["type"] == "bar"]
    assert bars and all(t["width"] == 86400 * 1000 * 0.9 for t in bars)

