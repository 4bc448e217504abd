"""Keys as clients send them, and errors as clients can read them: JSON on every API path."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import override_settings
from django.urls import path

from traceview.models import ApiKey, Invocation
from traceview.urls import urlpatterns

NATIVE = {"invocations": [{"trace_id": "auth-1", "agent": "bot", "steps": [
    {"span_id": "a", "kind": "agent", "name": "bot"}]}]}


def post(client, **headers):
    return client.post("/api/v1/traces", json.dumps(NATIVE), content_type="application/json",
                       **headers)


@pytest.mark.parametrize("header", [
    "Bearer {key}",
    "Bearer%20{key}",       # OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<key>, undecoded
    "bearer   {key}  ",
    "Basic {basic_key_only}",
    "Basic {basic_pair}",   # Langfuse: public key as user, secret as password
])
def test_it_accepts_the_key_in_every_form_clients_send(client, project, header):
    key, raw = ApiKey.issue(project, name="forms")
    value = header.format(
        key=raw,
        basic_key_only=base64.b64encode(f":{raw}".encode()).decode(),
        basic_pair=base64.b64encode(f"{key.public_key}:{raw}".encode()).decode(),
    )
    r = post(client, HTTP_AUTHORIZATION=value)
    assert r.status_code == 202, r.content
    assert Invocation.objects.filter(project=project, trace_id="auth-1").exists()


def test_it_accepts_the_x_api_key_header(client, project):
    _, raw = ApiKey.issue(project, name="x")
    assert post(client, HTTP_X_API_KEY=raw).status_code == 202


@pytest.mark.parametrize("header", ["Bearer%20tv_wrong", "Bearer tv_%ZZ", "Basic %%%"])
def test_it_answers_401_in_json_for_a_wrong_or_mangled_key(client, project, header):
    r = post(client, HTTP_AUTHORIZATION=header)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/json"
    assert r.json()["errors"][0]["reason"]
    assert not Invocation.objects.exists()


@pytest.mark.parametrize("method, url", [
    ("post", "/api/v1/nothing-here"),
    ("get", "/v1/unknown"),
    ("post", "/runs/somewhere/else"),
    ("get", "/otel/v1/nope"),
    ("post", "/api/v1/traces/"),  # a trailing slash; CommonMiddleware must not redirect a POST
])
@pytest.mark.parametrize("debug", [False, True])
def test_it_answers_json_404_on_api_paths(client, project, method, url, debug):
    with override_settings(DEBUG=debug):
        r = getattr(client, method)(url)
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert url in r.json()["errors"][0]["reason"]


def test_it_answers_json_405_for_a_method_an_ingest_route_refuses(api):
    r = api.get("/v1/traces")
    assert r.status_code == 405
    assert r["Content-Type"] == "application/json"
    assert r.json()["errors"][0]["reason"]


def _explode(request):
    raise RuntimeError("boom: secret internals")


urlconf = type("urls", (), {"urlpatterns": [path("api/v1/explode", _explode), *urlpatterns]})


@pytest.mark.parametrize("debug", [False, True])
def test_it_answers_json_500_without_internals_when_a_view_raises(client, debug):
    client.raise_request_exception = False
    with override_settings(ROOT_URLCONF=urlconf, DEBUG=debug):
        r = client.get("/api/v1/explode")
    assert r.status_code == 500
    assert r["Content-Type"] == "application/json"
    assert r.json() == {"errors": [{"path": "", "reason": "internal server error"}]}


def test_pages_keep_their_html_404(client):
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    assert not r["Content-Type"].startswith("application/json")
