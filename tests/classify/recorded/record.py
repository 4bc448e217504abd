"""Record the corpus: every scenario through its routes, captured as each exporter sends it.

    .venv/bin/python -m tests.classify.recorded.record [--only KEY ...] [--routes R ...]

Needs the `corpus` extra (`pip install -e ".[dev,corpus]"`). Starts the scripted model stub and
the capture server on free ports, runs each scenario of every batch (`BATCHES`: the
modules of tuning/ and holdout/ that hold them) in each of its routes (routes.py), and writes into
the scenario's split folder:

- `<split>/<scenario>/<route>.json.gz`: the requests as captured (method, path, the headers that
  describe the body, the body bytes in base64) in the order they are to be replayed, and what
  the run did (its error, the stub's log of model requests);
- `<split>/labels.json`: per scenario the label (category, logical root, the rule that gives it)
  and, per route, the span id the logical root resolves to in that capture.

Every other scenario's OTLP requests are replayed in a seeded shuffled order (as retries and
parallel exporters deliver them); the Agents SDK export and the rest keep their arrival order,
which is already children before parents. The split (`split_of`) is fixed and seeded:
stratified by category, a third of each category in holdout/, drawn for each batch of
scenarios apart (`splits_by_batch`), so that a new batch gets its own third and leaves the
earlier batches' assignment as it was. Nothing here reads the rules.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("tuning", "holdout")
SEED = 14
# Batch -> the module of tuning/ and of holdout/ holding its scenarios. "base": the first batch.
# Every batch is recorded whole, its own third of each category in holdout (`splits_by_batch`).
BATCHES = {"base": "scenarios", "blind-1": "blind1", "blind-2": "blind2", "blind-3": "blind3",
           "blind-4": "blind4"}


def scenarios_by_split() -> dict[str, dict[str, list]]:
    """Split -> batch -> its scenarios."""
    import importlib

    out: dict[str, dict[str, list]] = {}
    for split in SPLITS:
        out[split] = {}
        for batch, module in BATCHES.items():
            scenarios = importlib.import_module(f"{__package__}.{split}.{module}").SCENARIOS
            wrong = [s.key for s in scenarios if s.batch != batch]
            if wrong:
                raise SystemExit(f"{split}/{module}.py holds scenarios of another batch: {wrong}")
            out[split][batch] = scenarios
    return out


def split_of(categories: dict[str, str | None], seed: int = SEED) -> dict[str, str]:
    """Scenario key -> split: per category, a seeded third (rounded) to holdout."""
    out = {}
    by_category: dict[str, list[str]] = {}
    for key, category in categories.items():
        by_category.setdefault(category or "none", []).append(key)
    for category in sorted(by_category):
        keys = sorted(by_category[category])
        random.Random(f"{seed}/{category}").shuffle(keys)
        cut = round(len(keys) / 3)
        out.update({k: "holdout" for k in keys[:cut]})
        out.update({k: "tuning" for k in keys[cut:]})
    return out


def splits_by_batch(labels: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """Scenario key -> split, for keys labelled (batch, category): `split_of` drawn over each
    batch's keys alone, so that adding a batch does not move any earlier scenario."""
    batches: dict[str, dict[str, str | None]] = {}
    for key, (batch, category) in labels.items():
        batches.setdefault(batch, {})[key] = category
    return {key: split for keys in batches.values() for key, split in split_of(keys).items()}


# --- reading a capture back ------------------------------------------------------------------


def capture_bodies(requests: list[dict]):
    """(path, content type, decompressed body) of each request."""
    for r in requests:
        body = base64.b64decode(r["body_base64"])
        if r["headers"].get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        yield r["path"], r["headers"].get("content-type", ""), body


def capture_steps(requests: list[dict]) -> list:
    """The run's steps as the ingest parsers read them, merged over the requests."""
    from ingest.formats.openai_agents import parse_openai_agents
    from ingest.formats.otlp import otlp_to_invocations

    steps = {}
    for path, content_type, body in capture_bodies(requests):
        if path.endswith("/v1/traces/ingest"):
            invocations = parse_openai_agents(json.loads(body))
        else:
            invocations, _, _ = otlp_to_invocations(body, content_type)
        for inv in invocations:
            for s in inv.steps:
                steps[s.span_id] = s
    return sorted(steps.values(), key=lambda s: (s.started_at is None, s.started_at, s.seq or 0))


def _depth(step, by_id) -> int:
    depth = 0
    while step.parent_span_id in by_id and depth < 100:
        step, depth = by_id[step.parent_span_id], depth + 1
    return depth


LIMIT_WORDS = ("max turns", "maxturnsexceeded", "request_limit", "total_tokens_limit",
               "recursion limit", "graphrecursionerror", "usagelimitexceeded")


