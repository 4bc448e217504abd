"""Labelled traces for measuring the classifier: public datasets and our own labelled JSONL.

Pure: each loader reads a path and returns `LabelledTrace`s, the invocation (parsed by the
ordinary ingest parsers, so the evaluation sees what ingest would store) with what its labels say.
Raises `FormatError` for input it cannot read.

    load_labelled(fmt, path)  fmt: who-and-when | agentrx | bioagent | labelled-jsonl

Label categories: one of planning, tool, context, budget; None for a run that did not fail;
`metrics.OTHER` for a labelled failure outside our four categories; `metrics.UNLABELLED` when the
labels name no category. The dataset labels map onto ours as ../shared/CLASSIFICATION.md
defines our categories (AGENTRX_CATEGORIES says why for each AgentRx label; docs/classifier.md).

- who-and-when: a folder of runs (`history` messages, `mistake_step` a 0-based index into it,
  `mistake_agent`), read by `parse_messages`: step n is span "msg-<n>". No category. Both
  published splits: algorithm-generated (speaker in `name`, `is_correct`) and hand-crafted
  (Magentic-One, speaker in `role`, `is_corrected`); every run is a failure.
- agentrx: AgentRx ground truth (`*ground_truth*.json` under the folder, or `labels`) and the
  runs it labels under the folder: its tau-bench part (`tau_dataset_failed.json`) or Who&When
  runs; the root cause's 1-based `step_number` n is span "msg-<n-1>". AgentRx labels failed
  runs only, so they are stored as failed.
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
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingest.formats.errors import FormatError
from ingest.formats.native import parse_native
from ingest.formats.trajectories import message_list, parse_messages, parse_trace_data
from ingest.formats.values import nonblank
from traceview.classify.metrics import OTHER, UNLABELLED
from traceview.core.trace import CATEGORIES, InvocationData

FORMATS = ("who-and-when", "agentrx", "bioagent", "labelled-jsonl", "recorded")
RECORDED_SPLITS = ("tuning", "holdout")
WIRE_FORMATS = ("native", "otlp-json", "openai-agents", "langfuse", "swe-agent", "openhands",
                "messages")

# AgentRx's taxonomy onto ours, by ../shared/CLASSIFICATION.md (docs/classifier.md, "Dataset
# layouts"): a tool category only where a tool failed or rejected the call; the agent's own wrong
# decision (skipping a policy step it still had, inventing or misreading a result, pursuing the
# wrong goal, asking of a tool what none can do) is planning; context is the window, which
# AgentRx does not label. Keys are labels as `agentrx_label_key` spells them, so "Intent-Plan
# Misalignment", "Instruction/Plan Adherence Failure" and the tau-bench part's "Instruction
# Adherence Failure" all find theirs. Anything else (underspecified user intent, inconclusive)
# is other.
AGENTRX_CATEGORIES = {
    "invalid invocation": "tool",  # arguments rejected: a tool failure (rule 3)
    "system failure": "tool",  # an endpoint down or timing out: the tool's own error (rule 3)
    "guardrails triggered": "tool",  # a CAPTCHA, 403 or login wall answering the call (rule 3)
    "misinterpretation of tool output": "planning",  # a result the trace does not support
    "misinterpretation of tool output handoff failure": "planning",
    "invention of new information": "planning",  # a figure no tool returned (rule 4)
    "instruction plan adherence failure": "planning",  # skips a required step (rule 4)
    "instruction adherence failure": "planning",
    "plan adherence failure": "planning",
    "intent plan misalignment": "planning",
    "intent not supported": "planning",  # a tool that cannot do the job (rule 4)
}


def agentrx_label_key(label: str) -> str:
    """An AgentRx category as the mapping spells it: lower case, without a parenthesised note,
    slashes and hyphens as spaces ("Inconclusive (USE SPARINGLY)" -> "inconclusive")."""
    text = re.sub(r"\([^()]*\)", " ", label.lower())
    return " ".join(re.sub(r"[/\-–—_]", " ", text).split())


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


def _index(value: Any) -> int | None:
    """A step index as labels write it: an int or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def who_and_when(path: str | Path) -> list[LabelledTrace]:
    """Both splits of Who&When as published: algorithm-generated (speakers in `name`, flag
    `is_correct`) and hand-crafted (Magentic-One logs: speakers in `role`, flag
    `is_corrected`). Every run in the dataset failed (that is what it labels), whatever its flag
    says, so every run is stored as failed."""
    root = Path(path)
    out = []
    for f in _files(root):
        data = _read_json(f)
        if not isinstance(data, dict) or "history" not in data:
            continue  # LICENSE, SOURCE and other files next to the runs
        where = f.relative_to(root).as_posix() if root.is_dir() else f.name
        inv = _one(parse_messages(data, trace_id=f"who-and-when/{where}"[:128]), str(f))
        inv.status = "error"
        step = _index(data.get("mistake_step"))
        out.append(
            LabelledTrace(
                key=where,
                invocation=inv,
                category=UNLABELLED,
                root_step=f"msg-{step}" if step is not None else None,
                agent=data.get("mistake_agent") or None,
            )
        )
    return out


