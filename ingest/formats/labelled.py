"""Labelled traces for measuring the classifier: public datasets and our own labelled JSONL.

Pure: each loader reads a path and returns `LabelledTrace`s, the invocation (parsed by the
ordinary ingest parsers, so the evaluation sees what ingest would store) with what its labels say.
Raises `FormatError` for input it cannot read.

    load_labelled(fmt, path)  fmt: who-and-when | agentrx | bioagent | labelled-jsonl

Label categories: one of planning, tool, context, budget; None for a run that did not fail;
`metrics.OTHER` for a labelled failure outside our four categories; `metrics.UNLABELLED` when the
labels name no category. The dataset labels map onto ours as the datasets' README states.

- who-and-when: a folder of runs (`history` messages, `mistake_step` a 0-based index into it,
  `mistake_agent`), read by `parse_messages`: step n is span "msg-<n>". No category.
- agentrx: a folder (or either file) with `tau_dataset_failed.json` and
  `tau_ground_truth.json`; the root cause's 1-based `step_number` n is span "msg-<n-1>". tau-bench
  scores a run 0 when it failed, and these runs carry a reward of 0, so they are stored as failed.
- bioagent: a folder of message logs, JSON or Python literals, the error type in the file name
  prefix; trace level only. Every file is a failed run.
- labelled-jsonl: our own format, one JSON object per line (docs/classifier.md):
  `{"trace": <native invocation object> | {"format": <name>, "body": <payload>},
    "label": {"category": ..., "root_step": ..., "agent": ...}}`.
- recorded: the corpus recorded from real frameworks and exporters (tests/classify/recorded):
  `load_recorded` returns the captured requests themselves, to be replayed through the ingest
  routes, not parsed invocations.
"""

from __future__ import annotations

import ast
import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingest.formats.errors import FormatError
from ingest.formats.native import parse_native
from ingest.formats.trajectories import parse_messages, parse_trace_data
from traceview.classify.metrics import OTHER, UNLABELLED
from traceview.core.trace import CATEGORIES, InvocationData

FORMATS = ("who-and-when", "agentrx", "bioagent", "labelled-jsonl", "recorded")
RECORDED_SPLITS = ("tuning", "holdout")
WIRE_FORMATS = ("native", "otlp-json", "openai-agents", "langfuse", "swe-agent", "openhands",
                "messages")

AGENTRX_CATEGORIES = {
    "invalid invocation": "tool",
    "misinterpretation of tool output": "tool",
    "intent plan misalignment": "planning",
    "intent not supported": "planning",
    "instruction/plan adherence failure": "planning",
    "instruction adherence failure": "context",
    "invention of new information": "context",
}
BIOAGENT_CATEGORIES = {
    "coder_issue": "tool",
    "missing_environment_dependency": "tool",
    "interrupted_execution": "tool",
    "planner_issue": "planning",
    "inconsistent_planning_behavior": "planning",
    "redundant_process_or_code": "planning",
    "early_stopping_fault": "planning",
    "lack_of_active_clarification": "planning",
    "long_context_handling_failure": "context",
    "knowledge_acquisition_failure": "context",
    "information_not_shared_or_unsynced": "context",
    "poor_instruction_following": "context",
    "round_or_time_limit_exceeded": "budget",
}


@dataclass(slots=True)
class LabelledTrace:
    key: str  # where the case came from: a file name, a task id, a line number
    invocation: InvocationData
    category: str | None
    root_step: str | None = None
    agent: str | None = None
    source_label: str | None = None  # the dataset's own label, for reports


def _read_json(path: Path, literal_ok: bool = False) -> Any:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        if literal_ok:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
        raise FormatError.at(str(path), f"invalid JSON: {exc}") from None


def _files(path: Path, pattern: str = "*.json") -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FormatError.at(str(path), "no such file or folder")
    files = sorted(path.rglob(pattern), key=lambda p: (len(p.stem), p.stem, str(p)))
    if not files:
        raise FormatError.at(str(path), f"no {pattern} files here")
    return files


