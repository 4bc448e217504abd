"""make run's demo: built through the native format and the store, it shows every page at work
on first open (every failure category, recovered runs, scope violations, a session, a pair to
diff, a regressed issue, a 20,000-step run, dashboards' rollups)."""

from __future__ import annotations

import io

from django.core.management import call_command

from traceview.dashboards.models import InvocationRollup
from traceview.models import Agent, Invocation, Issue
from traceview.replay.diff import diff_baseline


def test_it_loads_a_demo_that_shows_every_page_at_work(db):
    out = io.StringIO()
    call_command("setup_dev", stdout=out)
    assert "demo:" in out.getvalue()
    runs = Invocation.objects.all()
    assert {c for c in runs.values_list("category", flat=True)} == {
        "", "planning", "tool", "context", "budget"}
    assert runs.filter(status="ok", error_count__gt=0).exists()  # recovered from an error
    assert runs.filter(scope_violation_count__gt=0).exists()
    assert runs.filter(session_id="demo-conversation-1").count() == 4
    failed = runs.get(trace_id="demo-tool-failure")
    assert diff_baseline(failed).trace_id == "demo-success-4411"
    assert Issue.objects.filter(is_regressed=True).exists()
    assert runs.get(trace_id="demo-20k-steps").step_count >= 19_999
    agents = Agent.objects.exclude(owner=None)
    assert agents.count() == 5
    for agent in agents:
        versions = set(runs.filter(agent=agent).values_list("agent_version", flat=True))
        assert len(versions) >= 2 and agent.allowed_tools and agent.budgets()
    # A week, spread over the days, counted by the rollups before any worker runs.
    days = {c.date() for c in runs.values_list("created_at", flat=True)}
    assert len(days) >= 7 and InvocationRollup.objects.count() > 50
