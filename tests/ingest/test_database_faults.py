"""A database lost in the middle of a request, on every ingest route (issue 15, item 2).

The connection is really dropped while the steps are being COPied: a trigger on the steps table
has the server terminate the request's own backend when it meets the marked step. The answer
must be a 503 with Retry-After (OTLP exporters and our SDK retry those; they drop a 500), with
nothing half-written, and the retry must store everything once. PostgreSQL only: SQLite has no
server connection to lose and no COPY.
"""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from rest_framework.test import APIClient

from traceview.models import ApiKey, Invocation, Project, Step

MARK = "kill-me"
TRACE = "5b8efff798038103d269b633813fc60c"


def native_body():
    return {"invocations": [{"trace_id": "run-1", "status": "ok", "steps": [
        {"span_id": "a", "name": "fine"}, {"span_id": "b", "name": MARK}]}]}


def otlp_body():
    def span(span_id, name):
        return {"traceId": TRACE, "spanId": span_id, "name": name,
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000001000000000"}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [
        span("eee19b7ec3c1b174", "fine"), span("eee19b7ec3c1b173", MARK)]}]}]}


def agents_body():
    def span(span_id, name):
        return {"object": "trace.span", "id": span_id, "trace_id": "trace_1",
                "span_data": {"type": "function", "name": name}}
    return {"data": [span("span_a", "fine"), span("span_b", MARK)]}


def langfuse_body():
    def event(i, name):
        return {"id": f"e{i}", "type": "span-create", "timestamp": "2026-01-01T00:00:00Z",
                "body": {"id": f"s{i}", "traceId": "lf-1", "name": name}}
    return {"batch": [event(1, "fine"), event(2, MARK)]}


ROUTES = {
    "native": ("/api/v1/traces", native_body, 202),
    "otlp": ("/v1/traces", otlp_body, 200),
    "openai-agents": ("/v1/traces/ingest", agents_body, 204),
    "langfuse": ("/api/public/ingestion", langfuse_body, 207),
}


@pytest.fixture
def copy_killer(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the fault is a server connection dropped during COPY")
    table = Step._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE FUNCTION tv_test_kill_copy() RETURNS trigger AS $$
            BEGIN
                IF NEW.name = '{MARK}' THEN
                    PERFORM pg_terminate_backend(pg_backend_pid());
                    PERFORM pg_sleep(5);
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER tv_test_kill_copy BEFORE INSERT ON {table}
                FOR EACH ROW EXECUTE FUNCTION tv_test_kill_copy();
        """)

    def disarm():
        connection.close()  # whatever the request left of its connection
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS tv_test_kill_copy ON {table}; "
                           "DROP FUNCTION IF EXISTS tv_test_kill_copy()")

    yield disarm
    disarm()


@pytest.mark.parametrize("route", list(ROUTES))
def test_it_answers_503_when_the_connection_drops_during_copy(copy_killer, route):
    path, body, ok_status = ROUTES[route]
    project = Project.objects.create(name="acme")
    key, raw = ApiKey.issue(project, name="faults")
    client = APIClient()
    if route == "langfuse":
        auth = base64.b64encode(f"{key.public_key}:{raw}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {auth}")
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    r = client.post(path, body(), format="json")
    assert r.status_code == 503, (r.status_code, r.content[:300])
    assert int(r["Retry-After"]) > 0
    copy_killer()
    assert Invocation.objects.count() == 0 and Step.objects.count() == 0

    # The exporter's retry, once the database is back: stored once.
    r = client.post(path, body(), format="json")
    assert r.status_code == ok_status, r.content[:300]
    assert Invocation.objects.count() == 1
    assert sorted(Step.objects.values_list("name", flat=True)) == ["fine", MARK]
