"""Agent graph: nodes for agents, sub-agents and tools, edges for calls and handoffs with counts,
error rates and latency, for one run and over an agent's runs; the page escapes names and each
node links to the runs (or the step) it stands for."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.agents.graph import agent_graph, run_graph
from traceview.core.trace import InvocationData, StepData
from traceview.models import Agent, Invocation, Project

XSS = '<script>alert("x")</script>'


def _multi_agent(trace_id: str, start, fail_search: bool = False) -> InvocationData:
    def at(s):
        return start + timedelta(seconds=s)

    steps = [
        StepData("root", kind="agent", name="triage", started_at=at(0), ended_at=at(10),
                 status="ok"),
        StepData("t1", "root", kind="tool", name="classify", tool_name="classify",
                 started_at=at(0.1), ended_at=at(0.3), status="ok"),
        StepData("h1", "root", kind="handoff", name="handoff to researcher",
                 agent_name="triage", started_at=at(0.4), ended_at=at(0.4), status="ok"),
        StepData("sub", "root", kind="agent", name="researcher", started_at=at(0.5),
                 ended_at=at(9), status="ok"),
        StepData("s1", "sub", kind="tool", name="search", tool_name="search",
                 started_at=at(1), ended_at=at(2), status="error" if fail_search else "ok"),
        StepData("s2", "sub", kind="tool", name="search", tool_name="search",
                 started_at=at(2), ended_at=at(4), status="ok"),
        StepData("x1", "sub", kind="tool", name=XSS, tool_name=XSS, started_at=at(4),
                 ended_at=at(5), status="ok"),
    ]
    return InvocationData(trace_id=trace_id, agent="triage", name="route a question",
                          status="ok", started_at=at(0), ended_at=at(10), steps=steps)


def _edges(graph):
    return {(e.source.name, e.target.name, e.kind): e for e in graph.edges}


def test_it_draws_one_runs_agents_tools_calls_and_handoffs(project):
    inv = store(project, _multi_agent("g1", timezone.now(), fail_search=True))
    graph = run_graph(inv)
    edges = _edges(graph)
    assert set(edges) == {
        ("triage", "classify", "call"), ("triage", "researcher", "handoff"),
        ("triage", "researcher", "sub-agent"), ("researcher", "search", "call"),
        ("researcher", XSS, "call"),
    }
    search = edges[("researcher", "search", "call")]
    assert (search.count, search.errors, search.p50_s) == (2, 1, 1.5)
    nodes = {n.name: n for n in graph.nodes}
    # Layered: the run's agent first, its callees one column right, theirs one more.
    assert (nodes["triage"].column, nodes["researcher"].column, nodes["search"].column) == (0, 1, 2)
    assert nodes["search"].first_error_span == "s1"


def test_it_adds_up_an_agents_runs_in_a_range(project):
    now = timezone.now()
    for i in range(3):
        store(project, _multi_agent(f"g{i}", now - timedelta(hours=i + 1), fail_search=i == 0))
    old = store(project, _multi_agent("old", now - timedelta(days=40)))
    Invocation.objects.filter(id=old.id).update(created_at=now - timedelta(days=40))
    agent = Agent.objects.get(project=project, name="triage")
    graph = agent_graph(agent, now - timedelta(days=7), now + timedelta(hours=1))
    search = _edges(graph)[("researcher", "search", "call")]
    assert graph.runs == 3 and (search.count, search.errors) == (6, 1)


def test_it_renders_the_graph_pages_escaped_with_links(browser_client, project):
    now = timezone.now()
    inv = store(project, _multi_agent("g1", now - timedelta(minutes=5), fail_search=True))
    agent = Agent.objects.get(project=project, name="triage")
    body = browser_client.get(f"/agents/{agent.id}/graph/?range=1d").content.decode()
    assert '<svg id="agent-graph"' in body
    assert XSS not in body and "&lt;script&gt;" in body
    assert "q=search" in body and "agent=triage" in body
    run = browser_client.get(f"/invocations/{inv.id}/graph/").content.decode()
    assert f"/invocations/{inv.id}/?step=s1" in run  # the failing node opens its failed step
    replay = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert f"/invocations/{inv.id}/graph/" in replay


def test_it_hides_graphs_of_other_projects(browser_client, project):
    other = Project.objects.create(name="other")
    inv = store(other, support_run(other, "foreign"))
    agent = Agent.objects.get(project=other)
    assert browser_client.get(f"/agents/{agent.id}/graph/").status_code == 404
    assert browser_client.get(f"/invocations/{inv.id}/graph/").status_code == 404