def _speaking(inv: InvocationData, agent: Any) -> str | None:
    """`agent` when it names a speaker of the run: a single-agent log signs no turns (tau-bench's
    "Assistant" speaks as role assistant), and an agent the trace never names cannot be scored."""
    agent = nonblank(agent)
    return agent if agent and any(s.agent_name == agent for s in inv.steps) else None


# Fields under which a run names itself, for matching AgentRx's `trajectory_id`.
RUN_ID_FIELDS = ("trajectory_id", "task_id", "question_ID", "id")


def _agentrx_runs(folder: Path, skip: set[Path]) -> dict[str, tuple[str, dict]]:
    """Every message-log run under `folder` by each id it can be named by: its id fields, and
    for a file holding one run its file name stem and its path without the suffix."""
    runs: dict[str, tuple[str, dict]] = {}
    for f in _files(folder) if folder.is_dir() else [folder]:
        if f in skip:
            continue
        try:
            data = _read_json(f)
        except FormatError:
            continue
        where = f.relative_to(folder).as_posix() if folder.is_dir() else f.name
        if isinstance(data, dict) and message_list(data) is not None:
            names = [f.stem, where.rsplit(".", 1)[0]]
            records = [(where, data, names)]
        elif isinstance(data, list):
            records = [(f"{where}[{n}]", r, []) for n, r in enumerate(data)
                       if isinstance(r, dict) and message_list(r) is not None]
        else:
            continue  # tool schemas, policies, licences next to the runs
        for run_where, run, names in records:
            ids = [str(run[k]) for k in RUN_ID_FIELDS if run.get(k) is not None] + names
            for run_id in ids:
                runs.setdefault(run_id, (run_where, run))
    return runs


