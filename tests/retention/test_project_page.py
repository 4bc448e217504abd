"""The project page: its retention period (edited by members, bad values refused with the field
named), what it stores, and when the next purge runs."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from tests.pages_data import store
from tests.triage.data import tool_failure
from traceview.models import Project, RetentionState
from traceview.retention.queries import project_storage


def test_it_lists_the_users_projects_only(browser_client, project):
    Project.objects.create(name="someone-elses")
    page = browser_client.get("/projects/").content.decode()
    assert "acme" in page and "someone-elses" not in page
    assert "90 days" in page and "(default)" in page


def test_it_shows_what_the_project_stores_and_the_next_purge(browser_client, project, settings):
    settings.TRACEVIEW_PURGE_INTERVAL_S = 3600
    for i in range(3):
        store(project, tool_failure(f"t{i}"))
    other = Project.objects.create(name="other")
    store(other, tool_failure("x"))
    started = timezone.now() - timedelta(minutes=15)
    RetentionState.objects.create(pk=1, last_started_at=started, last_finished_at=started,
                                  last_purged=12)

    response = browser_client.get(f"/projects/{project.id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<dd id="stored-invocations">3</dd>' in page
    assert '<dd id="stored-steps">12</dd>' in page
    assert (started + timedelta(hours=1)).strftime("Next purge: %Y-%m-%d %H:%M UTC") in page
    assert "removed 12 invocations" in page
    assert "kept 90 days after their last data" in page
    storage = project_storage(project)
    if connection.vendor == "postgresql":
        # Three of the four invocations and twelve of the sixteen steps: most of the bytes.
        assert storage["bytes"] > 0
        assert "about " in page
        assert storage["bytes"] > project_storage(other)["bytes"]
    else:
        assert storage["bytes"] is None


def test_it_saves_the_retention_period(browser_client, project):
    response = browser_client.post(f"/projects/{project.id}/", {"retention_days": "30"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.retention_days == 30
    page = browser_client.get(f"/projects/{project.id}/").content.decode()
    assert "kept 30 days" in page and "TRACEVIEW_RETENTION_DAYS</code>=" not in page

    browser_client.post(f"/projects/{project.id}/", {"retention_days": "0"})
    project.refresh_from_db()
    assert project.retention_days == 0
    assert "kept forever" in browser_client.get(f"/projects/{project.id}/").content.decode()

    browser_client.post(f"/projects/{project.id}/", {"retention_days": ""})
    project.refresh_from_db()
    assert project.retention_days is None


def test_it_refuses_a_bad_period_naming_the_field(browser_client, project):
    project.retention_days = 30
    project.save()
    for bad in ("-1", "soon", "100000"):
        response = browser_client.post(f"/projects/{project.id}/", {"retention_days": bad})
        assert response.status_code == 400
        page = response.content.decode()
        assert 'role="alert"' in page and "Retention (days)" in page
    project.refresh_from_db()
    assert project.retention_days == 30


def test_it_hides_projects_the_user_is_not_a_member_of(client, project):
    outsider = get_user_model().objects.create_user("mallory", password="s3cret-pass!")
    client.force_login(outsider)
    assert client.get(f"/projects/{project.id}/").status_code == 404
    assert client.post(f"/projects/{project.id}/", {"retention_days": "1"}).status_code == 404
    project.refresh_from_db()
    assert project.retention_days is None
