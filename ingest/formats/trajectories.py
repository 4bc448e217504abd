"""Trajectory files (SWE-agent, OpenHands, plain message logs) -> canonical invocations.

Pure functions over parsed JSON, no Django; each returns `list[InvocationData]` and raises
`FormatError` ({"path", "reason"}) for input it cannot read:

    detect_format(path, data) -> "otlp-json" | "openai-agents" | "langfuse" | "swe-agent"
                                  | "openhands" | "messages"
    parse_swe_agent(data, trace_id=None)
    parse_openhands(data, trace_id=None)    # event list, one evaluation record, or a list of them
    parse_messages(data, trace_id=None)     # message list, {"messages"|"history"|"traj": [...]},
                                            # or a list of such runs
    read_trace_file(path) -> Any            # .json/.traj as JSON, .jsonl as a list of lines
    parse_trace_data(fmt, data, trace_id=None)  # dispatch for every format but otlp-json

Trace ids: files carry none, so `trace_id` may be given (the import command can derive it from the
path); without it the id is the format name plus a digest of the content, so importing the same
file twice updates one invocation. When one file holds several runs, each gets `<trace_id>#<n>`
(given) or its own digest. None of these formats has per-step times except OpenHands, so steps
carry `seq` for their order.

Span ids, stable so that labelled datasets can point at steps:
* SWE-agent: trajectory entry i -> "llm-<i>" (the model's thought/response) then "tool-<i>" (the
  command: tool_name is its first word, tool_arguments the whole command, tool_result the
  observation); a run that did not exit with "submitted" ends with an "exit" step.
* OpenHands: "event-<id>" for each action (its observation, linked by `cause`, fills in result,
  end time and an error status for an `error` observation) and for observations with no action;
  "llm-<response id>" for each model response behind actions (one response may issue several
  actions), else "event-<id>-llm" for an action's thought; "run-error" for a run-level error.
* Messages: message i (0-based position in the list) -> "msg-<i>". A tool result message is the
  tool step of the call it answers (arguments from the call, result from the message); a call
  that got no answer is "msg-<i>-call-<k>". So Who&When's `mistake_step` n is span "msg-<n>", and
  AgentRx's 1-based `step_number` n is "msg-<n-1>".

Errors live inside observation text; the parsers never turn text into a failed step (the
classifier reads it). Only what the file states is a failure: an OpenHands `error` observation,
a run-level `error`, an agent state of "error", a SWE-agent exit status other than "submitted"
(kept in attributes["exit_status"]), or, on a labelled message log, `is_correct: false` or
`is_corrected: false` or a failure attribution (`mistake_step`, `mistake_agent`, ...: Who&When
labels failed runs only). `is_corrected: true` is no success: Who&When's hand-crafted split
carries it on runs it labels as failed.

Message logs: an assistant message is an llm step whose `input` is the messages that arrived since
the previous assistant message (the whole conversation is the concatenation, and storing every
prefix would grow as the square of its length); `attributes["context_messages"]` says how many
messages came before it. In a multi-agent log (AutoGen group chats such as Who&When record other
participants as role "user" with a `name`), a named user message is that agent's llm turn, and
one that is an AutoGen code-execution result ("exitcode: ...") is a tool step. `name` becomes
`agent_name` except on tool messages, where it names the tool. A role that is none of the chat
APIs' roles is the speaker's name (Magentic-One: "WebSurfer", "Orchestrator (thought)"; in such a
log a capitalised "Assistant" is a speaker too, Magentic-One's coding agent): that
speaker's llm turn, `agent_name` the name without its parenthesised channel, the role as sent in
`attributes["role"]` (and the channel in `attributes["channel"]`); a speaker named like a
terminal or executor posts execution results (tool steps); "human" is the user.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.formats.conventions import as_decimal, as_int
from ingest.formats.errors import FormatError
from ingest.formats.native import parse_timestamp
from ingest.formats.values import nonblank, structured
from traceview.core.trace import InvocationData, StepData

FORMATS = ("otlp-json", "openai-agents", "langfuse", "swe-agent", "openhands", "messages")
HUMAN_NAMES = {"user", "human", "admin", "customer"}
# Roles of chat APIs; any other role is a speaker's name (Magentic-One logs, Who&When's
# hand-crafted split: "WebSurfer", "Orchestrator (thought)", "Orchestrator (-> WebSurfer)").
CHAT_ROLES = {"system", "user", "assistant", "tool", "function", "developer", "ipython", "model"}
# Speakers that run code or commands and post their output: their turns are execution results.
EXECUTOR_NAME = re.compile(r"terminal|executor|interpreter|shell|console|sandbox", re.I)
# "Orchestrator (thought)" -> "Orchestrator" (the agent), "thought" (its channel).
SPEAKER_CHANNEL = re.compile(r"^\s*(.*?)\s*\(([^()]*)\)\s*$")
# Flags labelled logs carry: Who&When's algorithm-generated split says whether the answer was
# right in `is_correct`; its hand-crafted split (Magentic-One logs) carries `is_corrected`
# instead, which is no statement that the run succeeded: only its false says failed.
RESULT_FLAGS = ("is_correct", "is_corrected")
# A failure attribution (Who&When's mistake_agent, mistake_step, mistake_reason; AgentRx's
# failures): a record that carries one is a run somebody labelled as failed, whatever a flag says.
FAILURE_LABELS = ("mistake_step", "mistake_agent", "mistake_reason", "failures", "root_cause")


def _digest(prefix: str, data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return f"{prefix}-{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()[:32]}"


def _trace_ids(prefix: str, runs: list[Any], trace_id: str | None) -> list[str]:
    if trace_id and len(runs) == 1:
        return [trace_id]
    if trace_id:
        return [f"{trace_id}#{n}" for n in range(len(runs))]
    return [_digest(prefix, run) for run in runs]


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _first_line(text: Any, limit: int = 120) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip().splitlines()[0][:limit]


# --- detection ---------------------------------------------------------------------------------


def _is_event(item: Any) -> bool:
    return isinstance(item, dict) and ("action" in item or "observation" in item)


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item


def message_list(data: Any) -> list | None:
    if isinstance(data, list) and data and all(_is_message(m) for m in data):
        return data
    if isinstance(data, dict):
        for key in ("messages", "history", "traj"):
            value = data.get(key)
            if isinstance(value, list) and value and all(_is_message(m) for m in value):
                return value
    return None


def detect_format(path: str | Path | None, data: Any) -> str:
    """Name the format of a parsed file; FormatError when it is none of FORMATS."""
    name = str(path or "").lower()
    if isinstance(data, dict):
        if "resourceSpans" in data or "resource_spans" in data:
            return "otlp-json"
        if isinstance(data.get("data"), list) and any(
            isinstance(i, dict) and ("span_data" in i or i.get("object") in ("trace", "trace.span"))
            for i in data["data"]
        ):
            return "openai-agents"
        if isinstance(data.get("batch"), list) or (
            isinstance(data.get("trace"), dict) and "observations" in data
        ):
            return "langfuse"
        if isinstance(data.get("trajectory"), list):
            return "swe-agent"
        if isinstance(data.get("history"), list) and any(_is_event(e) for e in data["history"]):
            return "openhands"
        if message_list(data) is not None:
            return "messages"
    if isinstance(data, list) and data:
        if any(_is_event(e) for e in data):
            return "openhands"
        if all(isinstance(r, dict) and isinstance(r.get("history"), list) for r in data) and any(
            _is_event(e) for r in data for e in r["history"]
        ):
            return "openhands"
        if all(message_list(r) is not None for r in data) or message_list(data) is not None:
            return "messages"
    if name.endswith((".traj", ".traj.json")):
        return "swe-agent"
    raise FormatError.at("", "unrecognised trace format; expected one of " + ", ".join(FORMATS))


def read_trace_file(path: str | Path) -> Any:
    """Parse a file: JSON, or JSON Lines (one object per line) when it ends in .jsonl."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise FormatError.at(f"line {n}", f"invalid JSON: {exc}") from None
        return records
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FormatError.at("", f"invalid JSON: {exc}") from None


