"""LangSmith's runs API -> canonical invocations. Pure: no Django, no database.

What the `langsmith` client sends (LangChain and LangGraph with `LANGSMITH_TRACING=true`, or
`@traceable`), all of it run dicts:

- `POST /runs` one run (a create), `PATCH /runs/{id}` its update;
- `POST /runs/batch` `{"post": [runs], "patch": [runs]}`;
- `POST /runs/multipart` (the default, zstd-compressed when the server's /info allows it): one
  form part per run, `post.<id>` or `patch.<id>`, with its large fields in parts of their own,
  `post.<id>.inputs`, `.outputs`, `.extra`, `.error`, `.events`, `.serialized`; `attachment.*`
  and `feedback.*` parts are accepted and dropped.

`runs_to_invocations(posts, patches)` maps them (`multipart_runs(body, content_type)` first turns
a multipart body into the same two lists). A run is a step keyed by its id; a create and its
update are merged field by field (the update wins), here within a request and by the store across
requests, so an update that arrives before its create is kept and completed later.

Mapping:
* trace: `trace_id`, else the first id of `dotted_order`, else a run without a parent is its own
  trace. Parent: `parent_run_id`, else the previous id of `dotted_order`.
* kinds by `run_type`: llm -> llm, tool -> tool, retriever -> retrieval, embedding, prompt,
  parser and chain -> other, except the root chain, which is the agent (as TraceView's own
  LangChain callback records it).
* the invocation: the root run's name is its name and agent (`metadata.lc_agent_name` when
  LangChain names one), its status, times, inputs and outputs; `metadata.revision_id` is the
  version; the LangSmith project (`session_name`), `thread_id` / `session_id` /
  `conversation_id` from metadata go to its attributes.
* llm steps: messages in (`inputs.messages`, LangChain-serialized or OpenAI-shaped, or
  `inputs.prompts`) and out (`outputs.generations`, `choices`, `messages`), the model
  (`metadata.ls_model_name`, `invocation_params.model`), tokens from `usage_metadata` (outputs,
  metadata or the generated message), else `llm_output.token_usage`, and the finish reason.
* tool steps: the tool name is the run's name, arguments its inputs (`{"input": "<text>"}` read
  back as the object it spells when it is one), result `outputs.output` (a ToolMessage's
  content), call id from `extra.tool_call_id` or the ToolMessage.
* errors: `error` is LangChain's "Type('message')Traceback ... Type: message": type, message and
  traceback are read from it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from ingest.formats.conventions import (
    as_int,
    as_text,
    normalize_messages,
    tool_message_content,
)
from ingest.formats.errors import FormatError
from ingest.formats.native import parse_timestamp
from ingest.formats.values import structured
from traceview.core.trace import InvocationData, StepData

KINDS = {"llm": "llm", "tool": "tool", "retriever": "retrieval", "embedding": "other",
         "prompt": "other", "parser": "other", "chain": "other"}
# Multipart fields that hold one of a run's large values, JSON-encoded.
PART_FIELDS = ("inputs", "outputs", "extra", "error", "events", "serialized")

_DOTTED_SEGMENT = re.compile(r"^\d{8}T\d{6,}Z(.+)$")
_REPR_ERROR = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)$", re.DOTALL)
_LAST_LINE_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|"
                              r"Exceeded|Timeout|Failure|Fault)?): (.*)$")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PART_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Bodies


def batch_runs(body: Any) -> tuple[list, list]:
    """`{"post": [...], "patch": [...]}` -> (posts, patches)."""
    if not isinstance(body, dict):
        raise FormatError.at("", 'expected an object {"post": [runs], "patch": [runs]}')
    lists = []
    for key in ("post", "patch"):
        runs = body.get(key) or []
        if not isinstance(runs, list):
            raise FormatError.at(key, "must be a list of runs")
        lists.append(runs)
    return lists[0], lists[1]


def multipart_runs(body: bytes, content_type: str) -> tuple[list, list]:
    """A `/runs/multipart` form -> (posts, patches), each run with its parts joined in."""
    found = _BOUNDARY.search(content_type or "")
    if not content_type.lower().startswith("multipart/form-data") or not found:
        raise FormatError.at("", "expected Content-Type multipart/form-data with a boundary")
    delimiter = b"--" + found.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise FormatError.at("", "the multipart body has no closing boundary")
    runs: dict[tuple[str, str], dict] = {}
    for i, chunk in enumerate(chunks[1:-1]):
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = _PART_NAME.search(head) if sep else None
        if name is None:
            raise FormatError.at(f"part {i}", "a part without a Content-Disposition name")
        op, _, rest = name.group(1).decode("utf-8", "replace").partition(".")
        if op not in ("post", "patch"):
            continue  # attachments and feedback
        run_id, _, field = rest.partition(".")
        try:
            value = orjson.loads(data.removesuffix(b"\r\n"))
        except orjson.JSONDecodeError as exc:
            raise FormatError.at(name.group(1).decode("utf-8", "replace"),
                                 f"not valid JSON: {exc}") from None
        run = runs.setdefault((op, run_id), {"id": run_id})
        if not field:
            if not isinstance(value, dict):
                raise FormatError.at(f"{op}.{run_id}", "a run must be a JSON object")
            run.update({k: v for k, v in value.items() if k not in PART_FIELDS or v is not None})
        elif field in PART_FIELDS:
            run[field] = value
    posts = [r for (op, _), r in runs.items() if op == "post"]
    patches = [r for (op, _), r in runs.items() if op == "patch"]
    return posts, patches


# ---------------------------------------------------------------------------------------------
# Runs


def runs_to_invocations(posts: list, patches: list,
                        max_runs: int = 10_000) -> list[InvocationData]:
    """Creates and updates of runs -> invocations (FormatError names every bad field)."""
    if len(posts) + len(patches) > max_runs:
        raise FormatError.at("", f"at most {max_runs} runs a request")
    errors: list[dict[str, str]] = []
    merged: dict[str, dict] = {}
    order: list[str] = []
    for op, runs in (("post", posts), ("patch", patches)):
        for i, run in enumerate(runs):
            path = f"{op}[{i}]"
            if not isinstance(run, dict):
                errors.append({"path": path, "reason": "a run must be an object"})
                continue
            run_id = run.get("id")
            if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 128:
                errors.append({"path": f"{path}.id", "reason": "required: the run's id"})
                continue
            if run_id not in merged:
                merged[run_id] = {"_path": path}
                order.append(run_id)
            merged[run_id].update({k: v for k, v in run.items() if v is not None})
    by_trace: dict[str, InvocationData] = {}
    for seq, run_id in enumerate(order):
        run = merged[run_id]
        try:
            trace_id, step = _run_step(run)
        except FormatError as exc:
            errors.extend(exc.errors)
            continue
        step.seq = seq
        inv = by_trace.setdefault(trace_id, InvocationData(trace_id=trace_id))
        inv.steps.append(step)
        _apply_to_invocation(inv, run, step)
    if errors:
        raise FormatError(errors[:50])
    return list(by_trace.values())


def _dotted_ids(dotted: Any) -> list[str]:
    if not isinstance(dotted, str):
        return []
    ids = []
    for segment in dotted.split("."):
        found = _DOTTED_SEGMENT.match(segment)
        if found:
            ids.append(found.group(1))
    return ids


def _time(run: dict, key: str, path: str) -> datetime | None:
    value = run.get(key)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise FormatError.at(f"{path}.{key}", str(exc)) from None


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _run_step(run: dict) -> tuple[str, StepData]:
    path = run["_path"]
    run_id = run["id"].strip()
    dotted = _dotted_ids(run.get("dotted_order"))
    parent = run.get("parent_run_id")
    parent = parent.strip() if isinstance(parent, str) and parent.strip() else None
    if parent is None and len(dotted) > 1:
        parent = dotted[-2]
    trace_id = run.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id.strip():
        trace_id = dotted[0] if dotted else (None if parent else run_id)
    if trace_id is None:
        raise FormatError.at(f"{path}.trace_id",
                             "required for a run with a parent (or a dotted_order)")
    run_type = run.get("run_type")
    kind = KINDS.get(run_type, "other") if isinstance(run_type, str) else None
    if kind == "other" and run_type == "chain" and parent is None:
        kind = "agent"
    extra = _obj(run.get("extra"))
    metadata = _obj(extra.get("metadata"))
    inputs, outputs = run.get("inputs"), run.get("outputs")
    inputs = inputs if inputs not in ({}, []) else None
    outputs = outputs if outputs not in ({}, []) else None
    error = run.get("error")
    step = StepData(
        span_id=run_id,
        parent_span_id=parent,
        kind=kind,
        name=as_text(run.get("name")),
        started_at=_time(run, "start_time", path),
        ended_at=_time(run, "end_time", path),
        input=inputs,
        output=outputs,
        attributes=_attributes(run, extra, metadata) or None,
    )
    if error:
        step.status = "error"
        step.error_type, step.error_message, step.error_traceback = parse_error(error)
    elif step.ended_at is not None:
        step.status = "ok"
    if kind == "agent":
        step.agent_name = as_text(metadata.get("lc_agent_name")) or step.name
    elif kind == "llm":
        _llm(step, inputs, outputs, extra, metadata)
    elif kind == "tool":
        _tool(step, inputs, outputs, extra)
    return trace_id.strip()[:128], step


def _attributes(run: dict, extra: dict, metadata: dict) -> dict:
    attrs: dict[str, Any] = {}
    for key in ("run_type", "dotted_order", "session_name", "tags", "reference_example_id"):
        if run.get(key) not in (None, [], ""):
            attrs[f"langsmith.{key}"] = run[key]
    if metadata:
        attrs["langsmith.metadata"] = metadata
    if extra.get("invocation_params"):
        attrs["langsmith.invocation_params"] = extra["invocation_params"]
    return attrs


def _llm(step: StepData, inputs: Any, outputs: Any, extra: dict, metadata: dict) -> None:
    params = _obj(extra.get("invocation_params"))
    step.model = as_text(metadata.get("ls_model_name") or params.get("model")
                         or params.get("model_name") or params.get("model_id"))
    if inputs is not None:
        prompts = inputs.get("prompts") if isinstance(inputs, dict) else None
        if isinstance(prompts, list) and prompts:
            step.input = [{"role": "user", "content": as_text(p)} for p in prompts]
        else:
            step.input = normalize_messages(inputs) or inputs
    if outputs is not None:
        step.output = normalize_messages(outputs) or outputs
    out = _obj(outputs)
    usage = _first_dict(out.get("usage_metadata"), metadata.get("usage_metadata"))
    generated = _generated_messages(out)
    if usage is None:
        found = [_obj(m.get("usage_metadata")) for m in generated if m.get("usage_metadata")]
        if found:
            usage = {k: sum(as_int(u.get(k)) or 0 for u in found)
                     for k in ("input_tokens", "output_tokens")}
    if usage is None:
        llm_output = _obj(out.get("llm_output"))
        usage = _first_dict(llm_output.get("token_usage"), llm_output.get("usage"),
                            out.get("usage"))
    if usage is not None:
        step.input_tokens = as_int(usage.get("input_tokens", usage.get("prompt_tokens")))
        step.output_tokens = as_int(usage.get("output_tokens", usage.get("completion_tokens")))
    for message in generated:
        reason = _obj(message.get("response_metadata")).get("finish_reason")
        if reason:
            step.finish_reason = as_text(reason)[:50]
            break


def _first_dict(*values: Any) -> dict | None:
    return next((v for v in values if isinstance(v, dict) and v), None)


def _generated_messages(outputs: dict) -> list[dict]:
    """The generated messages' own fields (kwargs of a serialized message), for usage."""
    found = []
    generations = outputs.get("generations")
    for batch in generations if isinstance(generations, list) else []:
        for generation in batch if isinstance(batch, list) else [batch]:
            message = _obj(_obj(generation).get("message"))
            found.append(_obj(message.get("kwargs")) or message)
    return found


