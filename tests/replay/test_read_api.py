"""The read API: filters, pagination, detail with steps and diagnosis, project isolation."""

from rest_framework.test import APIClient

from tests.conftest import post_native
from traceview.classify.diagnosis import invocation_classify
from traceview.models import ApiKey, Invocation, Project


def _failing_tool_trace(trace_id):
    return {
        "invocations": [
            {
                "trace_id": trace_id,
                "agent": "bot",
                "status": "error",
                "steps": [
                    {
                        "span_id": "root",
                        "kind": "agent",
                        "name": "bot",
                        "status": "error",
                        "started_at": "2026-01-01T00:00:00Z",
                        "ended_at": "2026-01-01T00:00:05Z",
                    },
                    {
                        "span_id": "t1",
                        "parent_span_id": "root",
                        "kind": "tool",
                        "name": "lookup",
                        "tool": {"name": "lookup", "arguments": {"id": 1}},
                        "error": {"type": "ConnectionError", "message": "connection refused"},
                        "started_at": "2026-01-01T00:00:01Z",
                        "ended_at": "2026-01-01T00:00:02Z",
                    },
                ],
            }
        ]
    }


def test_it_lists_invocations_newest_first_with_filters(api, project):
    for i in range(3):
        post_native(
            api,
            {
                "invocations": [
                    {
                        "trace_id": f"r{i}",
                        "status": "ok" if i else "error",
                        "agent": "a" if i < 2 else "b",
                    }
                ]
            },
        )
    data = api.get("/api/v1/invocations").json()
    assert [r["trace_id"] for r in data["results"]] == ["r2", "r1", "r0"]
    assert [
        r["trace_id"] for r in api.get("/api/v1/invocations?status=error").json()["results"]
    ] == ["r0"]
    assert [r["trace_id"] for r in api.get("/api/v1/invocations?agent=b").json()["results"]] == [
        "r2"
    ]
    assert api.get("/api/v1/invocations?trace_id=r1").json()["results"][0]["trace_id"] == "r1"
    page = api.get("/api/v1/invocations?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert [r["trace_id"] for r in rest["results"]] == ["r0"]


def test_it_rejects_an_unknown_filter_value(api, project):
    r = api.get("/api/v1/invocations?status=exploded")
    assert r.status_code == 400
    assert r.json()["errors"][0]["path"] == "status"


def test_it_matches_hex_trace_ids_in_any_case(api, project):
    Invocation.objects.create(project=project, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    r = api.get("/api/v1/invocations?trace_id=4BF92F3577B34DA6A3CE929D0E0E4736").json()
    assert len(r["results"]) == 1


def test_it_shows_diagnosis_null_until_classified_then_the_verdict(api, project):
    post_native(api, _failing_tool_trace("x1"))
    inv = Invocation.objects.get(trace_id="x1")
    detail = api.get(f"/api/v1/invocations/{inv.id}").json()
    assert detail["diagnosis"] is None
    assert [s["span_id"] for s in detail["steps"]] == ["root", "t1"]
    assert detail["steps"][1]["parent_span_id"] == "root"
    invocation_classify(inv.id)
    detail = api.get(f"/api/v1/invocations/{inv.id}").json()
    assert detail["diagnosis"]["category"] == "tool"
    assert detail["diagnosis"]["root_step"] == "t1"
    assert 0 <= detail["diagnosis"]["confidence"] <= 1
    assert detail["diagnosis"]["evidence"] and detail["diagnosis"]["ruleset"]
    assert api.get("/api/v1/invocations?category=tool").json()["results"][0]["id"] == inv.id


def test_it_gives_a_classified_success_a_diagnosis_without_category(api, project):
    post_native(
        api,
        {
            "invocations": [
                {
                    "trace_id": "ok1",
                    "status": "ok",
                    "steps": [{"span_id": "a", "kind": "llm", "ended_at": "2026-01-01T00:00:01Z"}],
                }
            ]
        },
    )
    inv = Invocation.objects.get()
    invocation_classify(inv.id)
    d = api.get(f"/api/v1/invocations/{inv.id}").json()["diagnosis"]
    assert d is not None and d["category"] is None and d["root_step"] is None


def test_it_answers_400_naming_a_filter_that_holds_a_nul_byte(api, project):
    post_native(api, _failing_tool_trace("x1"))
    for key in ("trace_id", "agent"):
        r = api.get(f"/api/v1/invocations?{key}=a%00")
        assert r.status_code == 400, (key, r.status_code)
        assert r.json()["errors"][0]["path"] == key
        assert "null" in r.json()["errors"][0]["reason"].lower()


def test_it_answers_404_for_a_step_id_with_a_nul_byte(api, project):
    post_native(api, _failing_tool_trace("x1"))
    inv = Invocation.objects.get()
    r = api.get(f"/api/v1/invocations/{inv.id}/steps/t%001")
    assert r.status_code == 404
    assert r.json()["errors"][0]["reason"]


def test_it_returns_a_step_with_its_payload(api, project):
    post_native(api, _failing_tool_trace("x2"))
    inv = Invocation.objects.get()
    step = api.get(f"/api/v1/invocations/{inv.id}/steps/t1").json()
    assert step["tool_arguments"] == {"id": 1}
    assert step["error_message"] == "connection refused"


def test_it_hides_other_projects_invocations(api, project):
    other = Project.objects.create(name="other")
    foreign = Invocation.objects.create(project=other, trace_id="secret")
    assert api.get(f"/api/v1/invocations/{foreign.id}").status_code == 404
    assert api.get(f"/api/v1/invocations/{foreign.id}/steps/x").status_code == 404
    assert api.get("/api/v1/invocations?trace_id=secret").json()["results"] == []


def test_it_requires_a_key_to_read(client, project):
    assert client.get("/api/v1/invocations").status_code == 401


def test_it_serves_the_openapi_schema(client, db):
    r = client.get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/traces" in r.content and b"/api/v1/invocations" in r.content


def test_it_describes_nulls_errors_and_the_step_detail_in_the_schema(client, db):
    schema = client.get("/api/schema/?format=json").json()
    parts = schema["components"]["schemas"]
    assert parts["Invocation"]["properties"]["duration_s"]["nullable"] is True
    assert parts["StepDetail"]["properties"]["started_at"]["nullable"] is True
    step = schema["paths"]["/api/v1/invocations/{id}/steps/{span_id}"]["get"]["responses"]
    assert step["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/StepDetail")
    assert {"tool_arguments", "error_traceback"} <= set(parts["StepDetail"]["properties"])
    listing = schema["paths"]["/api/v1/invocations"]["get"]
    assert {"400", "401"} <= set(listing["responses"]) and "404" in step
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_it_keeps_revoked_keys_out(api, project, api_key):
    ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert api.get("/api/v1/invocations").status_code == 401
    assert APIClient().get("/api/v1/invocations").status_code == 401
