"""No input produces a 500: arbitrary JSON, and near-valid invocations with wrong types."""

from io import StringIO

from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.fuzz import FuzzCase, fuzz_case
from tests.conftest import post_native

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
step_keys = st.sampled_from(
    [
        "span_id",
        "parent_span_id",
        "kind",
        "name",
        "started_at",
        "ended_at",
        "status",
        "error",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "tool",
        "input",
        "attributes",
        "trace_id",
        "finish_reason",
        "agent_name",
    ]
)
steps = st.dictionaries(step_keys, json_values, max_size=8)
invocations = st.fixed_dictionaries(
    {"trace_id": st.one_of(st.text(min_size=1, max_size=140), json_values)},
    optional={
        "steps": st.lists(steps, max_size=4),
        "status": json_values,
        "started_at": json_values,
        "agent": json_values,
        "cost_usd": json_values,
    },
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"invocations": st.lists(invocations, max_size=3)},
        optional={"steps": st.lists(steps, max_size=3)},
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_it_never_answers_500(api, project, body):
    r = post_native(api, body)
    assert r.status_code in (202, 400), (r.status_code, r.content[:500])
    if r.status_code == 400:
        assert all(e["reason"] for e in r.json()["errors"])


# --- Every ingest route and encoding: mutations of valid bodies (ingest.fuzz) -----------------


def post_case(client, case: FuzzCase):
    extra = {"HTTP_CONTENT_ENCODING": case.encoding} if case.encoding else {}
    return client.generic("POST", case.path, case.body, content_type=case.content_type, **extra)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
@given(rng=st.randoms(use_true_random=False))
def test_it_never_answers_500_to_a_mutated_body_on_any_route(api, project, rng):
    case = fuzz_case(rng)
    r = post_case(api, case)
    assert r.status_code < 500, (case.route, case.encoding, case.mutation, r.content[:300])


def test_it_counts_statuses_per_route_in_the_long_run_command(live_server, transactional_db):
    out = StringIO()
    call_command("fuzz_ingest", url=live_server.url, count=40, seed=3, stdout=out)
    text = out.getvalue()
    assert text.startswith("40 requests in ")
    assert "native" in text and "otlp-protobuf" in text
    assert text.rstrip().endswith("5xx: 0")