def parse_trace_data(fmt: str, data: Any, trace_id: str | None = None) -> list[InvocationData]:
    """Dispatch to the parser of `fmt`; otlp-json is ingest.formats.otlp's to read."""
    if fmt == "swe-agent":
        return parse_swe_agent(data, trace_id)
    if fmt == "openhands":
        return parse_openhands(data, trace_id)
    if fmt == "messages":
        return parse_messages(data, trace_id)
    if fmt == "openai-agents":
        from ingest.formats.openai_agents import parse_openai_agents

        return parse_openai_agents(data)
    if fmt == "langfuse":
        from ingest.formats.langfuse import (
            langfuse_batch_to_invocations,
            langfuse_export_to_invocations,
        )

        if isinstance(data, dict) and "batch" in data:
            invocations, _, errors = langfuse_batch_to_invocations(data)
            if errors:
                raise FormatError(
                    [{"path": f"batch event {e['id']}", "reason": e["message"]} for e in errors]
                )
            return invocations
        return langfuse_export_to_invocations(data)
    raise FormatError.at("", f"no parser here for format {fmt!r}")


# --- SWE-agent ---------------------------------------------------------------------------------


def _swe_turns(history: Any, entries: list[dict]) -> list[tuple[list, dict]] | None:
    """Per trajectory entry: the messages new to the model at that turn, and its reply message."""
    if not isinstance(history, list):
        return None
    turns, pending = [], []
    for message in history:
        if not isinstance(message, dict):
            return None
        demo = str(message.get("is_demo", "")).lower() == "true"
        if message.get("role") == "assistant" and not demo:
            turns.append((pending, message))
            pending = []
        else:
            pending.append(message)
    # Only trust the history where it lines up with the trajectory; it may stop short of the
    # last turn (the final submit is often not written back to it).
    if len(turns) > len(entries):
        return None
    for (_, reply), entry in zip(turns, entries, strict=False):
        action = reply.get("action")
        if isinstance(action, str) and action.strip() != str(entry.get("action") or "").strip():
            return None
    if len(turns) < len(entries) and pending:
        turns.append((pending, {}))
    return turns + [([], {})] * (len(entries) - len(turns))


