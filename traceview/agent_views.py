"""Agent pages: the list of agent types, creating one, and one agent (its settings form and the
versions seen). Login required; only agents of the user's projects exist for them (a foreign
agent is a 404). Saving answers the form region alone to htmx (`#agent-form`) and redirects
otherwise, so the page also works without JavaScript.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers

from traceview.agents import AgentForm, agent_list, agent_versions
from traceview.models import Agent
from traceview.queries import projects_for_user


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
    form = AgentForm(request.POST or None, instance=agent, projects=[agent.project])
    saved = False
    if request.method == "POST":
        if form.is_valid():
            agent = form.save()
            saved = True
            if not request.htmx:
                return redirect("agent-detail", pk=agent.pk)
            form = AgentForm(instance=agent, projects=[agent.project])
    context = {"agent": agent, "form": form, "saved": saved}
    template = "traceview/agents/agent_detail.html"
    if request.htmx and request.htmx.target == "agent-form":
        response = render(request, template + "#agent-form", context)
    else:
        context["versions"] = agent_versions(agent)
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