def _tool(step: StepData, inputs: Any, outputs: Any, extra: dict) -> None:
    step.tool_name = step.name
    arguments = inputs
    if isinstance(inputs, dict) and set(inputs) == {"input"}:
        arguments = structured(inputs["input"])
    step.tool_arguments = arguments
    result = tool_message_content(outputs)
    if result is outputs and isinstance(outputs, dict) and set(outputs) == {"output"}:
        result = outputs["output"]
    step.tool_result = result
    message = _obj(_obj(outputs).get("output"))
    message = _obj(message.get("kwargs")) if message.get("lc") == 1 else message
    step.tool_call_id = as_text(extra.get("tool_call_id") or message.get("tool_call_id"))


def _apply_to_invocation(inv: InvocationData, run: dict, step: StepData) -> None:
    extra = _obj(run.get("extra"))
    metadata = _obj(extra.get("metadata"))
    attrs = inv.attributes or {}
    for key, value in (("langsmith_project", run.get("session_name")),
                       ("session_id", _first_text(metadata, "session_id", "thread_id")),
                       ("conversation_id", _first_text(metadata, "conversation_id",
                                                       "thread_id"))):
        if isinstance(value, str) and value and key not in attrs:
            attrs[key] = value
    inv.attributes = attrs or None
    if step.parent_span_id is not None:
        return
    inv.name = step.name or inv.name
    inv.agent = as_text(metadata.get("lc_agent_name")) or step.name or inv.agent
    inv.agent_version = _first_text(metadata, "revision_id", "agent_version") or inv.agent_version
    inv.started_at = step.started_at or inv.started_at
    inv.ended_at = step.ended_at or inv.ended_at
    if step.status in ("ok", "error"):
        inv.status = step.status
    inv.input = step.input if step.input is not None else inv.input
    inv.output = step.output if step.output is not None else inv.output


def _first_text(obj: dict, *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)[:200]
    return None


def parse_error(error: Any) -> tuple[str | None, str | None, str | None]:
    """(type, message, traceback) of a run's error: LangChain's `repr(exc)` followed by the
    formatted traceback, a bare traceback, `Type: message`, or any other text."""
    text = error if isinstance(error, str) else as_text(error) or ""
    head, marker, _ = text.partition("Traceback (most recent call last):")
    traceback = text[len(head):] if marker else None
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    last = _LAST_LINE_ERROR.match(lines[-1].strip()) if lines else None
    if last:
        return last.group(1)[:200], last.group(2), traceback
    found = _REPR_ERROR.match(head.strip())
    if found:
        message = structured(f"[{found.group(2)}]") if found.group(2) else []
        message = message[0] if isinstance(message, list) and len(message) == 1 else found.group(2)
        return found.group(1)[:200], as_text(message), traceback
    found = _LAST_LINE_ERROR.match(head.strip())
    if found:
        return found.group(1)[:200], found.group(2), traceback
    return None, head.strip() or text, traceback