def parse_swe_agent(data: Any, trace_id: str | None = None) -> list[InvocationData]:
    """A SWE-agent .traj file -> one invocation: an llm step and a tool step per entry."""
    if not isinstance(data, dict):
        raise FormatError.at("", "a .traj file must be a JSON object with a 'trajectory' array")
    entries = data.get("trajectory")
    if not isinstance(entries, list):
        raise FormatError.at("trajectory", "is required and must be an array")
    info = data.get("info") if data.get("info") is not None else {}
    if not isinstance(info, dict):
        raise FormatError.at("info", "must be an object")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise FormatError.at(f"trajectory[{i}]", "must be an object")
        if entry.get("action") is not None and not isinstance(entry["action"], str):
            raise FormatError.at(f"trajectory[{i}].action", "must be a string")
    replay = structured(data.get("replay_config"))
    replay = replay if isinstance(replay, dict) else {}
    problem = _dict(replay.get("problem_statement"))
    model_cfg = _dict(_dict(replay.get("agent")).get("model"))
    model = nonblank(model_cfg.get("name"))

    inv = InvocationData(trace_id=trace_id or _digest("swe-agent", data), agent="swe-agent")
    inv.name = nonblank(problem.get("id"))
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    inv.input_tokens = as_int(stats.get("tokens_sent"))
    inv.output_tokens = as_int(stats.get("tokens_received"))
    inv.cost_usd = as_decimal(stats.get("instance_cost"))
    attrs: dict[str, Any] = {}
    if stats.get("api_calls") is not None:
        attrs["api_calls"] = stats["api_calls"]
    if nonblank(data.get("environment")):
        attrs["environment"] = data["environment"]
    exit_status = info.get("exit_status")
    if exit_status is not None:
        attrs["exit_status"] = exit_status
    if nonblank(info.get("submission")):
        inv.output = info["submission"]
    inv.attributes = attrs or None

    turns = _swe_turns(data.get("history"), entries)
    for i, entry in enumerate(entries):
        new_messages, reply = turns[i] if turns else (None, {})
        if i == 0 and new_messages:
            issue = [m for m in new_messages if m.get("role") == "user"
                     and str(m.get("is_demo", "")).lower() != "true"]
            inv.input = issue[-1].get("content") if issue else None
        seen = entry.get("messages") or entry.get("query") or new_messages
        llm = StepData(
            span_id=f"llm-{i}", kind="llm", name=model or "model", model=model, status="ok",
            input=seen or None, output=entry.get("response") if entry.get("response") is not None
            else entry.get("thought"), agent_name=nonblank(reply.get("agent")), seq=2 * i,
        )
        if nonblank(entry.get("thought")) and entry.get("thought") != entry.get("response"):
            llm.attributes = {"thought": entry["thought"]}
        inv.steps.append(llm)
        action = entry.get("action")
        if not nonblank(action) or not action.strip():
            continue
        tool_name = action.strip().split()[0]
        step_attrs = {}
        state = structured(entry.get("state"))
        if state not in (None, "", {}):
            step_attrs["state"] = state
        if entry.get("execution_time") is not None:
            step_attrs["execution_time_s"] = entry["execution_time"]
        calls = structured(reply.get("tool_calls"))
        call_id = calls[0].get("id") if isinstance(calls, list) and calls and isinstance(
            calls[0], dict) else None
        inv.steps.append(StepData(
            span_id=f"tool-{i}", kind="tool", name=tool_name, tool_name=tool_name,
            tool_call_id=nonblank(call_id), tool_arguments=action,
            tool_result=entry.get("observation"),
            status="ok", agent_name=llm.agent_name, attributes=step_attrs or None, seq=2 * i + 1,
        ))
    if exit_status is not None:
        inv.status = "ok" if exit_status == "submitted" else "error"
        if inv.status == "error":
            inv.steps.append(StepData(
                span_id="exit", kind="other", name=str(exit_status), status="error",
                error_type=str(exit_status)[:200],
                error_message=f"SWE-agent stopped with exit status {exit_status}",
                seq=2 * len(entries),
            ))
    if inv.name is None:
        # No problem id in the file: the issue's first line names the task, not the first
        # step (a model call, which the store would otherwise take for the run's name).
        inv.name = _issue_title(inv.input) or "SWE-agent run"
    return [inv]


