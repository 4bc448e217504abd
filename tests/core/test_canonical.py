"""The classifier's load of a stored invocation gives back the payloads as they were sent."""

import pytest

from ingest.store import invocations_store
from traceview.core.queries import invocation_canonical
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, Project


@pytest.mark.django_db
def test_it_reads_back_every_kind_of_json_payload():
    project = Project.objects.create(name="canon")
    payloads = {
        "a": dict(tool_arguments={"id": 2**70, "q": "naïve ☃"}, tool_result="plain text",
                  input=[{"role": "user", "content": "hi"}], output=3.5),
        "b": dict(tool_arguments=None, tool_result=None, input=None, output=None),
        "c": dict(tool_result=[1, None, True, {"x": []}], output="null"),
    }
    inv = InvocationData(trace_id="canon-1", status="ok", steps=[
        StepData(span_id=k, kind="tool", name=k, seq=n, **v)
        for n, (k, v) in enumerate(payloads.items())
    ])
    invocations_store(project, [inv])

    loaded = invocation_canonical(Invocation.objects.get(project=project))

    steps = {s.span_id: s for s in loaded.steps}
    for span, sent in payloads.items():
        for field, value in sent.items():
            assert getattr(steps[span], field) == value, (span, field)
    assert steps["b"].attributes == {} and steps["b"].events == []
