"""The triage pages over HTTP: login and project membership on every page and action, htmx
partials, the optimistic version check, escaping, the invocation page's triage panel."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import get_template

from tests.pages_data import store
from tests.triage.data import tool_failure
from traceview.models import Correction, Issue, Project
from traceview.triage import services as triage

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def issue(fail):
    inv = fail("t1")
    return Issue.objects.get(occurrences__invocation=inv)


@pytest.fixture
def foreign(db):
    """An issue and an invocation in a project the logged-in user is not a member of."""
    other = Project.objects.create(name="other")
    inv = store(other, tool_failure("secret-run"))
    return Issue.objects.get(project=other), inv, other


def test_it_requires_login_everywhere(client, issue):
    inv_id = issue.occurrences.get().invocation_id
    for url in ["/issues/", f"/issues/{issue.id}/", "/issues/agreement/",
                "/issues/corrections.jsonl", f"/invocations/{inv_id}/triage/",
                f"/projects/{issue.project_id}/webhook/", "/webhooks/"]:
        assert client.get(url).status_code == 302, url
    for url in ["/issues/bulk/", f"/issues/{issue.id}/action/", f"/issues/{issue.id}/comments/"]:
        assert client.post(url, {"action": "resolve", "ids": [issue.id]}).status_code == 302
    issue.refresh_from_db()
    assert issue.status == "open"


def test_it_hides_other_projects_issues_and_invocations(browser_client, issue, foreign):
    other_issue, other_inv, other = foreign
    c = browser_client
    assert "secret-run" not in c.get("/issues/").content.decode()
    assert c.get(f"/issues/{other_issue.id}/").status_code == 404
    assert c.post(f"/issues/{other_issue.id}/action/", {"action": "resolve"}).status_code == 404
    assert c.post(f"/issues/{other_issue.id}/comments/", {"body": "hi"}).status_code == 404
    assert c.get(f"/invocations/{other_inv.id}/triage/").status_code == 404
    assert c.post(f"/invocations/{other_inv.id}/triage/", {"category": "tool"}).status_code == 404
    assert c.get(f"/projects/{other.id}/webhook/").status_code == 404
    c.post("/issues/bulk/", {"action": "resolve", "ids": [other_issue.id, issue.id]}, **HX)
    other_issue.refresh_from_db()
    issue.refresh_from_db()
    assert (other_issue.status, issue.status) == ("open", "resolved")
    assert "secret-run" not in c.get("/issues/corrections.jsonl").getvalue().decode()


def test_it_lists_queues_with_counts_and_returns_the_rows_partial(browser_client, issue, fail):
    fail("t2", tool="refund")
    page = browser_client.get("/issues/?queue=tool&sort=count").content.decode()
    assert "lookup_order" in page and "refund" in page
    assert 'id="queue-tabs"' in page and 'id="triage-nav"' in page
    rows = browser_client.get("/issues/?queue=planning", HTTP_HX_TARGET="queue-rows", **HX)
    html = rows.content.decode()
    assert html.lstrip().startswith('<div id="queue-rows">')
    assert "No issues in this queue." in html and "<html" not in html


def test_it_shows_issue_counts_in_the_navigation(browser_client, issue):
    page = browser_client.get("/").content.decode()
    assert 'data-count="unresolved">1<' in page


def test_it_applies_bulk_actions_and_returns_the_refreshed_queue(browser_client, user, fail):
    fail("a", tool="one")
    fail("b", tool="two")
    ids = list(Issue.objects.values_list("id", flat=True))
    r = browser_client.post("/issues/bulk/", {"action": "assign_me", "ids": ids,
                                              "query": "queue=unresolved"}, **HX)
    assert "Assign: 2 issue(s)." in r.content.decode()
    assert set(Issue.objects.values_list("assignee", flat=True)) == {user.id}
    r = browser_client.post("/issues/bulk/", {"action": "ignore", "ignore_for": "count:10",
                                              "ids": ids[:1], "query": "queue=unresolved"}, **HX)
    html = r.content.decode()
    assert 'hx-swap-oob="true"' in html  # the tab and navigation counts follow
    assert Issue.objects.get(id=ids[0]).status == "ignored"
    r = browser_client.post("/issues/bulk/", {"action": "resolve", "query": ""}, **HX)
    assert "Select one or more issues first." in r.content.decode()


def test_it_tells_the_user_when_someone_else_changed_the_issue(browser_client, issue, bob):
    stale = issue.version
    triage.issue_assign(issue, bob, bob)
    r = browser_client.post(f"/issues/{issue.id}/action/",
                            {"action": "resolve", "version": stale}, **HX)
    html = r.content.decode()
    assert "Someone else changed this issue" in html and "bob" in html
    issue.refresh_from_db()
    assert issue.status == "open"
    # The refreshed form carries the new version, so trying again works.
    r = browser_client.post(f"/issues/{issue.id}/action/",
                            {"action": "resolve", "version": issue.version}, **HX)
    issue.refresh_from_db()
    assert issue.status == "resolved" and "Someone else" not in r.content.decode()


def test_it_assigns_only_project_members(browser_client, issue):
    outsider = get_user_model().objects.create_user("mallory", password="x-pass-12345")
    r = browser_client.post(f"/issues/{issue.id}/action/",
                            {"action": "assign", "assignee": outsider.id,
                             "version": issue.version}, **HX)
    assert "not a member" in r.content.decode()
    issue.refresh_from_db()
    assert issue.assignee is None


def test_it_escapes_trace_text(browser_client, project, user):
    store(project, tool_failure("x", tool="<script>window.__xss=1</script>",
                                error_type="<img src=x onerror=alert(1)>"))
    issue = Issue.objects.get()
    triage.issue_comment(issue, user, "<b>bold</b>")
    for url in ["/issues/", f"/issues/{issue.id}/"]:
        html = browser_client.get(url).content.decode()
        assert "<script>window.__xss" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
    assert "<b>bold</b>" not in browser_client.get(f"/issues/{issue.id}/").content.decode()


def test_it_corrects_an_invocation_from_its_triage_panel(browser_client, issue, user):
    inv_id = issue.occurrences.get().invocation_id
    # The invocation page includes the slot that loads this panel (the page itself is tested,
    # and in the browser, by its own tests).
    source = get_template("traceview/replay/invocation_detail.html").template.source
    assert "traceview/triage/_invocation_slot.html" in source
    panel = browser_client.get(f"/invocations/{inv_id}/triage/", **HX).content.decode()
    assert issue.title in panel and "no correction" in panel
    r = browser_client.post(f"/invocations/{inv_id}/triage/",
                            {"category": "planning", "root_step": "llm-1", "show_issue": "1"},
                            **HX)
    html = r.content.decode()
    assert "disagrees" in html and "alice" in html
    assert Correction.objects.get(invocation_id=inv_id).category == "planning"
    r = browser_client.post(f"/invocations/{inv_id}/triage/",
                            {"category": "tool", "root_step": "nope"}, **HX)
    assert "no step" in r.content.decode()


def test_it_shows_agreement_and_downloads_the_export(browser_client, issue, user):
    inv = issue.occurrences.get().invocation
    triage.invocation_correct(inv, user, "tool", "tool-1")
    html = browser_client.get("/issues/agreement/").content.decode()
    assert 'data-category="tool"' in html and "100%" in html
    r = browser_client.get("/issues/corrections.jsonl")
    assert r["Content-Disposition"].startswith("attachment;")
    assert b'"label": {"category": "tool", "root_step": "tool-1"}' in r.getvalue()


def test_it_configures_the_webhook(browser_client, project):
    r = browser_client.post(f"/projects/{project.id}/webhook/", {"url": "javascript:alert(1)"})
    assert r.status_code == 302 and not project.__class__.objects.get().__dict__.get("webhook")
    browser_client.post(f"/projects/{project.id}/webhook/", {"url": "https://hooks.example/tv"})
    project.refresh_from_db()
    assert project.webhook.url == "https://hooks.example/tv" and project.webhook.is_active
    browser_client.post(f"/projects/{project.id}/webhook/", {"url": ""})
    project.webhook.refresh_from_db()
    assert not project.webhook.is_active


def test_it_offers_failed_steps_and_the_root_as_root_choices_of_a_long_invocation(
    browser_client, project
):
    from traceview.core.trace import StepData
    from traceview.triage.views import ROOT_CHOICES_MAX

    run = tool_failure("long-run")
    for i in range(ROOT_CHOICES_MAX):
        run.steps.append(StepData(f"pad-{i}", "root", kind="llm", name=f"padding {i}",
                                  started_at=run.steps[-1].started_at, status="ok"))
    inv = store(project, run)
    panel = browser_client.get(f"/invocations/{inv.id}/triage/", **HX).content.decode()
    assert 'value="tool-1"' in panel
    assert 'value="pad-0"' not in panel and 'value="llm-1"' not in panel
    short = store(project, tool_failure("short-run"))
    panel = browser_client.get(f"/invocations/{short.id}/triage/", **HX).content.decode()
    assert 'value="tool-1"' in panel and 'value="llm-1"' in panel
