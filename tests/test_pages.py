"""Pages: login, the invocation list, an invocation's steps, escaping, project isolation."""

import re

from tests.conftest import post_native
from traceview.diagnosis import invocation_classify
from traceview.models import Invocation, Project

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_it_requires_login(client, db):
    r = client.get("/")
    assert r.status_code == 302 and r.url.startswith("/login/")
    assert client.get("/invocations/1/").status_code == 302


def test_it_logs_in_with_a_password(client, user):
    r = client.post("/login/", {"username": "alice", "password": "s3cret-pass!"})
    assert r.status_code == 302
    assert client.get("/").status_code == 200


def test_it_lists_invocations_with_status_and_category(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": "inv-1", "name": "first run", "status": "error",
                                       "steps": [{"span_id": "t", "kind": "tool",
                                                  "error": "boom", "ended_at": 1767225601}]}]})
    invocation_classify(Invocation.objects.get().id)
    html = browser_client.get("/").content.decode()
    assert "first run" in html and "status-error" in html and "cat-tool" in html
    filtered = browser_client.get("/?category=planning").content.decode()
    assert "first run" not in filtered


def test_it_renders_the_rows_partial_for_htmx_polling(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": "inv-2"}]})
    r = browser_client.get("/", HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert html.lstrip().startswith('<div id="invocation-rows"') and "inv-2" in html
    assert "<html" not in html


def test_it_shows_an_invocations_steps_and_diagnosis(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": "inv-3", "status": "error", "steps": [
        {"span_id": "root", "kind": "agent", "name": "bot", "status": "error",
         "started_at": 1767225600, "ended_at": 1767225610},
        {"span_id": "tool-a", "parent_span_id": "root", "kind": "tool", "name": "fetch",
         "error": {"type": "HTTPError", "message": "502 Bad Gateway"},
         "started_at": 1767225601, "ended_at": 1767225602},
    ]}]})
    inv = Invocation.objects.get()
    invocation_classify(inv.id)
    html = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert "502 Bad Gateway" in html and "HTTPError" in html
    assert "tool failure" in html and 'class="root-cause"' in html
    assert html.index("bot") < html.index("fetch")


def test_it_escapes_everything_that_came_from_a_trace(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": XSS, "name": XSS, "agent": XSS,
                                       "agent_version": XSS, "status": "error", "steps": [
        {"span_id": XSS, "name": XSS, "kind": "tool", "model": XSS, "tool": {"name": XSS},
         "error": {"type": XSS, "message": XSS}, "ended_at": 1767225601}]}]})
    inv = Invocation.objects.get()
    invocation_classify(inv.id)
    for url in ("/", f"/invocations/{inv.id}/"):
        r = browser_client.get(url)
        html = r.content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        # The only script tags are our own static files.
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=\"/static/" in tag


def test_it_shows_only_the_users_projects(browser_client, project):
    other = Project.objects.create(name="other")
    foreign = Invocation.objects.create(project=other, trace_id="foreign-run")
    assert "foreign-run" not in browser_client.get("/").content.decode()
    assert browser_client.get(f"/invocations/{foreign.id}/").status_code == 404


def test_it_serves_htmx_from_static_files(client, db):
    r = client.get("/static/django_htmx/htmx-2.min.js")
    assert r.status_code == 200
