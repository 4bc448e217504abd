"""The store's own guarantees: running totals that survive retries and updates, cleaned payloads,
a fixed number of queries per request, and one classification message per request."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum
from django.test.utils import CaptureQueriesContext

from ingest import store
from ingest.store import invocations_store
from traceview.core.trace import InvocationData, StepData
from traceview.models import Invocation, Step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def llm(span_id, parent="root", **fields):
    return StepData(span_id=span_id, parent_span_id=parent, kind="llm", model="m",
                    started_at=at(1), ended_at=at(2), **fields)


def trace(trace_id, *steps, **fields):
    return InvocationData(trace_id=trace_id, steps=list(steps), **fields)


def totals(inv: Invocation) -> tuple:
    inv.refresh_from_db()
    return (inv.step_count, inv.tool_call_count, inv.error_count, inv.input_tokens,
            inv.output_tokens, inv.cost_usd)


def summed(inv: Invocation) -> tuple:
    """The totals as a fresh aggregate over the stored steps would give them."""
    llm_only = Q(kind="llm")
    s = Step.objects.filter(invocation=inv).aggregate(
        n=Count("id"), tools=Count("id", filter=Q(kind="tool")),
        errors=Count("id", filter=Q(status="error")),
        i=Sum("input_tokens", filter=llm_only), o=Sum("output_tokens", filter=llm_only),
        c=Sum("cost_usd", filter=llm_only))
    return (s["n"], s["tools"], s["errors"], s["i"] or 0, s["o"] or 0, s["c"] or Decimal(0))


def test_it_counts_a_resent_span_once(project):
    batch = [trace("t", StepData(span_id="root", parent_span_id=None, kind="agent",
                                 started_at=at(0), ended_at=at(9)),
                   llm("a", input_tokens=10, output_tokens=3, cost_usd=Decimal("0.25")),
                   StepData(span_id="b", parent_span_id="root", kind="tool", status="error"))]
    invocations_store(project, batch)
    inv = Invocation.objects.get(trace_id="t")
    first = totals(inv)
    assert first == (3, 1, 1, 10, 3, Decimal("0.25"))
    invocations_store(project, batch)
    invocations_store(project, batch[:1])
    assert totals(inv) == first
    assert Step.objects.count() == 3


def test_it_moves_totals_when_a_stored_span_changes(project):
    invocations_store(project, [trace("t", StepData(span_id="a", kind="other"))])
    inv = Invocation.objects.get()
    assert totals(inv) == (1, 0, 0, 0, 0, 0)
    # The end of the span arrives later and says what it was.
    invocations_store(project, [trace("t", llm("a", input_tokens=7, output_tokens=2,
                                               status="error"))])
    assert totals(inv) == (1, 0, 1, 7, 2, 0)
    # A later copy without the error must not heal it, nor count it twice.
    invocations_store(project, [trace("t", llm("a", input_tokens=7, output_tokens=2,
                                               status="ok"))])
    assert totals(inv) == (1, 0, 1, 7, 2, 0)
    assert Step.objects.get().status == "error"


def test_it_keeps_running_totals_equal_to_a_fresh_sum(project):
    """Splits, duplicates, retries and out-of-order updates, in a seeded random order."""
    rng = random.Random(7)
    spans = {}
    for t in range(4):
        for s in range(12):
            kind = rng.choice(["llm", "llm", "tool", "agent", None])
            spans[(f"t{t}", f"s{s}")] = kind
    sent = []
    for _ in range(30):
        picked = rng.sample(sorted(spans), rng.randint(1, 10))
        by_trace: dict[str, InvocationData] = {}
        for trace_id, span_id in picked:
            kind = spans[(trace_id, span_id)]
            step = StepData(span_id=span_id, parent_span_id="s0" if span_id != "s0" else None,
                            kind=kind if rng.random() < 0.8 else None,
                            status=rng.choice([None, "ok", "error", "running"]),
                            input_tokens=rng.choice([None, rng.randint(0, 500)]),
                            output_tokens=rng.choice([None, rng.randint(0, 90)]),
                            cost_usd=rng.choice([None, Decimal(rng.randint(0, 10**7)) / 10**9]))
            by_trace.setdefault(trace_id, trace(trace_id)).steps.append(step)
        batch = list(by_trace.values())
        sent.append(batch)
        invocations_store(project, batch)
        if rng.random() < 0.3:
            invocations_store(project, rng.choice(sent))  # a retry of an earlier request
    assert Invocation.objects.count() == 4
    for inv in Invocation.objects.all():
        assert totals(inv) == summed(inv), inv.trace_id


def test_it_rounds_step_costs_as_the_column_does_before_adding_them(project):
    steps = [llm(f"s{i}", cost_usd=Decimal("0.0000006")) for i in range(3)]
    invocations_store(project, [trace("t", *steps)])
    inv = Invocation.objects.get()
    assert totals(inv) == summed(inv)
    assert inv.cost_usd == Decimal("0.000003")


def test_it_uses_reported_usage_until_steps_report_their_own(project):
    invocations_store(project, [trace("t", StepData(span_id="a", kind="agent"),
                                      input_tokens=900, output_tokens=40,
                                      cost_usd=Decimal("1.5"))])
    inv = Invocation.objects.get()
    assert (inv.input_tokens, inv.output_tokens, inv.cost_usd) == (900, 40, Decimal("1.5"))
    invocations_store(project, [trace("t", llm("b", input_tokens=5, output_tokens=1))])
    inv.refresh_from_db()
    assert (inv.input_tokens, inv.output_tokens, inv.step_count) == (5, 1, 2)
    assert inv.cost_usd == Decimal("1.5")  # no step reported a cost


def test_it_completes_when_the_root_arrives_in_a_later_request(project):
    invocations_store(project, [trace("t", llm("a", input_tokens=3))])
    inv = Invocation.objects.get()
    assert (inv.status, inv.completed_at) == ("running", None)
    invocations_store(project, [trace("t", StepData(
        span_id="root", parent_span_id=None, kind="agent", name="bot", started_at=at(0),
        ended_at=at(5), status="error"))])
    inv.refresh_from_db()
    assert (inv.status, inv.name, inv.ended_at) == ("error", "bot", at(5))
    assert inv.completed_at is not None and inv.enqueued_version == inv.data_version == 3
    assert totals(inv) == (2, 0, 1, 3, 0, 0)


def test_it_stores_payloads_that_need_cleaning(project):
    big = "y" * (store.MAX_VALUE_CHARS + 10)
    step = StepData(span_id="a", kind="tool", tool_arguments={"q": "nul\x00here", 3: "int key"},
                    tool_result=["lone \ud800 surrogate", {"n": 2**70}],
                    input={"big": big}, output="plain", attributes={"k": [1.5, None, True]},
                    error_traceback="tb\x00")
    invocations_store(project, [trace("t", step)])
    payload = Step.objects.get().payload
    assert payload.tool_arguments == {"q": "nul\ufffdhere", "3": "int key"}
    assert payload.tool_result == ["lone ? surrogate", {"n": 2**70}]
    assert payload.input["big"].startswith("y" * store.MAX_VALUE_CHARS)
    assert payload.input["big"].endswith("characters]")
    assert (payload.output, payload.attributes) == ("plain", {"k": [1.5, None, True]})
    assert (payload.events, payload.error_traceback) == ([], "tb\ufffd")


def test_it_leaves_unsent_payload_fields_empty(project):
    invocations_store(project, [trace("t", StepData(span_id="a"))])
    step = Step.objects.get()
    assert (step.kind, step.status, step.parent_span_id, step.seq) == ("other", "running", "", 0)
    p = step.payload
    assert (p.input, p.output, p.tool_arguments, p.attributes, p.events) == (
        None, None, None, {}, [])


def test_it_uses_the_same_number_of_queries_for_two_traces_or_twenty(project):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite splits inserts by its limit on query parameters")
    def queries(n, prefix):
        batch = [trace(f"{prefix}{i}", StepData(span_id="root", parent_span_id=None,
                                                kind="agent", ended_at=at(3)),
                       llm("a", input_tokens=1), llm("b", input_tokens=2))
                 for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            invocations_store(project, batch)
        return len(ctx.captured_queries)

    invocations_store(project, [trace("warm", StepData(span_id="x"), agent="bot")])
    assert queries(2, "small-") == queries(20, "large-")


def test_it_writes_no_payload_for_a_resent_span_and_merges_a_changed_one(project):
    def payload_writes(*steps):
        with CaptureQueriesContext(connection) as ctx:
            invocations_store(project, [trace("resent", *steps)])
        return [q["sql"].split()[0] for q in ctx.captured_queries
                if "traceview_steppayload" in q["sql"]
                and q["sql"].split()[0] in ("INSERT", "UPDATE")]

    first = [llm(f"s{i}", input={"q": i}, attributes={"a": 1}) for i in range(3)]
    payload_writes(*first)
    assert payload_writes(*first) == []
    # Two spans change: one statement updates both; the attributes merge.
    assert payload_writes(llm("s0", output="x"), llm("s1", attributes={"b": 2})) == ["UPDATE"]
    s0, s1 = (Step.objects.get(span_id=s).payload for s in ("s0", "s1"))
    assert (s0.input, s0.output, s1.attributes) == ({"q": 0}, "x", {"a": 1, "b": 2})


def test_it_publishes_one_message_for_all_the_invocations_of_a_request(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    from traceview.classify.tasks import classify_invocations

    published = []
    monkeypatch.setattr(classify_invocations, "delay", published.append)
    done = [trace(f"t{i}", StepData(span_id="r", parent_span_id=None, ended_at=at(1)))
            for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        result = invocations_store(project, done + [trace("open", StepData(span_id="x"))])
    complete = sorted(Invocation.objects.exclude(trace_id="open").values_list("id", flat=True))
    assert len(result.invocation_ids) == 6
    assert [sorted(ids) for ids in published] == [complete]


def test_it_leaves_invocations_to_the_sweep_when_the_broker_is_down(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    from traceview.classify.tasks import classify_invocations

    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(classify_invocations, "delay", down)
    done = [trace(f"t{i}", StepData(span_id="r", parent_span_id=None, ended_at=at(1)))
            for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        invocations_store(project, done)
    assert set(Invocation.objects.values_list("enqueued_version", flat=True)) == {0}


@pytest.mark.parametrize("order", ["root first", "root last"])
def test_it_derives_the_same_invocation_whatever_the_arrival_order(project, order):
    root = StepData(span_id="root", parent_span_id=None, kind="agent", name="bot",
                    started_at=at(0), ended_at=at(8), status="ok")
    child = llm("a", input_tokens=4, output_tokens=2, cost_usd=Decimal("0.01"))
    parts = [[root], [child]] if order == "root first" else [[child], [root]]
    for steps in parts:
        invocations_store(project, [trace("t", *steps)])
    inv = Invocation.objects.get()
    assert totals(inv) == (2, 0, 0, 4, 2, Decimal("0.01"))
    assert (inv.status, inv.name, inv.ended_at) == ("ok", "bot", at(8))


def _side_by_side(first_batch, second_batch, project):
    """Store `first_batch` in a transaction held open until `second_batch`'s store (in its own
    thread, as a second request) is waiting for it, then commit both: the race of two requests
    that carry the same new trace."""
    import threading
    import time

    from django.db import close_old_connections, transaction

    first_in, release, errors = threading.Event(), threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                invocations_store(project, first_batch)
                first_in.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            first_in.set()
            close_old_connections()
            connection.close()

    def second():
        try:
            first_in.wait(10)
            invocations_store(project, second_batch)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_in.wait(10)
    time.sleep(0.5)  # the second store now waits on the first's uncommitted trace
    release.set()
    for t in threads:
        t.join(20)
    assert not errors, errors


@pytest.mark.parametrize("same_span", [False, True])
def test_it_joins_a_trace_that_another_request_creates_meanwhile(transactional_db, same_span):
    from traceview.models import Project

    project = Project.objects.create(name="race")
    root = StepData(span_id="root", parent_span_id=None, kind="agent", started_at=at(0),
                    ended_at=at(9))
    _side_by_side([trace("shared", root, llm("a", input_tokens=10))],
                  [trace("shared", llm("a" if same_span else "b", input_tokens=10))], project)
    inv = Invocation.objects.get(project=project, trace_id="shared")
    assert sorted(Step.objects.filter(invocation=inv).values_list("span_id", flat=True)) == (
        ["a", "root"] if same_span else ["a", "b", "root"])
    assert totals(inv) == summed(inv)
    assert inv.status == "ok" and inv.data_version == 3  # created at 1, then two requests