def _one(invocations: list[InvocationData], where: str) -> InvocationData:
    if len(invocations) != 1:
        raise FormatError.at(where, f"expected one run, found {len(invocations)}")
    return invocations[0]


def who_and_when(path: str | Path) -> list[LabelledTrace]:
    out = []
    for f in _files(Path(path)):
        data = _read_json(f)
        if not isinstance(data, dict) or "history" not in data:
            continue  # LICENSE, SOURCE and other files next to the runs
        inv = _one(parse_messages(data, trace_id=f"who-and-when/{f.stem}"), str(f))
        step = data.get("mistake_step")
        out.append(
            LabelledTrace(
                key=f.name,
                invocation=inv,
                category=UNLABELLED,
                root_step=f"msg-{int(step)}" if str(step).strip().isdigit() else None,
                agent=data.get("mistake_agent") or None,
            )
        )
    return out


def agentrx(path: str | Path) -> list[LabelledTrace]:
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    runs = _read_json(folder / "tau_dataset_failed.json")
    truth = _read_json(folder / "tau_ground_truth.json")
    if not isinstance(runs, list) or not isinstance(truth, list):
        raise FormatError.at(str(folder), "expected lists of runs and of ground-truth records")
    by_id = {str(g.get("trajectory_id")): g for g in truth if isinstance(g, dict)}
    out = []
    for n, run in enumerate(runs):
        g = by_id.get(str(run.get("task_id")))
        if g is None:
            continue
        inv = _one(parse_messages(run, trace_id=f"agentrx/{run.get('task_id')}"), f"[{n}]")
        reward = run.get("reward")
        if isinstance(reward, int | float) and reward <= 0:
            inv.status = "error"
        root_id = str((g.get("root_cause") or {}).get("failure_id"))
        root = next(
            (f for f in g.get("failures") or [] if str(f.get("failure_id")) == root_id), None
        )
        if root is None:
            continue
        label = str(root.get("failure_category") or "")
        step = root.get("step_number")
        out.append(
            LabelledTrace(
                key=f"task {run.get('task_id')}",
                invocation=inv,
                category=AGENTRX_CATEGORIES.get(label.strip().lower(), OTHER),
                root_step=f"msg-{int(step) - 1}" if str(step).strip().isdigit() else None,
                source_label=label,
            )
        )
    return out


def bioagent(path: str | Path) -> list[LabelledTrace]:
    out = []
    for f in _files(Path(path)):
        error_type = f.name.split(".", 1)[0]
        data = _read_json(f, literal_ok=True)
        inv = _one(parse_messages(data, trace_id=f"bioagent/{f.stem}"), str(f))
        inv.status = "error"
        out.append(
            LabelledTrace(
                key=f.name,
                invocation=inv,
                category=BIOAGENT_CATEGORIES.get(error_type, OTHER),
                source_label=error_type,
            )
        )
    return out


def parse_wire(trace: Any, where: str) -> InvocationData:
    """The `trace` of a labelled JSONL line -> one invocation."""
    if isinstance(trace, dict) and set(trace) == {"format", "body"}:
        fmt, body = trace["format"], trace["body"]
        if fmt not in WIRE_FORMATS:
            raise FormatError.at(f"{where}.format", "must be one of " + ", ".join(WIRE_FORMATS))
        if fmt == "native":
            invocations = parse_native(body if isinstance(body, dict) and (
                "invocations" in body or "steps" in body) else {"invocations": [body]})
        elif fmt == "otlp-json":
            from ingest.formats.otlp import OtlpDecodeError, otlp_to_invocations

            try:
                invocations, rejected, messages = otlp_to_invocations(
                    orjson.dumps(body), "application/json"
                )
            except OtlpDecodeError as exc:
                raise FormatError.at(f"{where}.body", str(exc)) from None
            if rejected:
                raise FormatError.at(
                    f"{where}.body", "; ".join(messages) or f"{rejected} spans rejected"
                )
        else:
            invocations = parse_trace_data(fmt, body)
    elif isinstance(trace, dict):
        invocations = parse_native({"invocations": [trace]})
    else:
        raise FormatError.at(where, "must be a native invocation object or {format, body}")
    return _one(invocations, where)


