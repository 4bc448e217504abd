"""Agent pages: the list of agent types, creating one, one agent (its settings form and the
evaluation of each version over a time range), two of its versions side by side (compare), and
its graph of agents, sub-agents and tools (for a range, or for one run).
Login required; only agents of the user's projects exist for them (a foreign agent is a 404).
Saving answers the form region alone to htmx (`#agent-form`) and redirects otherwise, so the
page also works without JavaScript.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode

from traceview.agents.evaluation import (
    METRICS,
    MIN_RELATIVE_CHANGE,
    MIN_RUNS,
    VersionStats,
    evaluation_range,
    outcome_figure,
    version_compare,
    version_evaluation,
    version_list_url,
)
from traceview.agents.graph import MAX_GRAPH_RUNS, agent_graph, run_graph
from traceview.agents.registry import AgentForm, agent_list
from traceview.agents.scope_audit import agent_scope, agent_scope_violation_count
from traceview.agents.scope_views import scope_violations_url
from traceview.agents.tasks import agent_scope_reaudit_enqueue
from traceview.core.models import Agent, Invocation
from traceview.core.queries import projects_for_user
from traceview.dashboards.charts import RANGES, Scope
from traceview.replay.diff import version_run_pair
from traceview.replay.filters import outcome_filters


@login_required
def agent_list_view(request):
    agents = list(agent_list(projects_for_user(request.user)))
    return render(request, "traceview/agents/agent_list.html", {
        "agents": agents,
        "unowned": sum(1 for a in agents if a.owner_id is None),
    })


@login_required
def agent_create_view(request):
    projects = list(projects_for_user(request.user))
    form = AgentForm(request.POST or None, projects=projects)
    if request.method == "POST" and form.is_valid():
        agent = form.save()
        return redirect("agent-detail", pk=agent.pk)
    return render(request, "traceview/agents/agent_create.html", {"form": form})


@login_required
def agent_detail_view(request, pk: int):
    projects = projects_for_user(request.user)
    agent = get_object_or_404(
        Agent.objects.select_related("project", "owner").filter(project__in=projects), pk=pk
    )
    # Read before validation, which writes the submitted values onto the instance.
    scope_before = agent_scope(agent)
    form = AgentForm(request.POST or None, instance=agent, projects=[agent.project])
    saved = reaudit = False
    if request.method == "POST":
        if form.is_valid():
            agent = form.save()
            saved = True
            if agent_scope(agent) != scope_before:
                agent_scope_reaudit_enqueue(agent.pk)
                reaudit = True
            if not request.htmx:
                url = reverse("agent-detail", args=[agent.pk])
                return redirect(url + "?scope=reaudit" if reaudit else url)
            form = AgentForm(instance=agent, projects=[agent.project])
    context = {
        "agent": agent, "form": form, "saved": saved,
        "reaudit": reaudit or request.GET.get("scope") == "reaudit",
        "reaudit_days": settings.TRACEVIEW_SCOPE_REAUDIT_DAYS,
    }
    template = "traceview/agents/agent_detail.html"
    if request.htmx and request.htmx.target == "agent-form":
        response = render(request, template + "#agent-form", context)
    else:
        context.update(_versions_context(request, agent))
        context.update(scope_violations=agent_scope_violation_count(agent),
                       scope_violations_url=scope_violations_url(agent=agent.pk, days=30))
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _versions_context(request, agent: Agent) -> dict:
    """The agent page's Versions section: each version's evaluation over the chosen range, the
    most recently seen first, and the compare form's defaults (the two most recent)."""
    range_key, start, end = evaluation_range(request.GET.get("range"))
    versions = version_evaluation(agent, start, end)
    names = [s.version for s in versions]
    return {
        "range_key": range_key, "ranges": RANGES, "start": start, "end": end,
        "metrics": METRICS, "version_names": names,
        "versions": [{"stats": s, "url": version_list_url(agent, start, end, s.version)}
                     for s in versions],
        "compare_b": names[0] if names else "",
        "compare_a": names[1] if len(names) > 1 else (names[0] if names else ""),
    }