def resolve_root(root: dict | None, steps: list) -> str | None:
    """The span id that the logical root names in these steps (None: the label has no root)."""
    if root is None:
        return None
    kind = root["kind"]
    if kind == "llm":
        calls = [s for s in steps if s.kind == "llm"]
        return calls[root["ordinal"] - 1].span_id
    if kind == "tool":
        calls = [s for s in steps if s.kind in ("tool", "retrieval")
                 and root["name"] in (s.tool_name, s.name)]
        if not calls and "else" in root:
            # The framework emitted no span for the call (it refused it before running it).
            return resolve_root(root["else"], steps)
        return calls[root["ordinal"] - 1].span_id
    if kind == "handoff":
        handoffs = [s for s in steps if "transfer_to" in f"{s.name} {s.tool_name}"
                    or (s.kind == "handoff")]
        return handoffs[root["ordinal"] - 1].span_id
    if kind == "limit":
        # The deepest step carrying the limit error, else the last model call before the end.
        by_id = {s.span_id: s for s in steps}
        carrying = [s for s in steps if s.status == "error" and any(
            w in f"{s.error_type} {s.error_message}".lower() for w in LIMIT_WORDS)]
        if carrying:
            return max(carrying, key=lambda s: _depth(s, by_id)).span_id
        return [s for s in steps if s.kind == "llm"][-1].span_id
    raise ValueError(f"unknown root kind {kind!r}")


# --- recording -----------------------------------------------------------------------------


def _encode(captured: list, shuffle: random.Random | None) -> list[dict]:
    requests = [{"method": c.method, "path": c.path, "headers": c.headers,
                 "body_base64": base64.b64encode(c.body).decode()} for c in captured]
    if shuffle is not None:
        shuffle.shuffle(requests)
    return requests


def check(scenario, route: str, outcome: dict, steps: list) -> list[str]:
    """What makes a recording unusable: the model stub's script ran out, or the stored run does
    not have one model step per model request."""
    problems = []
    if outcome["script_overrun"]:
        problems.append("the run asked the model more often than its script has turns")
    requests = len(outcome["llm_requests"]) + sum(len(r) for r in outcome["subruns"])
    llm_steps = sum(s.kind == "llm" for s in steps)
    if llm_steps != requests:
        problems.append(f"{llm_steps} llm steps for {requests} model requests")
    return problems


def record(only: set[str] | None, routes: set[str] | None) -> int:
    from .routes import ROUTE_CLASSES
    from .servers import CaptureServer, ModelStub

    by_split = scenarios_by_split()
    every = [s for batches in by_split.values() for sc in batches.values() for s in sc]
    if len({s.key for s in every}) != len(every):
        raise SystemExit("scenario keys must be unique")
    expected_split = splits_by_batch({s.key: (s.batch, s.category) for s in every})
    for split, batches in by_split.items():
        for s in (s for scenarios in batches.values() for s in scenarios):
            if expected_split[s.key] != split and not os.environ.get("RECORD_ANY_SPLIT"):
                raise SystemExit(f"{s.key} belongs in {expected_split[s.key]}/ (seeded split)")
    failures = 0
    with ModelStub() as stub, CaptureServer() as capture:
        for split, batches in by_split.items():
            labels_path = HERE / split / "labels.json"
            labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
            # n alternates each recording's options (gzip, shuffled order, where budgets are
            # declared), counted within a batch so that a new batch changes no earlier one's.
            ordered = [(n, s) for scenarios in batches.values()
                       for n, s in enumerate(sorted(scenarios, key=lambda s: s.key))]
            for n, scenario in ordered:
                if only and scenario.key not in only:
                    continue
                label = {**scenario.label(), "routes": {}}
                old = labels.get(scenario.key, {}).get("routes", {})
                for route_name in scenario.routes:
                    if routes and route_name not in routes:
                        if route_name in old:
                            label["routes"][route_name] = old[route_name]
                        continue
                    with ROUTE_CLASSES[route_name](capture, stub) as route:
                        outcome = route.run(scenario, n)
                    captured = [c for c in capture.take() if "traces" in c.path]
                    shuffle = (random.Random(f"{SEED}/{scenario.key}/{route_name}")
                               if n % 2 and route_name != "openai-agents" else None)
                    requests = _encode(captured, shuffle)
                    steps = capture_steps(requests)
                    problems = check(scenario, route_name, outcome, steps)
                    try:
                        root_id = resolve_root(scenario.root, steps)
                    except (IndexError, KeyError) as exc:
                        problems.append(f"root {scenario.root} not found: {exc!r}")
                        root_id = None
                    status = "ok" if not problems else "PROBLEM " + "; ".join(problems)
                    print(f"{split}/{scenario.key} {route_name}: {len(requests)} requests, "
                          f"{len(steps)} steps, root {root_id}, run error "
                          f"{outcome['error']!r}: {status}", flush=True)
                    failures += bool(problems)
                    folder = HERE / split / scenario.key
                    folder.mkdir(parents=True, exist_ok=True)
                    data = {"scenario": scenario.key, "route": route_name,
                            "shuffled": shuffle is not None, "requests": requests,
                            "run": outcome}
                    (folder / f"{route_name}.json.gz").write_bytes(
                        gzip.compress(json.dumps(data, indent=1).encode(), mtime=0))
                    label["routes"][route_name] = {"root_span_id": root_id,
                                                   "steps": len(steps)}
                labels[scenario.key] = label
            labels_path.parent.mkdir(parents=True, exist_ok=True)
            labels_path.write_text(json.dumps(dict(sorted(labels.items())), indent=1) + "\n")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenario keys to record again")
    parser.add_argument("--routes", nargs="*", help="routes to record again")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceview.settings")
    import logging

    import django

    django.setup()
    for name in ("httpx", "openai", "agents", "langfuse"):
        logging.getLogger(name).setLevel(logging.WARNING)
    failures = record(set(args.only or ()) or None, set(args.routes or ()) or None)
    print(f"{failures} recordings with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