def labelled_jsonl(path: str | Path) -> list[LabelledTrace]:
    out = []
    seen: set[str] = set()
    for f in _files(Path(path), "*.jsonl"):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{f.name}:{n}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise FormatError.at(where, f"invalid JSON: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get("label"), dict):
                raise FormatError.at(where, 'expected {"trace": ..., "label": {...}}')
            label = record["label"]
            category = label["category"] if "category" in label else UNLABELLED
            if category not in (*CATEGORIES, None, OTHER, UNLABELLED):
                raise FormatError.at(f"{where}.label.category",
                            "must be planning, tool, context, budget, other or null")
            inv = parse_wire(record.get("trace"), f"{where}.trace")
            # Lines are separate runs even when their senders reused a trace id.
            if inv.trace_id in seen:
                inv.trace_id = f"{inv.trace_id}#{n}"[-128:]
            seen.add(inv.trace_id)
            out.append(
                LabelledTrace(
                    key=where,
                    invocation=inv,
                    category=category,
                    root_step=label.get("root_step"),
                    agent=label.get("agent"),
                )
            )
    return out


@dataclass(slots=True)
class CapturedRequest:
    method: str
    path: str
    headers: dict  # the headers that describe the body: content-type, content-encoding
    body: bytes  # as the exporter sent it (still compressed when it was)


@dataclass(slots=True)
class RecordedCapture:
    """One scenario's run as one route exported it, with the scenario's label."""

    split: str  # tuning | holdout
    scenario: str
    route: str
    requests: list[CapturedRequest]
    category: str | None
    root_step: str | None  # the span id the labelled logical root has in this capture
    steps: int  # steps in the capture, as counted when it was recorded

    @property
    def key(self) -> str:
        return f"{self.split}/{self.scenario}/{self.route}"


def load_recorded(path: str | Path) -> list[RecordedCapture]:
    """The recorded corpus at `path`: a folder holding tuning/ and holdout/, or one of them.
    Each split folder has labels.json and `<scenario>/<route>.json.gz` captures."""
    folder = Path(path)
    splits = [folder / s for s in RECORDED_SPLITS if (folder / s / "labels.json").is_file()]
    if not splits and (folder / "labels.json").is_file():
        splits = [folder]
    if not splits:
        raise FormatError.at(str(folder), "no labels.json here nor in tuning/ or holdout/")
    out = []
    for split in splits:
        labels = _read_json(split / "labels.json")
        if not isinstance(labels, dict):
            raise FormatError.at(str(split / "labels.json"), "expected an object by scenario")
        for scenario, label in sorted(labels.items()):
            category = label.get("category")
            if category not in (*CATEGORIES, None):
                raise FormatError.at(f"{split.name}/labels.json.{scenario}.category",
                                     "must be planning, tool, context, budget or null")
            for route, resolved in sorted((label.get("routes") or {}).items()):
                where = split / scenario / f"{route}.json.gz"
                try:
                    data = json.loads(gzip.decompress(where.read_bytes()))
                    requests = [
                        CapturedRequest(r["method"], r["path"], dict(r["headers"]),
                                        base64.b64decode(r["body_base64"]))
                        for r in data["requests"]
                    ]
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    raise FormatError.at(str(where), f"unreadable capture: {exc}") from None
                out.append(RecordedCapture(
                    split=split.name, scenario=scenario, route=route, requests=requests,
                    category=category, root_step=resolved.get("root_span_id"),
                    steps=int(resolved.get("steps") or 0),
                ))
    return out


def load_labelled(fmt: str, path: str | Path) -> list[LabelledTrace]:
    loaders = {
        "who-and-when": who_and_when,
        "agentrx": agentrx,
        "bioagent": bioagent,
        "labelled-jsonl": labelled_jsonl,
    }
    if fmt not in loaders:
        raise FormatError.at("format", "must be one of " + ", ".join(FORMATS))
    return loaders[fmt](path)
