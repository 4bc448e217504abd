"""One failing OpenAI Agents SDK run seen by both of its routes into TraceView at once: the SDK's
own exporter (`BackendSpanExporter` to /v1/traces/ingest) and TraceView's `TraceViewProcessor`
(the native API). Each route writes to a project of its own; the stored error fields, the
diagnosis and the issue's fingerprint must be the same, so triage opens one issue per failure
whichever route an agent uses.
"""

from __future__ import annotations

import pytest

agents = pytest.importorskip("agents")
traceview_sdk = pytest.importorskip("traceview_sdk")

from agents import (  # noqa: E402
    Agent,
    MaxTurnsExceeded,
    Runner,
    function_tool,
    set_trace_processors,
    set_tracing_disabled,
)
from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor  # noqa: E402
from traceview_sdk.integrations.openai_agents import TraceViewProcessor  # noqa: E402

from tests.ingest.test_real_clients import ScriptedModel, answer, tool_call  # noqa: E402
from traceview.classify.diagnosis import invocation_classify  # noqa: E402
from traceview.models import ApiKey, Invocation, Issue, Project, Step  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ("kind", "name", "status", "error_type", "error_message", "tool_name")


@function_tool
def refund(order_id: int) -> str:
    """Refund an order."""
    raise RuntimeError(f"payments service unavailable for order {order_id}")


@function_tool(failure_error_function=None)
def charge(order_id: int) -> str:
    """Charge an order; its failure is not handed to the model."""
    raise RuntimeError(f"card declined for order {order_id}")


def project_key(name: str):
    project = Project.objects.create(name=name)
    _, raw = ApiKey.issue(project, name=name)
    return project, raw


@pytest.fixture
def both_routes(live_server):
    exporter_project, exporter_key = project_key("exporter")
    sdk_project, sdk_key = project_key("sdk")
    exporter = BackendSpanExporter(api_key=exporter_key,
                                   endpoint=f"{live_server.url}/v1/traces/ingest")
    batch = BatchTraceProcessor(exporter)
    client = traceview_sdk.Client(live_server.url, sdk_key)
    processor = TraceViewProcessor(client)
    set_tracing_disabled(False)
    set_trace_processors([batch, processor])
    yield exporter_project, sdk_project, lambda: (batch.force_flush(), processor.force_flush())
    set_trace_processors([])
    batch.shutdown()
    exporter.close()
    client.shutdown()


def stored(project) -> tuple[Invocation, dict]:
    inv = Invocation.objects.get(project=project)
    steps = {s.span_id: {f: getattr(s, f) for f in FIELDS}
             for s in Step.objects.filter(invocation=inv)}
    return inv, steps


SCENARIOS = {
    # The tool fails, the model is told, asks again and the turns run out.
    "max-turns": (
        lambda: Agent(name="refunder", tools=[refund], model=ScriptedModel(
            tool_call("refund", '{"order_id": 7}'))),
        MaxTurnsExceeded, {"max_turns": 2},
    ),
    # The tool's exception ends the run.
    "tool-raises": (
        lambda: Agent(name="charger", tools=[charge], model=ScriptedModel(
            tool_call("charge", '{"order_id": 7}'), answer("charged"))),
        Exception, {},
    ),
    # The tool fails, the model answers anyway: a run that recovered, stored as such.
    "recovered": (
        lambda: Agent(name="refunder", tools=[refund], model=ScriptedModel(
            tool_call("refund", '{"order_id": 7}'), answer("Refunds are down, sorry."))),
        None, {},
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_it_stores_the_same_failure_the_same_way_from_both_routes(both_routes, scenario):
    exporter_project, sdk_project, flush = both_routes
    make_agent, raises, kwargs = SCENARIOS[scenario]
    if raises:
        with pytest.raises(raises):
            Runner.run_sync(make_agent(), "Refund order 7", **kwargs)
    else:
        Runner.run_sync(make_agent(), "Refund order 7", **kwargs)
    flush()
    exporter_inv, exporter_steps = stored(exporter_project)
    sdk_inv, sdk_steps = stored(sdk_project)
    assert exporter_inv.trace_id == sdk_inv.trace_id
    failed = {k: v for k, v in exporter_steps.items() if v["status"] == "error"}
    assert failed, exporter_steps
    for span_id, fields in failed.items():
        assert sdk_steps[span_id] == fields, span_id
    assert (sdk_inv.status, sdk_inv.error_count, sdk_inv.tool_error_count) == (
        exporter_inv.status, exporter_inv.error_count, exporter_inv.tool_error_count)
    assert exporter_inv.status == ("ok" if raises is None else "error")

    verdicts = [invocation_classify(inv.id) for inv in (exporter_inv, sdk_inv)]
    assert verdicts[0].category == verdicts[1].category
    assert verdicts[0].root_span_id == verdicts[1].root_span_id
    issues = [list(Issue.objects.filter(project=p).values_list("fingerprint", "title"))
              for p in (exporter_project, sdk_project)]
    assert issues[0] == issues[1]
    # Whether a recovered error is an issue is the classifier's call; a failed run is one.
    assert len(issues[0]) == 1 or (raises is None and not issues[0])