def _issue_title(text: Any) -> str | None:
    """The first line of the issue SWE-agent was given (after its "ISSUE:" marker when the
    prompt has one)."""
    if not isinstance(text, str):
        return None
    _, marker, rest = text.partition("ISSUE:")
    return _first_line(rest if marker else text)


# --- OpenHands ---------------------------------------------------------------------------------

# Observations that only report bookkeeping, not work the agent did.
QUIET_OBSERVATIONS = {"agent_state_changed", "null"}
QUIET_ACTIONS = {"change_agent_state"}
BULKY_EXTRAS = {"old_content", "new_content"}


def _error_parts(text: str) -> tuple[str | None, str]:
    head = text.split(":", 1)[0].strip()
    if head and head.isidentifier() and len(head) < 100 and head != text.strip():
        return head, text
    return None, text


def _openhands_run(events: list, record: dict, trace_id: str, path: str) -> InvocationData:
    inv = InvocationData(trace_id=trace_id)
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    metrics = record.get("metrics") if isinstance(record.get("metrics"), dict) else {}
    llm_config = metadata.get("llm_config") if isinstance(metadata.get("llm_config"), dict) else {}
    inv.agent = nonblank(metadata.get("agent_class")) or "openhands"
    attrs: dict[str, Any] = {}
    for key in ("instance_id",):
        if record.get(key) is not None:
            attrs[key] = record[key]
    for key in ("max_iterations", "agent_class", "dataset"):
        if metadata.get(key) is not None:
            attrs[key] = metadata[key]
    if nonblank(llm_config.get("model")):
        attrs["model"] = llm_config["model"]
    usage = metrics.get("accumulated_token_usage")
    if isinstance(usage, dict):
        inv.input_tokens = as_int(usage.get("prompt_tokens"))
        inv.output_tokens = as_int(usage.get("completion_tokens"))
    inv.cost_usd = as_decimal(metrics.get("accumulated_cost"))
    latencies = {
        r.get("response_id"): r.get("latency")
        for r in metrics.get("response_latencies") or [] if isinstance(r, dict)
    }
    usages = {
        r.get("response_id"): r for r in metrics.get("token_usages") or [] if isinstance(r, dict)
    }
    inv.name = nonblank(record.get("instance_id"))

    steps_by_event: dict[Any, StepData] = {}
    llm_steps: dict[str, StepData] = {}
    final_state = None
    finished = False
    for n, event in enumerate(events):
        epath = f"{path}[{n}]"
        if not isinstance(event, dict):
            raise FormatError.at(epath, "must be an object")
        event_id = event.get("id")
        if event_id is None or isinstance(event_id, bool | dict | list):
            raise FormatError.at(f"{epath}.id", "is required (a number or string)")
        ts = None
        if event.get("timestamp") is not None:
            try:
                ts = parse_timestamp(event["timestamp"])
            except ValueError as exc:
                raise FormatError.at(f"{epath}.timestamp", str(exc)) from None
        args = structured(event.get("args"))
        args = args if isinstance(args, dict) else {}
        extras = structured(event.get("extras"))
        source = event.get("source")
        if "action" in event:
            action = event["action"]
            if action in QUIET_ACTIONS:
                continue
            text = event.get("message") or args.get("content")
            if action == "system":
                step = StepData(span_id=f"event-{event_id}", kind="other", name="system prompt",
                                output=args.get("content") or event.get("message"))
            elif source == "user" and action == "message":
                step = StepData(span_id=f"event-{event_id}", kind="other", name="user message",
                                agent_name="user", output=text)
                if inv.input is None:
                    inv.input = text
                    inv.name = inv.name or _first_line(text)
            elif action == "message":
                step = StepData(span_id=f"event-{event_id}", kind="llm", name="message",
                                output=text, agent_name=source)
            else:
                meta = structured(event.get("tool_call_metadata"))
                meta = meta if isinstance(meta, dict) else {}
                response = meta.get("model_response") if isinstance(
                    meta.get("model_response"), dict) else None
                _openhands_llm(inv, response, event, args, ts, n, latencies, usages, llm_steps)
                step = StepData(
                    span_id=f"event-{event_id}",
                    kind="retrieval" if action == "recall" else "tool",
                    name=nonblank(meta.get("function_name")) or action,
                    tool_name=nonblank(meta.get("function_name")) or action,
                    tool_call_id=nonblank(meta.get("tool_call_id")),
                    tool_arguments=args or None,
                    agent_name=source if source != "agent" else None,
                    attributes={"action": action},
                )
                if action == "finish":
                    finished = True
                    inv.output = args.get("final_thought") or args.get("outputs") or text
            step.started_at = ts
            step.seq = 2 * n + 1
            if step.kind in ("other", "llm") or action in ("finish", "think"):
                step.ended_at, step.status = ts, "ok"
            steps_by_event[event_id] = step
            inv.steps.append(step)
            continue
        observation = event.get("observation")
        if observation == "agent_state_changed":
            state = extras.get("agent_state") if isinstance(extras, dict) else None
            final_state = state or final_state
            continue
        if observation in QUIET_OBSERVATIONS:
            continue
        content = event.get("content", event.get("message"))
        step = steps_by_event.get(event.get("cause"))
        if step is None or step.tool_result is not None or step.kind not in ("tool", "retrieval"):
            meta = structured(event.get("tool_call_metadata"))
            meta = meta if isinstance(meta, dict) else {}
            tool = nonblank(meta.get("function_name"))
            step = StepData(
                span_id=f"event-{event_id}", kind="tool" if observation == "error" or tool
                else "other", name=tool or str(observation), tool_name=tool,
                tool_call_id=nonblank(meta.get("tool_call_id")), started_at=ts, seq=2 * n + 1,
                attributes={},
            )
            inv.steps.append(step)
        step.tool_result = content
        step.ended_at = ts
        step.attributes = {**(step.attributes or {}), "observation": observation}
        if isinstance(extras, dict):
            kept = {k: v for k, v in extras.items() if k not in BULKY_EXTRAS}
            if kept:
                step.attributes["extras"] = kept
        if event.get("success") is not None:
            step.attributes["success"] = event["success"]
        if observation == "error":
            step.status = "error"
            step.error_type = "ErrorObservation"
            step.error_message = content if isinstance(content, str) else json.dumps(content)
        else:
            step.status = "ok"

    error = record.get("error")
    attrs["final_agent_state"] = final_state
    if not final_state:
        attrs.pop("final_agent_state")
    if nonblank(error) or final_state == "error":
        inv.status = "error"
        message = error if nonblank(error) else "the agent stopped in the error state"
        error_type, message = _error_parts(message)
        inv.steps.append(StepData(
            span_id="run-error", kind="other", name="run error", status="error",
            error_type=error_type or "AgentError", error_message=message,
            seq=2 * len(events) + 2,
        ))
    elif finished or final_state in ("finished", "stopped", "awaiting_user_input") or record:
        # An evaluation record is a finished run; a bare stream is finished when it says so.
        inv.status = "ok"
    inv.attributes = attrs or None
    # The run lasted from its first event to its last. (Its events are all top-level steps; the
    # store would otherwise take the first one, the system prompt, an instant, for the run.)
    starts = [s.started_at for s in inv.steps if s.started_at is not None]
    ends = [s.ended_at or s.started_at for s in inv.steps if (s.ended_at or s.started_at)]
    if starts:
        inv.started_at = min(starts)
    if ends and inv.status is not None:
        inv.ended_at = max(ends)
    return inv