def agentrx(path: str | Path, labels: str | Path | None = None) -> list[LabelledTrace]:
    """AgentRx's ground truth with the runs it labels: its tau-bench part
    (`tau_ground_truth.json` beside `tau_dataset_failed.json`) or its labels of other runs, such
    as the Magentic-One runs of Who&When's hand-crafted split. `path` is a folder (or one file)
    of runs; the ground truth is `labels` when given, else every `*ground_truth*.json` under
    `path`. A record's `trajectory_id` names a run by one of RUN_ID_FIELDS or its file name.
    Its root cause's 1-based `step_number` n is span "msg-<n-1>", its `failed_agent` the agent.
    AgentRx labels failed runs only, so every matched run is stored as failed."""
    folder = Path(path)
    if labels is not None:
        truth_files = [Path(labels)]
    elif folder.is_file() and "ground_truth" in folder.name:
        folder = folder.parent
        truth_files = sorted(folder.rglob("*ground_truth*.json"))
    else:
        search = folder if folder.is_dir() else folder.parent
        truth_files = sorted(search.rglob("*ground_truth*.json"))
    if not truth_files:
        raise FormatError.at(str(folder), "no AgentRx ground truth (*ground_truth*.json) here")
    truth: list[dict] = []
    for f in truth_files:
        data = _read_json(f)
        if isinstance(data, dict):  # {trajectory id: record}
            data = [{**v, "trajectory_id": v.get("trajectory_id") or k}
                    for k, v in data.items() if isinstance(v, dict)]
        if not isinstance(data, list):
            raise FormatError.at(str(f), "expected a list of ground-truth records")
        truth += [g for g in data if isinstance(g, dict)]
    runs = _agentrx_runs(folder, {f.resolve() for f in truth_files} | set(truth_files))
    out = []
    for g in truth:
        trajectory = str(g.get("trajectory_id"))
        found = runs.get(trajectory)
        if found is None:
            continue
        where, run = found
        inv = _one(parse_messages(run, trace_id=f"agentrx/{where}"[:128]), where)
        inv.status = "error"
        root_id = str((g.get("root_cause") or {}).get("failure_id"))
        root = next(
            (f for f in g.get("failures") or [] if isinstance(f, dict)
             and str(f.get("failure_id")) == root_id), None
        )
        if root is None:
            continue
        label = str(root.get("failure_category") or "")
        step = _index(root.get("step_number"))
        out.append(
            LabelledTrace(
                key=f"trajectory {trajectory}",
                invocation=inv,
                category=AGENTRX_CATEGORIES.get(agentrx_label_key(label), OTHER),
                root_step=f"msg-{step - 1}" if step else None,
                agent=_speaking(inv, root.get("failed_agent")),
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
    # The batch of scenarios it belongs to: each batch was written, labelled and split on its
    # own (the first one is "base"), so that its figures can be read apart.
    batch: str = "base"

    @property
    def key(self) -> str:
        return f"{self.split}/{self.scenario}/{self.route}"


def load_recorded(path: str | Path, batches=None) -> list[RecordedCapture]:
    """The recorded corpus at `path`: a folder holding tuning/ and holdout/, or one of them.
    Each split folder has labels.json and `<scenario>/<route>.json.gz` captures. `batches`: only
    the scenarios of these batches (a label's "batch", "base" where it names none)."""
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
            in_batch = label.get("batch", "base")
            if batches is not None and in_batch not in batches:
                continue
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
                    steps=int(resolved.get("steps") or 0), batch=str(in_batch),
                ))
    return out


# Public datasets are split into a part the rules may be tuned on and a part kept untouched
# while tuning, by a seeded digest of each case's key: the same split on every machine and run,
# whatever order the files are read in, and a case stays in its part when others are added.
SPLIT_SEED = "traceview-14"
HOLDOUT_SHARE = 1 / 3


def dataset_part(key: str, seed: str = SPLIT_SEED) -> str:
    """"tuning" or "holdout" (about HOLDOUT_SHARE of the cases) for the case named `key`."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return "holdout" if int.from_bytes(digest[:8], "big") < HOLDOUT_SHARE * 2**64 else "tuning"


def load_labelled(fmt: str, path: str | Path, labels: str | Path | None = None
                  ) -> list[LabelledTrace]:
    """The labelled cases of `path` in format `fmt`; `labels` (agentrx only) names the
    ground-truth file when it is not under `path`."""
    loaders = {
        "who-and-when": who_and_when,
        "agentrx": agentrx,
        "bioagent": bioagent,
        "labelled-jsonl": labelled_jsonl,
    }
    if fmt not in loaders:
        raise FormatError.at("format", "must be one of " + ", ".join(FORMATS))
    if labels is not None:
        if fmt != "agentrx":
            raise FormatError.at("labels", "only the agentrx format takes a labels file")
        return agentrx(path, labels)
    return loaders[fmt](path)
