"""No input produces a 500: arbitrary JSON, and near-valid invocations with wrong types."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