def _openhands_llm(inv, response, event, args, ts, n, latencies, usages, llm_steps) -> None:
    """The model call behind an agent action: one step per model response id."""
    if response is not None:
        response_id = nonblank(response.get("id")) or f"event-{event.get('id')}"
        span_id = f"llm-{response_id}"
        if span_id in llm_steps:
            return
        choices = response.get("choices") if isinstance(response.get("choices"), list) else []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else None
        usage = usage or usages.get(response_id) or {}
        step = StepData(
            span_id=span_id, kind="llm", name=nonblank(response.get("model")) or "llm",
            model=nonblank(response.get("model")), output=choice.get("message"),
            finish_reason=nonblank(choice.get("finish_reason")),
            input_tokens=as_int(usage.get("prompt_tokens")),
            output_tokens=as_int(usage.get("completion_tokens")), status="ok",
            ended_at=ts, started_at=ts, seq=2 * n,
        )
        latency = latencies.get(response_id)
        if ts is not None and isinstance(latency, int | float) and 0 <= latency < 86400:
            step.started_at = ts - timedelta(seconds=latency)
        llm_steps[span_id] = step
        inv.steps.append(step)
    elif nonblank(args.get("thought")):
        inv.steps.append(StepData(
            span_id=f"event-{event.get('id')}-llm", kind="llm", name="thought",
            output=args["thought"], status="ok", started_at=ts, ended_at=ts, seq=2 * n,
        ))


