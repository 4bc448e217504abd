"""Run diff: the alignment (not by index), the differences it names, the first divergence, and
the page and its ways in (a failed run's baseline, two rows of the list, the version compare)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from tests.pages_data import T0, store, support_run
from traceview.core.trace import StepData
from traceview.models import Agent, Project
from traceview.replay.diff import DiffStep, align, diff_baseline

XSS = '<script>alert("x")</script>'


def step(name, kind="tool", args="", result="", status="ok", model=""):
    return DiffStep(id=0, span_id=name, kind=kind, name=name, status=status, tool=name,
                    model=model, error="", tokens=None, cost=None, duration_s=None,
                    arguments=args, result=result, prompt="")


def ops(rows):
    return [(r.op, r.a.name if r.a else None, r.b.name if r.b else None) for r in rows]


def test_it_aligns_an_inserted_step_instead_of_shifting_every_later_one():
    a = [step("plan", "llm"), step("search", args="q=1"), step("fetch"), step("answer", "llm")]
    b = [step("plan", "llm"), step("login"), step("search", args="q=1"), step("fetch"),
         step("answer", "llm")]
    rows = align(a, b)
    assert ops(rows) == [("same", "plan", "plan"), ("only_b", None, "login"),
                         ("same", "search", "search"), ("same", "fetch", "fetch"),
                         ("same", "answer", "answer")]


def test_it_pairs_a_call_made_with_other_arguments_and_names_each_difference():
    a = [step("plan", "llm", model="gpt-4o"), step("search", args='{"q": "paris"}', result="ok"),
         step("answer", "llm")]
    b = [step("plan", "llm", model="gpt-4o-mini"),
         step("search", args='{"q": "pairs"}', result="nothing", status="error"),
         step("answer", "llm")]
    rows = align(a, b)
    assert [r.op for r in rows] == ["changed", "changed", "same"]
    assert "model gpt-4o → gpt-4o-mini" in rows[0].differences
    assert {"called with other arguments", "status ok → error", "another result"} <= set(
        rows[1].differences)


def test_it_marks_steps_only_one_run_has():
    rows = align([step("a"), step("b"), step("c")], [step("a"), step("c"), step("d")])
    assert ops(rows) == [("same", "a", "a"), ("only_a", "b", None), ("same", "c", "c"),
                         ("only_b", None, "d")]


def _runs(project):
    good = support_run(project, "good-run", status="ok", start=T0)
    good.steps[2].status, good.steps[2].error_type, good.steps[2].error_message = "ok", None, None
    good.steps[2].tool_result = {"status": "shipped"}
    bad = support_run(project, "bad-run", start=T0 + timedelta(hours=1))
    bad.steps[2].tool_arguments = {"id": 4412, "fields": ["status"], "note": XSS}
    bad.steps.insert(3, StepData(
        "retry-1", "root", kind="tool", name=XSS, tool_name=XSS, tool_arguments={"x": XSS},
        started_at=bad.steps[2].ended_at, ended_at=bad.steps[2].ended_at, status="ok",
        input_tokens=None, cost_usd=None,
    ))
    return store(project, good), store(project, bad)


def test_it_shows_two_runs_side_by_side_with_the_first_divergence(browser_client, project):
    good, bad = _runs(project)
    response = browser_client.get(f"/compare/?a={good.id}&b={bad.id}")
    body = response.content.decode()
    assert response.status_code == 200
    assert XSS not in body and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    rows = re.findall(r'<tr class="diff-(\w+)( first-divergence)?"', body)
    # root and first model call the same; the lookup changed (first divergence); the retry
    # only in B; the rest aligned again.
    # The root agent's status differs (a consequence); the first model call is the same; the
    # lookup was called with other arguments (the first divergence); the retry is only in B;
    # then the runs align again.
    assert [op for op, _ in rows] == ["changed", "same", "changed", "only_b", "same", "same"]
    assert [i for i, (_, f) in enumerate(rows) if f] == [2]
    assert "called with other arguments" in body and "only in B" in body
    assert 'id="first-divergence"' in body


def test_it_compares_two_rows_picked_on_the_list(browser_client, project):
    good, bad = _runs(project)
    listing = browser_client.get("/").content.decode()
    assert 'form="compare-pick"' in listing and 'id="compare-pick"' in listing
    response = browser_client.get("/compare/", {"run": [str(good.id), str(bad.id)]})
    assert response.status_code == 200 and 'id="run-diff"' in response.content.decode()
    one = browser_client.get("/compare/", {"run": [str(good.id)]})
    assert one.status_code == 400 and "two runs" in one.content.decode()


def test_it_compares_a_failed_run_with_the_last_success_of_its_agent(browser_client, project):
    good, bad = _runs(project)
    older = store(project, support_run(project, "older-ok", status="ok", name="other task",
                                       start=T0 - timedelta(days=1)))
    assert diff_baseline(bad) == good  # same task (name) wins over any other success
    page = browser_client.get(f"/invocations/{bad.id}/").content.decode()
    assert "Compare with the last successful run of this agent" in page
    response = browser_client.get(f"/invocations/{bad.id}/compare/")
    assert response.status_code == 302
    assert response.url == f"/compare/?a={good.id}&b={bad.id}"
    assert older.id != good.id


def test_it_says_when_there_is_no_successful_run(browser_client, project):
    bad = store(project, support_run(project, "lonely"))
    response = browser_client.get(f"/invocations/{bad.id}/compare/")
    assert response.status_code == 404 and "No successful run" in response.content.decode()


def test_it_hides_runs_of_other_projects(browser_client, project):
    good, _ = _runs(project)
    other = Project.objects.create(name="other")
    foreign = store(other, support_run(other, "foreign"))
    assert browser_client.get(f"/compare/?a={good.id}&b={foreign.id}").status_code == 404


def test_it_links_the_version_comparison_to_a_run_diff(browser_client, project):
    from django.utils import timezone

    now = timezone.now()
    a = store(project, support_run(project, "v1-run", start=now - timedelta(hours=2)))
    b_data = support_run(project, "v2-run", start=now - timedelta(hours=1))
    b_data.agent_version = "1.5.0"
    b = store(project, b_data)
    agent = Agent.objects.get(project=project, name="support-bot")
    body = browser_client.get(f"/agents/{agent.id}/compare/?a=1.4.0&b=1.5.0").content.decode()
    assert f"/compare/?a={a.id}&amp;b={b.id}" in body


def test_it_compares_tokens_and_cost(browser_client, project):
    good, bad = _runs(project)
    body = browser_client.get(f"/compare/?a={good.id}&b={bad.id}").content.decode()
    assert f"${good.cost_usd:.4f}" in body
    assert good.cost_usd == Decimal("0.0068")
