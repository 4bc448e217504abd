"""Schemathesis over our OpenAPI schema (/api/schema/): every operation, with bodies, parameters
and path segments it generates from the schema (and beyond it), against a live server with a
valid key and stored data to find. No answer may be a 5xx. Bounded to a few examples per
operation so that it stays a CI test; `manage.py fuzz_ingest` is the long run for ingest."""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import post_native
from traceview.models import ApiKey, Project

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


@pytest.fixture
def live_key(live_server, transactional_db):
    project = Project.objects.create(name="acme")
    _, raw = ApiKey.issue(project, name="schemathesis")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # Something for the read routes to find: ids 1.. and a step "lookup-1".
    post_native(client, {"invocations": [{"trace_id": "run-1", "status": "error", "steps": [
        {"span_id": "root", "kind": "agent", "name": "bot"},
        {"span_id": "lookup-1", "parent_span_id": "root", "kind": "tool", "name": "lookup",
         "error": {"type": "HTTPError", "message": "503"}}]}]})
    return raw


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_it_never_answers_5xx_to_any_operation(case, live_server, live_key):
    response = case.call(base_url=live_server.url,
                         headers={"Authorization": f"Bearer {live_key}"}, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