def parse_openhands(data: Any, trace_id: str | None = None) -> list[InvocationData]:
    """An OpenHands event list, evaluation record, or list of records (JSONL) -> invocations."""
    if isinstance(data, dict) and isinstance(data.get("history"), list):
        runs = [data]
    elif isinstance(data, list) and data and all(
        isinstance(r, dict) and isinstance(r.get("history"), list) for r in data
    ):
        runs = data
    elif isinstance(data, list):
        return [_openhands_run(data, {}, trace_id or _digest("openhands", data), "")]
    else:
        raise FormatError.at(
            "", "expected an event list, an evaluation record with 'history', or a list of records"
        )
    ids = _trace_ids("openhands", runs, trace_id)
    return [
        _openhands_run(run["history"], run, tid, f"[{n}].history" if len(runs) > 1 else "history")
        for n, (run, tid) in enumerate(zip(runs, ids, strict=True))
    ]


# --- plain message logs ------------------------------------------------------------------------


def _tool_calls(message: dict) -> list[dict]:
    calls = structured(message.get("tool_calls"))
    if not isinstance(calls, list):
        return []
    out = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        out.append({"id": nonblank(call.get("id")), "name": nonblank(fn.get("name")),
                    "arguments": fn.get("arguments")})
    return out


def _is_execution_result(content: Any) -> bool:
    return isinstance(content, str) and content.startswith("exitcode:")


