"""Agent pages: listing (unowned agents flagged), creating and editing an agent (owner from the
project, budgets, tool scope), versions seen, isolation between projects and escaping."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.pages_data import store, support_run
from traceview.agents.evaluation import version_evaluation
from traceview.models import Agent, Project


def test_it_requires_login_for_agent_pages(client, db):
    for url in ("/agents/", "/agents/new/", "/agents/1/"):
        assert client.get(url).status_code == 302


def test_it_lists_agents_and_flags_those_first_seen_in_a_trace(browser_client, project, user):
    store(project, support_run(project, agent="<b>auto-bot</b>"))
    Agent.objects.create(project=project, name="owned-bot", owner=user)
    body = browser_client.get("/agents/").content.decode()
    assert "&lt;b&gt;auto-bot&lt;/b&gt;" in body and "<b>auto-bot</b>" not in body
    assert body.count('class="badge status-error no-owner"') == 1
    assert "1 without an owner" in body


def test_it_hides_other_projects_agents(browser_client, project):
    other = Project.objects.create(name="beta")
    foreign = Agent.objects.create(project=other, name="secret-bot")
    assert "secret-bot" not in browser_client.get("/agents/").content.decode()
    assert browser_client.get(f"/agents/{foreign.id}/").status_code == 404
    response = browser_client.post(f"/agents/{foreign.id}/", {"category": "open"})
    assert response.status_code == 404
    assert Agent.objects.get(id=foreign.id).category == "bounded"


def test_it_creates_an_agent_in_the_users_project_only(browser_client, project, user):
    other = Project.objects.create(name="beta")
    response = browser_client.post("/agents/new/", {
        "project": other.id, "name": "x", "category": "open"})
    assert response.status_code == 200 and not Agent.objects.filter(name="x").exists()
    response = browser_client.post("/agents/new/", {
        "project": project.id, "name": "planner", "category": "workflow", "owner": user.id,
        "max_steps": 40, "allowed_tools": "search, lookup_order\nsearch"})
    agent = Agent.objects.get(name="planner")
    assert response.status_code == 302 and response["Location"] == f"/agents/{agent.id}/"
    assert agent.owner == user and agent.max_steps == 40
    assert agent.allowed_tools == ["search", "lookup_order"]
    duplicate = browser_client.post("/agents/new/", {
        "project": project.id, "name": "planner", "category": "workflow"})
    assert "already has an agent" in duplicate.content.decode()


def test_it_edits_owner_budgets_and_tool_scope(browser_client, project, user):
    store(project, support_run(project))
    agent = Agent.objects.get(name="support-bot")
    outsider = get_user_model().objects.create_user("mallory")
    form = {"category": "open", "owner": outsider.id, "max_tokens": 5000}
    response = browser_client.post(f"/agents/{agent.id}/", form)
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.owner is None and agent.max_tokens is None
    response = browser_client.post(f"/agents/{agent.id}/", {
        "category": "open", "owner": user.id, "max_tokens": 5000, "max_cost_usd": "1.25",
        "max_duration_s": "30", "confirm_tools": "refund", "allowed_tools": "lookup_order"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="agent-form")
    body = response.content.decode()
    assert response.status_code == 200 and "Saved." in body and "<html" not in body
    agent.refresh_from_db()
    assert (agent.category, agent.owner, agent.max_tokens) == ("open", user, 5000)
    assert agent.max_cost_usd == Decimal("1.25") and agent.confirm_tools == ["refund"]
    negative = browser_client.post(f"/agents/{agent.id}/", {"category": "open", "max_steps": -1})
    assert negative.status_code == 200
    agent.refresh_from_db()
    assert agent.max_steps is None


def test_it_lists_versions_seen_with_counts(browser_client, project):
    store(project, support_run(project, "a"))
    store(project, support_run(project, "b", agent_version="<2.0>"))
    store(project, support_run(project, "c", agent_version="<2.0>"))
    agent = Agent.objects.get(name="support-bot")
    start, end = timezone.now() - timedelta(days=1), timezone.now() + timedelta(hours=1)
    versions = {v.version: v.runs for v in version_evaluation(agent, start, end)}
    assert versions == {"1.4.0": 1, "<2.0>": 2}
    body = browser_client.get(f"/agents/{agent.id}/").content.decode()
    assert "&lt;2.0&gt;" in body and "<2.0>" not in body
