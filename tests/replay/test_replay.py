"""The replay page's pure parts: messages as the model saw them, the context diff, parameters,
documents, and chart labels that plotly must show as text."""

from types import SimpleNamespace

from traceview.replay.charts import timeline_figure
from traceview.replay.outline import (
    Node,
    Outline,
    documents_of,
    messages_diff,
    messages_of,
    parameters_of,
)

SYSTEM = {"role": "system", "content": "be brief"}
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "url": "x"}]}


def test_it_reads_messages_in_any_shape():
    assert [m.role for m in messages_of([SYSTEM, USER, "loose text"])] == [
        "system", "user", "input"]
    assert messages_of([USER])[0].text.startswith("hi\n{")
    assert messages_of({"messages": [SYSTEM]})[0].text == "be brief"
    call = messages_of({"role": "assistant", "tool_calls": [{"name": "f"}]}, "output")[0]
    assert '"name": "f"' in call.tool_calls and call.text == ""
    assert messages_of(None) == []


def test_it_diffs_the_context_between_model_calls():
    before = messages_of([SYSTEM, {"role": "user", "content": "a"}])
    after = messages_of([SYSTEM, {"role": "user", "content": "a"},
                         {"role": "assistant", "content": "b"}, {"role": "tool", "content": "c"}])
    blocks = messages_diff(before, after)
    assert [(b.op, b.count) for b in blocks] == [("same", 2), ("added", 2)]
    # A summarised history shows what was dropped as well as what replaced it.
    summary = messages_of([SYSTEM, {"role": "user", "content": "summary of a"}])
    assert [b.op for b in messages_diff(after, summary)] == ["same", "removed", "added"]


def test_it_finds_parameters_in_any_convention():
    params = dict(parameters_of({
        "gen_ai.request.temperature": 0.2, "gen_ai.request.model": "gpt-4o",
        "llm.invocation_parameters": '{"top_p": 0.9}', "gen_ai.usage.input_tokens": 5,
        "other": "x",
    }))
    assert params == {"temperature": "0.2", "top_p": "0.9"}


def test_it_reads_retrieved_documents():
    docs = documents_of([{"id": "kb-1", "content": "text", "score": 0.5, "meta": 1}], {})
    assert (docs[0].title, docs[0].score, docs[0].text) == ("kb-1", "0.5", "text")
    assert '"meta": 1' in docs[0].rest
    flat = documents_of(None, {"retrieval.documents": [{"document.content": "y"}]})
    assert len(flat) == 1


def test_it_escapes_chart_labels_for_plotly():
    row = SimpleNamespace(span_id="<b>s</b>", kind="tool", status="error", start=None, end=None)
    label = SimpleNamespace(name='<a href="javascript:alert(1)">x</a>', tool_name="", model="",
                            error_type="")
    node = Node(row=row, index=0, level=0, agent_depth=0, label=label)
    outline = Outline(invocation=None, nodes=[node], by_span={}, chrono=[node], start=None)
    fig = timeline_figure(outline, [node])
    texts = fig["data"][0]["hovertext"] + fig["layout"]["yaxis"]["ticktext"]
    assert all("<a" not in t and "&lt;a href=" in t for t in texts)