def _speaker(role: str) -> tuple[str, str | None]:
    """A non-chat role -> (agent name, channel): "Orchestrator (-> WebSurfer)" is the
    Orchestrator speaking on its "-> WebSurfer" channel."""
    m = SPEAKER_CHANNEL.match(role)
    if m and m.group(1):
        return m.group(1), m.group(2).strip() or None
    return role.strip(), None


def _messages_run(messages: list, extra: dict, trace_id: str, path: str) -> InvocationData:
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise FormatError.at(f"{path}[{i}]", "must be an object {role, content}")
        if not nonblank(message.get("role")):
            raise FormatError.at(f"{path}[{i}].role", "is required and must be a non-empty string")
    inv = InvocationData(trace_id=trace_id)
    # A log is multi-agent when its assistant turns are signed, or its roles are speakers'
    # names: then a named "user" is an agent.
    speakers_in_role = any(m["role"].strip().lower() not in CHAT_ROLES for m in messages)
    multi_agent = speakers_in_role or any(
        m["role"] == "assistant" and nonblank(m.get("name")) for m in messages)
    calls: dict[str, StepData] = {}
    open_calls: list[StepData] = []
    pending_since = 0
    for i, message in enumerate(messages):
        role, name, content = message["role"], nonblank(message.get("name")), message.get("content")
        span_id = f"msg-{i}"
        # Where roles are speakers' names, a capitalised "Assistant" is one too (Magentic-One's
        # coding agent), not the chat API's role.
        if role.strip().lower() not in CHAT_ROLES or (
                speakers_in_role and role.strip() not in CHAT_ROLES):
            speaker, channel = _speaker(role)
            if speaker.lower() in HUMAN_NAMES:
                role, name = "user", None
            else:
                extra_attrs = {"role": role, **({"channel": channel} if channel else {})}
                if EXECUTOR_NAME.search(speaker) or _is_execution_result(content):
                    inv.steps.append(StepData(
                        span_id=span_id, kind="tool", name=speaker, tool_name="code_execution",
                        tool_result=content, agent_name=speaker, status="ok", seq=i,
                        attributes=extra_attrs))
                    continue
                inv.steps.append(StepData(
                    span_id=span_id, kind="llm", name=speaker, status="ok",
                    input=messages[pending_since:i] or None, output=message,
                    agent_name=speaker, seq=i,
                    attributes={"context_messages": i, **extra_attrs}))
                pending_since = i + 1
                continue
        if role in ("tool", "function"):
            call_id = nonblank(message.get("tool_call_id"))
            step = calls.pop(call_id, None) if call_id else None
            if step is None and not call_id and open_calls:
                # No id to match on: answer the oldest open call of that name, else the oldest.
                step = next((c for c in open_calls if c.tool_name == name), open_calls[0])
                calls.pop(step.tool_call_id, None)
            if step is not None:
                open_calls.remove(step)
                step.span_id, step.seq = span_id, i
            else:
                step = StepData(span_id=span_id, kind="tool", name=name or "tool", tool_name=name,
                                tool_call_id=call_id, status="ok", seq=i)
                inv.steps.append(step)
            step.tool_result = content
            continue
        if role == "assistant" or (role == "user" and multi_agent and name
                                   and name.lower() not in HUMAN_NAMES):
            if role == "user" and _is_execution_result(content):
                inv.steps.append(StepData(span_id=span_id, kind="tool", name=name,
                                          tool_name="code_execution", tool_result=content,
                                          agent_name=name, status="ok", seq=i))
                continue
            step = StepData(span_id=span_id, kind="llm", name=name or "assistant", status="ok",
                            input=messages[pending_since:i] or None, output=message,
                            agent_name=name, seq=i, attributes={"context_messages": i})
            pending_since = i + 1
            inv.steps.append(step)
            for k, call in enumerate(_tool_calls(message)):
                tool = StepData(
                    span_id=f"msg-{i}-call-{k}", kind="tool", name=call["name"] or "tool",
                    tool_name=call["name"], tool_call_id=call["id"],
                    tool_arguments=call["arguments"], status="ok", agent_name=name, seq=i,
                    attributes={"called_by": span_id},
                )
                inv.steps.append(tool)
                open_calls.append(tool)
                if call["id"]:
                    calls[call["id"]] = tool
            continue
        label = "system prompt" if role == "system" else f"{role} message"
        inv.steps.append(StepData(span_id=span_id, kind="other", name=name or label,
                                  output=content, agent_name=name or role, status="ok", seq=i))
        if role == "user" and inv.input is None:
            inv.input = content
    attrs = {}
    for key in ("question", "ground_truth", "question_ID", "level", "task_id", "reward",
                "system_prompt"):
        if extra.get(key) is not None:
            attrs[key] = structured(extra[key]) if key == "system_prompt" else extra[key]
    for flag in RESULT_FLAGS:
        if extra.get(flag) is not None:
            attrs[flag] = extra[flag]
    inv.status = _labelled_status(extra)
    inv.attributes = attrs or None
    inv.name = _first_line(extra.get("question")) or _first_line(
        inv.input if isinstance(inv.input, str) else None
    )
    return inv


