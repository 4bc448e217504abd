"""`manage.py import_traces`: formats by content, folders, output, exit status, idempotency."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import CommandError, call_command
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from traceview.models import Invocation, Project, Step

MESSAGES = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "18C"},
    {"role": "assistant", "content": "It is 18C in Paris."},
]
OTLP_JSON = {"resourceSpans": [{"scopeSpans": [{"spans": [
    {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
     "name": "chat gpt-4o", "startTimeUnixNano": "1700000000000000000",
     "endTimeUnixNano": "1700000001000000000",
     "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "3"}}]}]}]}]}
# An OpenTelemetry SDK span.to_json() dump with decimal ids, as any-agent saves them.
READABLE = [
    {"name": "execute_tool search", "context": {"trace_id": 1234567890123456789,
                                                 "span_id": 42},
     "parent": {"trace_id": 1234567890123456789, "span_id": 7},
     "start_time": 1700000000000000000, "end_time": 1700000000500000000,
     "status": {"status_code": "ERROR", "description": "timeout"},
     "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}},
    {"name": "invoke_agent bot", "context": {"trace_id": 1234567890123456789, "span_id": 7},
     "parent": None, "start_time": 1700000000000000000, "end_time": 1700000001000000000,
     "status": {"status_code": "OK"}, "attributes": {"gen_ai.operation.name": "invoke_agent"}},
]


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _import(*args, **options):
    call_command("import_traces", *map(str, args), **{"project": "imports", **options})


def test_it_imports_a_folder_recursively_and_creates_the_project(db, tmp_path, capsys):
    _write(tmp_path / "a" / "chat.json", MESSAGES)
    _write(tmp_path / "a" / "b" / "otlp.json", OTLP_JSON)
    _write(tmp_path / "spans.json", READABLE)
    _import(tmp_path)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"imported {tmp_path / 'a' / 'b' / 'otlp.json'}: 1 invocation, 1 steps (otlp-json)",
        f"imported {tmp_path / 'a' / 'chat.json'}: 1 invocation, 4 steps (messages)",
        f"imported {tmp_path / 'spans.json'}: 1 invocation, 2 steps (otlp-json)",
    ]
    project = Project.objects.get(name="imports")
    assert Invocation.objects.filter(project=project).count() == 3
    tool = Step.objects.get(invocation__project=project, tool_name="search")
    assert (tool.kind, tool.status, tool.parent_span_id) == ("tool", "error", f"{7:016x}")
    chat = Invocation.objects.get(project=project, trace_id="0af7651916cd43dd8448eb211c80319c")
    assert (chat.input_tokens, chat.output_tokens) == (12, 3)
    weather = Step.objects.get(invocation__project=project, tool_name="get_weather")
    assert weather.payload.tool_result == "18C"


def test_it_changes_nothing_when_a_file_is_imported_again(db, tmp_path):
    path = _write(tmp_path / "chat.json", MESSAGES)
    _import(path)
    first = list(Step.objects.values_list("invocation__trace_id", "span_id", "kind", "status"))
    _import(path)
    assert Invocation.objects.count() == 1
    assert list(Step.objects.values_list(
        "invocation__trace_id", "span_id", "kind", "status")) == first


def test_it_reads_otlp_protobuf_files_gzipped_or_not(db, tmp_path, capsys):
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    span.span_id = bytes.fromhex("b7ad6b7169203331")
    span.name = "chat gpt-4o"
    span.start_time_unix_nano = 1_700_000_000 * 10**9
    span.end_time_unix_nano = 1_700_000_001 * 10**9
    for key, value in (("gen_ai.operation.name", "chat"),):
        span.attributes.add(key=key).value.string_value = value
    for key, value in (("gen_ai.usage.input_tokens", 12), ("gen_ai.usage.output_tokens", 3)):
        span.attributes.add(key=key).value.int_value = value
    (tmp_path / "req.pb.gz").write_bytes(gzip.compress(request.SerializeToString()))
    _import(tmp_path / "req.pb.gz")
    assert "1 invocation, 1 steps (otlp-protobuf)" in capsys.readouterr().out
    assert Invocation.objects.get().input_tokens == 12


def test_it_skips_what_it_cannot_read_and_says_why(db, tmp_path, capsys):
    _write(tmp_path / "good.json", MESSAGES)
    (tmp_path / "broken.json").write_text("{not json")
    _write(tmp_path / "headers.json", {"content-type": "application/json"})
    (tmp_path / "notes.txt").write_text("hello")
    _import(tmp_path)
    out = capsys.readouterr().out
    assert f"skipped {tmp_path / 'broken.json'}: " in out and "invalid JSON" in out
    assert f"skipped {tmp_path / 'headers.json'}: unknown format" in out
    assert f"skipped {tmp_path / 'notes.txt'}: not a trace file" in out
    assert f"imported {tmp_path / 'good.json'}" in out
    assert Invocation.objects.count() == 1


def test_it_fails_when_nothing_could_be_imported(db, tmp_path, capsys):
    (tmp_path / "broken.json").write_text("[1, 2")
    with pytest.raises(CommandError, match="nothing imported"):
        _import(tmp_path / "broken.json")
    assert "invalid JSON" in capsys.readouterr().out


def test_it_succeeds_when_a_folder_holds_no_trace_files(db, tmp_path, capsys):
    (tmp_path / "README.md").write_text("# notes")
    _import(tmp_path)
    assert "not a trace file" in capsys.readouterr().out


def test_it_fails_on_a_path_that_does_not_exist(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _import(tmp_path / "missing.json")


def test_it_reports_the_format_error_of_a_forced_format(db, tmp_path, capsys):
    path = _write(tmp_path / "chat.json", MESSAGES)
    with pytest.raises(CommandError):
        _import(path, format="swe-agent")
    out = capsys.readouterr().out
    assert out.startswith(f"skipped {path}: swe-agent: "), out
    assert Invocation.objects.count() == 0