@login_required
def agent_compare_view(request, pk: int):
    """Versions A and B of one agent side by side over a range (?a=&b=&range=). A missing
    version defaults to the most recent (B) and the one before it (A); a version with no runs
    in the range shows as such."""
    agent = get_object_or_404(
        Agent.objects.select_related("project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    range_key, start, end = evaluation_range(request.GET.get("range"))
    # All versions in one grouped query: the picker's choices and both sides come from it.
    versions = {s.version: s for s in version_evaluation(agent, start, end)}
    names = list(versions)
    # The version field's length; a longer value names no stored version anyway.
    b = request.GET.get("b", names[0] if names else "")[:100]
    a = request.GET.get("a", names[1] if len(names) > 1 else b)[:100]
    sides = [versions.get(v) or VersionStats(version=v) for v in (a, b)]
    diffs = version_compare(*sides)
    urls = [version_list_url(agent, start, end, v) for v in (a, b)]
    context = {
        "agent": agent, "range_key": range_key, "ranges": RANGES, "start": start, "end": end,
        "a": sides[0], "b": sides[1],
        "sides": [("A", sides[0], urls[0]), ("B", sides[1], urls[1])],
        "same": a == b,
        "choices": names + [v for v in dict.fromkeys((a, b)) if v not in versions],
        "process": [d for d in diffs if d.group == "process"],
        "failures": [
            {"diff": d, "urls": [version_list_url(agent, start, end, v,
                                                  **outcome_filters(d.category))
                                 for v in (a, b)]}
            for d in diffs if d.group == "failures"
        ],
        "min_runs": MIN_RUNS, "min_relative_pct": round(MIN_RELATIVE_CHANGE * 100),
        "figures": {"outcomes": outcome_figure(agent, start, end, *sides)}
        if any(s.runs for s in sides) else None,
        "run_pair": version_run_pair(agent.pk, a, b, start, end),
    }
    return render(request, "traceview/agents/agent_compare.html", context)




def _graph_links(graph, url_of) -> None:
    for node in graph.nodes:
        node.url = url_of(node)


@login_required
def agent_graph_view(request, pk: int):
    """The agent's graph added up over its runs in a range (`?range=`): agents, sub-agents and
    tools, calls and handoffs with counts, error rates and latency. A node opens the list of
    the runs it appears in."""
    agent = get_object_or_404(
        Agent.objects.select_related("project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    range_key, start, end = evaluation_range(request.GET.get("range"))
    graph = agent_graph(agent, start, end)
    scope = Scope(projects=[agent.project], start=start, end=end, agent=agent.name,
                  project=agent.project_id)
    # The list has no tool filter: its search finds the runs that called the tool.
    _graph_links(graph, lambda n: scope.list_url(q=n.name) if n.kind == "tool"
                 else scope.list_url(**({} if n.name == agent.name else {"q": n.name})))
    return render(request, "traceview/agents/agent_graph.html", {
        "agent": agent, "graph": graph, "range_key": range_key, "ranges": RANGES,
        "start": start, "end": end, "max_runs": MAX_GRAPH_RUNS,
    })


@login_required
def invocation_graph_view(request, pk: int):
    """One run's graph; a node opens the replay at that node's first failed step, else its
    first step."""
    invocation = get_object_or_404(
        Invocation.objects.select_related("agent", "project").filter(
            project__in=projects_for_user(request.user)
        ),
        pk=pk,
    )
    graph = run_graph(invocation)
    base = reverse("invocation-detail", args=[invocation.pk])

    def step_url(node):
        span = node.first_error_span or node.first_span
        return f"{base}?{urlencode({'step': span})}" if span else base

    _graph_links(graph, step_url)
    return render(request, "traceview/agents/agent_graph.html", {
        "agent": invocation.agent, "invocation": invocation, "graph": graph,
    })