def _labelled_status(extra: dict) -> str | None:
    """A labelled log's outcome: error when it carries a failure attribution or a false result
    flag, ok only when `is_correct` says so, else unknown (the classifier decides)."""
    if any(extra.get(k) not in (None, "", [], {}) for k in FAILURE_LABELS):
        return "error"
    flags = [str(extra[f]).strip().lower() for f in RESULT_FLAGS if extra.get(f) is not None]
    if any(f in ("false", "0", "no") for f in flags):
        return "error"
    return "ok" if str(extra.get("is_correct")).strip().lower() == "true" else None


def parse_messages(data: Any, trace_id: str | None = None) -> list[InvocationData]:
    """A message log (or a list of runs holding one) -> one invocation per run."""
    single = message_list(data)
    if single is not None:
        runs = [(single, data if isinstance(data, dict) else {})]
        key = next((k for k in ("messages", "history", "traj") if isinstance(data, dict)
                    and data.get(k) is single), None)
        paths = [key or ""]
    elif isinstance(data, list) and data and all(message_list(r) is not None for r in data):
        runs = [(message_list(r), r if isinstance(r, dict) else {}) for r in data]
        paths = [f"[{n}]" for n in range(len(runs))]
    elif isinstance(data, list) and not data:
        raise FormatError.at("", "the message list is empty")
    else:
        if isinstance(data, list):
            bad = next(i for i, m in enumerate(data) if not _is_message(m))
            raise FormatError.at(f"[{bad}]", "must be a message object with a 'role'")
        raise FormatError.at("", "expected a list of {role, content} messages or an object with "
                        "'messages', 'history' or 'traj'")
    ids = _trace_ids("messages", [r for r, _ in runs], trace_id)
    return [
        _messages_run(messages, extra, tid, path)
        for (messages, extra), tid, path in zip(runs, ids, paths, strict=True)
    ]
