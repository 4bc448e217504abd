"""The search document: every word of the run once, whatever how often a payload repeats it."""

from traceview.core.search import STEP_TEXT_LIMIT, search_document
from traceview.core.trace import InvocationData, StepData


def _chat_run(turns: int) -> InvocationData:
    history = [{"role": "system", "content": "You are the order desk of Acme."}]
    inv = InvocationData(trace_id="t-1", name="orders", agent="desk")
    for k in range(turns):
        history.append({"role": "user", "content": f"Where is parcel number {k} today please?"})
        inv.steps.append(StepData(
            span_id=f"llm-{k}", kind="llm", name="chat", input=list(history),
            output={"role": "assistant", "content": "Checking.",
                    "tool_calls": [{"function": {"name": "track", "arguments": f'{{"n": {k}}}'}}]},
        ))
        history.append({"role": "assistant", "content": f"Parcel {k} is in Lyon depot."})
    return inv


def test_it_writes_each_repeated_message_once():
    doc = search_document(_chat_run(40))
    assert doc.count("You are the order desk of Acme.") == 1
    assert doc.count("Where is parcel number 7 today please?") == 1
    # Nothing new is lost: every turn's words, and each call's arguments, are in.
    for k in range(39):
        assert f"Parcel {k} is in Lyon depot." in doc
        assert f'{{"n": {k}}}' in doc
    assert "track" in doc and "desk" in doc


def test_repeats_leave_room_for_what_is_new():
    inv = _chat_run(3)
    # A late step whose input repeats a long history before its one new message.
    history = [{"role": "user", "content": "x" * 60 + str(k)} for k in range(40)]
    inv.steps.append(StepData(span_id="a", kind="llm", input=history))
    inv.steps.append(StepData(span_id="b", kind="llm", input=[*history, {
        "role": "user", "content": "the only new words: zanzibar"}]))
    doc = search_document(inv)
    assert len("".join(m["content"] for m in history)) > STEP_TEXT_LIMIT
    assert "zanzibar" in doc
