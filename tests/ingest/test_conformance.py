"""Conformance: every recorded payload in the shared fixtures, through its real endpoint.

HTTP bodies (OTLP protobuf, gzip or not; OpenAI Agents exports; Langfuse batches) are POSTed to the
path, content type and encoding their *.headers.json recorded; files that are not request bodies
(trajectories, ReadableSpan dumps, Langfuse trace exports) go through `import_traces`. Each fixture
has expectations written down from reading it: the steps and their kinds, which steps failed and
under which parent, roots and missing parents, token totals, the invocation status. Split traces
must merge into one invocation each, and a second delivery must change nothing.

The fixtures live outside the repository (TRACEVIEW_FIXTURES, default ../shared/fixtures); the tests
are skipped with a message when they are absent.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import REPO
from traceview.models import ApiKey, Invocation, Project, Step, StepPayload

FIXTURES = Path(os.environ.get("TRACEVIEW_FIXTURES") or REPO / ".." / "shared" / "fixtures")
MISSING = f"conformance fixtures not found at {FIXTURES} (set TRACEVIEW_FIXTURES)"
BODY_SUFFIXES = (".pb", ".pb.gz", ".json")


def fixture_params(paths: list[str]) -> list:
    """pytest params named after the files; one skipped param when the folder is absent."""
    if not FIXTURES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="fixtures-missing")]
    return [pytest.param(p, id=p) for p in paths]


def request_for(payload: str) -> tuple[str, bytes, dict]:
    """(path, body, headers) of a recorded request: its *.headers.json next to the body."""
    body_path = FIXTURES / payload
    stem = payload
    for suffix in BODY_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    recorded_path = FIXTURES / f"{stem}.headers.json"
    if not recorded_path.exists():
        # The OTLP specification's example is a file, not a recorded request: OTLP/JSON.
        return "/v1/traces", body_path.read_bytes(), {"content-type": "application/json"}
    recorded = json.loads(recorded_path.read_text())
    headers = {k.lower(): v for k, v in recorded["headers"].items()}
    return recorded["path"], body_path.read_bytes(), headers


def post_recorded(client, payload: str, key: ApiKey, raw_key: str, *, body: bytes | None = None,
                  content_type: str | None = None, encoding: str | None = None):
    """POST a recorded body to its endpoint with its recorded content type and encoding.

    Langfuse routes get Basic auth with the public:secret pair the Langfuse SDKs send; the others
    the Bearer header the OTLP and OpenAI exporters are configured with.
    """
    path, recorded_body, headers = request_for(payload)
    if path.startswith("/api/public/"):
        pair = base64.b64encode(f"{key.public_key}:{raw_key}".encode()).decode()
        auth = f"Basic {pair}"
    else:
        auth = f"Bearer {raw_key}"
    extra = {"HTTP_AUTHORIZATION": auth}
    encoding = headers.get("content-encoding") if encoding is None else encoding
    if encoding:
        extra["HTTP_CONTENT_ENCODING"] = encoding
    for name in ("user-agent", "openai-beta"):
        if name in headers:
            extra["HTTP_" + name.upper().replace("-", "_")] = headers[name]
    return client.generic(
        "POST", path, recorded_body if body is None else body,
        content_type=content_type or headers["content-type"], **extra,
    )


def _kinds(steps) -> str:
    counts = Counter(s.kind for s in steps)
    return " ".join(k if n == 1 else f"{k}*{n}" for k, n in sorted(counts.items()))


def stored(project) -> dict[str, dict]:
    """Per trace id: what the rows say, in the shape the expectations are written in."""
    out = {}
    for inv in Invocation.objects.filter(project=project):
        steps = list(Step.objects.filter(invocation=inv))
        by_id = {s.span_id: s for s in steps}
        errors = {}
        for s in steps:
            if s.status == "error":
                parent = by_id.get(s.parent_span_id)
                errors[s.span_id] = (
                    s.kind, f"{s.error_type} {s.error_message}", parent.name if parent else None
                )
        out[inv.trace_id] = {
            "status": inv.status,
            "steps": len(steps),
            "kinds": _kinds(steps),
            "tokens": (inv.input_tokens, inv.output_tokens),
            "errors": errors,
            "roots": sorted(s.name for s in steps if not s.parent_span_id),
            "orphans": sum(1 for s in steps if s.parent_span_id and s.parent_span_id not in by_id),
            "counts": (inv.step_count, inv.tool_call_count, inv.error_count),
        }
    return out


def assert_matches(actual: dict[str, dict], expected: dict[str, dict]) -> None:
    """Every expected trace is stored with the expected values; no other trace is.

    An expected error is (kind, a piece of its type or message, the parent step's name); the
    keys an expectation leaves out are not checked.
    """
    assert sorted(actual) == sorted(expected)
    for trace_id, want in expected.items():
        got = actual[trace_id]
        for key, value in want.items():
            if key == "errors":
                assert sorted(got["errors"]) == sorted(value), trace_id
                for span_id, (kind, needle, parent) in value.items():
                    g_kind, g_text, g_parent = got["errors"][span_id]
                    assert (g_kind, g_parent) == (kind, parent), (trace_id, span_id)
                    assert needle in g_text, (trace_id, span_id, g_text)
            else:
                assert got[key] == value, (trace_id, key, got[key])
        steps, tools, errors = got["counts"]
        assert steps == got["steps"] and errors == len(got["errors"]), trace_id
        assert tools == _count(got["kinds"], "tool"), trace_id


def _count(kinds: str, kind: str) -> int:
    for part in kinds.split():
        name, _, n = part.partition("*")
        if name == kind:
            return int(n or 1)
    return 0


def rows(project) -> tuple:
    """Everything stored for a project except bookkeeping that a retry legitimately moves."""
    invocations = sorted(
        Invocation.objects.filter(project=project).values_list(
            "trace_id", "agent__name", "name", "status", "started_at", "ended_at",
            "input_tokens", "output_tokens", "cost_usd", "step_count", "tool_call_count",
            "error_count", "input", "output", "attributes",
        ),
        key=repr,
    )
    steps = sorted(
        Step.objects.filter(invocation__project=project).values_list(
            "invocation__trace_id", "span_id", "parent_span_id", "kind", "name", "started_at",
            "ended_at", "status", "error_type", "error_message", "model", "input_tokens",
            "output_tokens", "cost_usd", "finish_reason", "tool_name", "tool_call_id",
            "agent_name", "seq",
        ),
        key=repr,
    )
    payloads = sorted(
        StepPayload.objects.filter(step__invocation__project=project).values_list(
            "step__invocation__trace_id", "step__span_id", "tool_arguments", "tool_result",
            "input", "output", "error_traceback", "attributes", "events",
        ),
        key=repr,
    )
    return invocations, steps, payloads


# ---------------------------------------------------------------------------------------------
# Expectations, written from reading each fixture (span lists, status codes, usage attributes).

GENAI_WEATHER = "47062a2a7a1382e86bed8f25a11bee98"
GENAI_SUMMARY = "0de76a60602b1784655080b31ca89b49"
OI_WEATHER = "67d57f85072712b308ac87f77d80dd30"
OI_SUMMARY = "ee8fd71a10ea40a9675446525707541c"
AGENTS_WEATHER = "trace_936e22aeac2f4b04bab9002415643d34"
AGENTS_SUMMARY = "trace_82b311c2723043efadf92029e7306c80"
LF_WEATHER = "6e21e1e1-2d2f-4030-8337-d9f15d87923d"
LF_SUMMARY = "f1be578e-f096-462e-9a17-9d8d4cbe4758"
TOOL_FAILED = "Error running tool (non-fatal)"
CONTEXT = "maximum context length is 128000 tokens"

# One request alone: the steps it carries, children whose parents come later, and the status a
# trace has until its root arrives ("running").
PAYLOADS = {
    "otlp-proto-examples/trace.json": {
        # The spec example's span names a parent that is never sent: no root, still running.
        "5b8efff798038103d269b633813fc60c": {
            "status": "running", "steps": 1, "kinds": "other", "tokens": (0, 0), "errors": {},
            "roots": [], "orphans": 1,
        },
    },
    "generated-otlp-genai-semconv/001_otlp_traces.pb": {
        GENAI_WEATHER: {"status": "running", "steps": 5, "tokens": (141, 12), "orphans": 1,
                        "kinds": "agent guardrail handoff llm other", "errors": {}},
    },
    "generated-otlp-genai-semconv/002_otlp_traces.pb": {
        GENAI_WEATHER: {"status": "running", "steps": 5, "tokens": (379, 71), "orphans": 2,
                        "kinds": "llm*2 other tool*2",
                        "errors": {"7ae1bbb1177fab86": ("tool", TOOL_FAILED, "unknown")}},
    },
    "generated-otlp-genai-semconv/003_otlp_traces.pb": {
        GENAI_WEATHER: {"status": "ok", "steps": 4, "tokens": (0, 0), "orphans": 0,
                        "kinds": "agent*2 other*2", "roots": ["weather-workflow"], "errors": {}},
        GENAI_SUMMARY: {"status": "running", "steps": 1, "kinds": "llm", "orphans": 1,
                        "errors": {"947f75825ef01c69": ("llm", CONTEXT, None)}},
    },
    "generated-otlp-genai-semconv/004_otlp_traces.pb": {
        GENAI_SUMMARY: {"status": "ok", "steps": 4, "kinds": "agent*2 other*2", "orphans": 0,
                        "roots": ["summarize-workflow"],
                        "errors": {"7cb162d25a3e2daa": ("agent", CONTEXT, "unknown")}},
    },
    "generated-otlp-openinference/001_otlp_traces.pb.gz": {
        OI_WEATHER: {"status": "running", "steps": 5, "tokens": (141, 12), "orphans": 1,
                     "kinds": "agent guardrail handoff llm other", "errors": {}},
    },
    "generated-otlp-openinference/002_otlp_traces.pb.gz": {
        OI_WEATHER: {"status": "running", "steps": 5, "tokens": (379, 71), "orphans": 2,
                     "kinds": "llm*2 other tool*2",
                     "errors": {"fe3998cf87dd3001": ("tool", TOOL_FAILED, "turn")}},
    },
    "generated-otlp-openinference/003_otlp_traces.pb.gz": {
        OI_WEATHER: {"status": "ok", "steps": 4, "kinds": "agent*2 other*2", "orphans": 0,
                     "roots": ["weather-workflow"], "errors": {}},
        OI_SUMMARY: {"status": "running", "steps": 1, "kinds": "llm", "orphans": 1,
                     "errors": {"4a57890f3754157e": ("llm", CONTEXT, None)}},
    },
    "generated-otlp-openinference/004_otlp_traces.pb.gz": {
        OI_SUMMARY: {"status": "ok", "steps": 4, "kinds": "agent*2 other*2", "orphans": 0,
                     "errors": {"67e7fa526dc9f44c": ("agent", CONTEXT, "Agent workflow")}},
    },
    "generated-otlp-openinference-long/001_otlp_traces.pb.gz": {
        # llm.model_name was evicted by the SDK's 128-attribute limit; the usage survived.
        "c336352d25fa83efeb4e480312e47270": {
            "status": "ok", "steps": 5, "kinds": "agent*2 llm other*2", "tokens": (10, 2),
            "errors": {}, "roots": ["long-history"], "orphans": 0,
        },
    },
    "generated-langfuse-v5-otlp/001_otlp_traces.pb.gz": {
        "07aa1ff2d069aa5d74f38dd3e1c2c1b0": {
            "status": "ok", "steps": 4, "kinds": "agent llm tool*2", "tokens": (167, 44),
            "roots": ["Weather agent"], "orphans": 0,
            "errors": {"e12bb17bde3f9250": ("tool", "ConnectionError: weather service",
                                            "Weather agent")},
        },
    },
    "generated-openai-agents-native/001_openai_agents_ingest.json": {
        AGENTS_WEATHER: {"status": "running", "steps": 5, "tokens": (141, 12), "orphans": 1,
                         "kinds": "agent guardrail handoff llm other", "errors": {}},
    },
    "generated-openai-agents-native/002_openai_agents_ingest.json": {
        # Turn spans repeat their generations' usage; only the generations count.
        AGENTS_WEATHER: {"status": "running", "steps": 6, "tokens": (379, 71), "orphans": 2,
                         "kinds": "llm*2 other*2 tool*2",
                         "errors": {"span_61b5fb84b49e48c5bd6adb1e": ("tool", TOOL_FAILED,
                                                                      "turn")}},
    },
    "generated-openai-agents-native/003_openai_agents_ingest.json": {
        AGENTS_WEATHER: {"status": "ok", "steps": 2, "kinds": "agent other", "roots": ["task"],
                         "orphans": 0, "errors": {}},
        # An agent span that failed fails the run, before its root task span arrives.
        AGENTS_SUMMARY: {"status": "error", "steps": 3, "kinds": "agent llm other", "orphans": 1,
                         "tokens": (0, 0),
                         "errors": {"span_11c190596fc74483809f42de": ("agent", CONTEXT, None),
                                    "span_5c450d1b310e49e1b12e4e30": ("llm", CONTEXT, "turn")}},
    },
    "generated-openai-agents-native/004_openai_agents_ingest.json": {
        AGENTS_SUMMARY: {"status": "ok", "steps": 1, "kinds": "other", "roots": ["task"],
                         "errors": {}},
    },
    "generated-langfuse-v2-ingestion/001_langfuse_ingestion.json": {
        LF_WEATHER: {"status": "running", "steps": 4, "kinds": "llm other tool*2",
                     "tokens": (167, 44), "roots": ["Weather agent"], "orphans": 0,
                     "errors": {"2520137d-db4a-4540-8b60-69e06e341783": (
                         "tool", "ConnectionError: weather service", "Weather agent")}},
    },
    "generated-langfuse-v2-ingestion/002_langfuse_ingestion.json": {
        # An update of the agent span (its end) and an event, a generation, a trace re-sent.
        LF_WEATHER: {"status": "ok", "steps": 3, "kinds": "llm other*2", "tokens": (212, 27),
                     "errors": {}},
        LF_SUMMARY: {"status": "running", "steps": 1, "kinds": "llm", "errors": {}},
    },
    "generated-langfuse-v2-ingestion/003_langfuse_ingestion.json": {
        LF_SUMMARY: {"status": "error", "steps": 1, "kinds": "llm",
                     "errors": {"1ac1fc56-05ab-4d9a-8847-d0cbc8406b82": ("llm", CONTEXT, None)}},
    },
}

# Every request of a folder, in order: one invocation per trace, all parents present.
WEATHER_RUN = {"steps": 14, "kinds": "agent*3 guardrail handoff llm*3 other*4 tool*2",
               "tokens": (520, 83), "roots": ["weather-workflow"], "orphans": 0, "status": "ok"}
MERGED = {
    "generated-otlp-genai-semconv": {
        GENAI_WEATHER: {**WEATHER_RUN,
                        "errors": {"7ae1bbb1177fab86": ("tool", TOOL_FAILED, "unknown")}},
        # The root span says OK: the workflow caught the agent's failure.
        GENAI_SUMMARY: {"status": "ok", "steps": 5, "kinds": "agent*2 llm other*2",
                        "tokens": (0, 0), "roots": ["summarize-workflow"], "orphans": 0,
                        "errors": {"7cb162d25a3e2daa": ("agent", CONTEXT, "unknown"),
                                   "947f75825ef01c69": ("llm", CONTEXT, "unknown")}},
    },
    "generated-otlp-openinference": {
        OI_WEATHER: {**WEATHER_RUN, "errors": {"fe3998cf87dd3001": ("tool", TOOL_FAILED, "turn")}},
        OI_SUMMARY: {"status": "ok", "steps": 5, "kinds": "agent*2 llm other*2",
                     "tokens": (0, 0), "roots": ["summarize-workflow"], "orphans": 0,
                     "errors": {"67e7fa526dc9f44c": ("agent", CONTEXT, "Agent workflow"),
                                "4a57890f3754157e": ("llm", CONTEXT, "turn")}},
    },
    "generated-openai-agents-native": {
        AGENTS_WEATHER: {"status": "ok", "steps": 13, "tokens": (520, 83), "roots": ["task"],
                         "orphans": 0,
                         "kinds": "agent*2 guardrail handoff llm*3 other*4 tool*2",
                         "errors": {"span_61b5fb84b49e48c5bd6adb1e": ("tool", TOOL_FAILED,
                                                                      "turn")}},
        AGENTS_SUMMARY: {"status": "error", "steps": 4, "kinds": "agent llm other*2",
                         "tokens": (0, 0), "roots": ["task"], "orphans": 0,
                         "errors": {"span_11c190596fc74483809f42de": ("agent", CONTEXT, "task"),
                                    "span_5c450d1b310e49e1b12e4e30": ("llm", CONTEXT, "turn")}},
    },
    "generated-langfuse-v2-ingestion": {
        LF_WEATHER: {"status": "ok", "steps": 6, "kinds": "llm*2 other*2 tool*2",
                     "tokens": (379, 71), "roots": ["Weather agent"], "orphans": 0,
                     "errors": {"2520137d-db4a-4540-8b60-69e06e341783": (
                         "tool", "ConnectionError: weather service", "Weather agent")}},
        LF_SUMMARY: {"status": "error", "steps": 1, "kinds": "llm", "tokens": (0, 0),
                     "roots": ["chat gpt-4o-mini"], "orphans": 0,
                     "errors": {"1ac1fc56-05ab-4d9a-8847-d0cbc8406b82": ("llm", CONTEXT, None)}},
    },
}

ANY_AGENT = {"status": "ok", "errors": {}, "roots": ["invoke_agent [any_agent]"]}
# Files that are not request bodies, through import_traces: trace id -> expectations.
IMPORTS = {
    # Decimal ids, spans in end order (root last). Google ADK's inner spans name parents that
    # any-agent did not save.
    "any-agent/GOOGLE_trace.json": {"cdbd7b99cef221c28dd6d03c27d09b4c": {
        **ANY_AGENT, "steps": 7, "kinds": "agent llm*3 tool*3", "tokens": (2251, 86),
        "orphans": 6}},
    "any-agent/LANGCHAIN_trace.json": {"572318454595034fe5076610d6400542": {
        **ANY_AGENT, "steps": 7, "kinds": "agent llm*4 tool*2", "tokens": (1262, 125),
        "orphans": 0}},
    "any-agent/LLAMA_INDEX_trace.json": {"89c41176422c506985d55a0d2d2091db": {
        **ANY_AGENT, "steps": 9, "kinds": "agent llm*5 tool*3", "tokens": (1308, 255),
        "orphans": 0}},
    "any-agent/OPENAI_trace.json": {"4bedea77bb33b9c5f280371eae21ea97": {
        **ANY_AGENT, "steps": 6, "kinds": "agent llm*3 tool*2", "tokens": (1020, 76),
        "orphans": 0}},
    "any-agent/SMOLAGENTS_trace.json": {"9135313a4e40fe254d48742d230ea040": {
        **ANY_AGENT, "steps": 7, "kinds": "agent llm*3 tool*3", "tokens": (2294, 87),
        "orphans": 0}},
    "langfuse-framework-traces/beeai-2025-08-01.trace.json": {
        "096fc09a30ab90d2431778f9ee2b3936": {
            "status": "ok", "steps": 29, "kinds": "agent*18 llm*5 other*3 tool*3",
            "tokens": (5542, 0), "errors": {}, "roots": ["beeai-framework-main"],
            "orphans": 0}},
    "langfuse-framework-traces/claude-agent-2025-12-22.trace.json": {
        "097f1d8982fa909b8cffb14a166ec272": {
            "status": "ok", "steps": 7, "kinds": "llm*4 other tool*2", "tokens": (34, 232),
            "errors": {}, "roots": ["claude.conversation"], "orphans": 0}},
    "langfuse-framework-traces/crewai-2025-07-11.trace.json": {
        "a287bb31e317433610d8827617471140": {
            "status": "ok", "steps": 6, "kinds": "agent llm other*4", "tokens": (190, 164),
            "errors": {}, "roots": ["crewai-index-trace"], "orphans": 0}},
    "langfuse-framework-traces/csharp-agent-with-gemini-2026-03-09.trace.json": {
        # The export lacks the root span: every step hangs under a parent that never arrives.
        "933dba1e9783f89d5d8bb032f041a2de": {
            "status": "running", "steps": 8, "kinds": "llm*3 other*3 tool*2",
            "tokens": (8047, 414), "errors": {}, "roots": [], "orphans": 1}},
    "langfuse-framework-traces/google-adk-2025-08-28.trace.json": {
        "b82a0bdc1994fc5d1c8576ca032543f7": {
            "status": "ok", "steps": 5, "kinds": "agent llm*2 other tool", "tokens": (67, 9),
            "errors": {}, "roots": ["invocation [hello_app]"], "orphans": 0}},
    "langfuse-framework-traces/koog-2025-08-26.trace.json": {
        "dff173a675b759ce1b70e522b27d6846": {
            "status": "ok", "steps": 11, "kinds": "agent*2 llm*2 other*5 tool*2",
            "tokens": (215, 125), "errors": {}, "orphans": 0}},
    "langfuse-framework-traces/langgraph-python-2025-08-22.trace.json": {
        "e1fde3efec57ce8a69bafd3fb928a7eb": {
            "status": "ok", "steps": 9, "kinds": "llm*2 other*7", "tokens": (168, 66),
            "errors": {}, "roots": ["LangGraph"], "orphans": 0}},
    "langfuse-framework-traces/microsoft-agent-2025-12-17.trace.json": {
        "8e419d3288419b5d944270505640e183": {
            "status": "ok", "steps": 4, "kinds": "agent llm*2 tool", "tokens": (293, 106),
            "errors": {}, "orphans": 0}},
    "langfuse-framework-traces/openai-agents-2025-09-30.trace.json": {
        "fee618f96dc31e0ca38b2f7b26eb8b29": {
            "status": "ok", "steps": 5, "kinds": "agent*2 llm*2 tool", "tokens": (140, 44),
            "errors": {}, "roots": ["Agent workflow"], "orphans": 0}},
    "langfuse-framework-traces/pydantic-ai-tools-2025-12-04.trace.json": {
        "7a38edd8123db47ad8dcb8aa4c5e3926": {
            "status": "ok", "steps": 12, "kinds": "agent*3 llm*4 other*2 tool*3",
            "tokens": (1315, 209), "errors": {}, "roots": ["run_joke_generator"],
            "orphans": 0}},
    "langfuse-framework-traces/vercel-aisdk-2025-11-17.trace.json": {
        # Langfuse calls the outer ai.generateText a generation; its usage repeats the
        # doGenerate call's, which alone is counted (62 in, 85 out).
        "df41e597d0a85e0d7a6ae8ebfaa70aa0": {
            "status": "ok", "steps": 3, "kinds": "agent llm tool", "tokens": (62, 85),
            "errors": {}, "roots": ["ai.generateText"], "orphans": 0}},
    "swe-agent/6e44b9__sweagenttestrepo-1c2844.traj.json": {
        "swe-agent-7a194ed02866fc003cd7cb7c97644d9b": {
            "status": "ok", "steps": 10, "kinds": "llm*5 tool*5", "tokens": (7141, 243),
            "errors": {}, "orphans": 0}},
    "swe-agent/marshmallow-1867.function_calling_replace.traj.json": {
        # model_stats reports zero tokens for this run.
        "swe-agent-e5763e95dd101f4d1297311fd1294317": {
            "status": "ok", "steps": 22, "kinds": "llm*11 tool*11", "tokens": (0, 0),
            "errors": {}, "orphans": 0}},
    "swe-agent/pydicom__pydicom-1458.traj.json": {
        "swe-agent-bd732de7bf183612422b27ef5a9e77d6": {
            "status": "ok", "steps": 24, "kinds": "llm*12 tool*12", "tokens": (122612, 1369),
            "errors": {}, "orphans": 0}},
    "openhands/basic.json": {
        "openhands-1651f815876449b3ace4041c7bed60c5": {
            "status": "ok", "steps": 5, "kinds": "llm*2 other tool*2", "tokens": (8132, 1312),
            "errors": {}, "orphans": 0}},
    "openhands/wrong_initial_state.json": {
        "openhands-4b906a7bf3188c48fe3e7573b285c82d": {
            "status": "ok", "steps": 9, "kinds": "llm*4 other tool*4", "tokens": (14828, 358),
            "errors": {}, "orphans": 0}},
    "openhands/multi_swe_bench_output.jsonl": {
        "openhands-5613da7db6f9ab2023fa6bf565f93c90": {
            "status": "ok", "steps": 49, "kinds": "llm*23 other*2 retrieval tool*23",
            "tokens": (565158, 2558), "errors": {}},
        "openhands-6709672319bfc5a5ac071422620d36db": {
            "status": "ok", "steps": 70, "kinds": "llm*33 other*2 retrieval tool*34",
            "tokens": (410169, 5156),
            "errors": {"event-29": ("tool", "Parameter 'command' is expected", None)}},
        # The run hit the iteration limit: a run-level error fails it.
        "openhands-de7146e3ea4dec0b632482f38e7b9023": {
            "status": "error", "steps": 103, "kinds": "llm*49 other*3 retrieval tool*50",
            "tokens": (938015, 5627),
            "errors": {"run-error": ("other", "maximum iteration", None),
                       "event-55": ("tool", "Parameter 'command' is expected", None)}},
    },
    # JS ReadableSpan dumps without parents: each span is its own trace. Only the doGenerate /
    # doStream calls are llm steps with usage; the outer calls are the tool loop or "other".
    "openinference-js-fixtures/vercel-ai-sdk-v6-all-spans.json": {
        "045d21a7f69972edf509fe0ff911f3f5": {"kinds": "other", "tokens": (0, 0)},
        "478d4dcc697ecfabc5e7a3d6e4216291": {"kinds": "llm", "tokens": (15, 112)},
        "673a889f59126f8b4c90dce5a1f99368": {"kinds": "agent", "tokens": (0, 0)},
        "700d5f98fe2420adcf6ab0822f7a323c": {"kinds": "agent", "tokens": (0, 0)},
        "8185b815e471184c6525a601a042be42": {"kinds": "agent", "tokens": (0, 0)},
        "8f60802815d6e97da2dbc4708a8e5c7b": {"kinds": "llm", "tokens": (63, 156)},
        "91621bbaaf1920e94ae594e91b3a99fd": {"kinds": "other", "tokens": (0, 0)},
        "b3e700af9eab81e19f72f964d62a35af": {"kinds": "llm", "tokens": (14, 20)},
        "edff2fc5854be6170e8cccccec0c82cf": {"kinds": "llm", "tokens": (50, 9)},
        "f99cc53c9bb8fe40462f7a48999e7088": {"kinds": "other", "tokens": (0, 0)},
    },
}


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.fixture
def key(project):
    key, raw = ApiKey.issue(project, name="conformance")
    key.raw = raw
    return key


def _post_ok(client, payload: str, key, **kwargs):
    r = post_recorded(client, payload, key, key.raw, **kwargs)
    assert r.status_code in (200, 204, 207), (payload, r.status_code, r.content[:500])
    if r.status_code == 207:
        assert r.json()["errors"] == [], r.json()
    if r.status_code == 200:
        # An ExportTraceServiceResponse without partial_success: nothing was rejected.
        assert r.content in (b"", b"{}"), r.content
    return r


def _folder_payloads(folder: str) -> list[str]:
    return [p for p in PAYLOADS if p.startswith(folder + "/")]


@pytest.mark.parametrize("payload", fixture_params(list(PAYLOADS)))
def test_it_stores_each_recorded_request(client, project, key, payload):
    _post_ok(client, payload, key)
    assert_matches(stored(project), PAYLOADS[payload])


@pytest.mark.parametrize("folder", fixture_params(list(MERGED)))
def test_it_merges_split_traces_and_ignores_a_second_delivery(client, project, key, folder):
    for payload in _folder_payloads(folder):
        _post_ok(client, payload, key)
    assert_matches(stored(project), MERGED[folder])
    before = rows(project)
    for payload in _folder_payloads(folder):
        _post_ok(client, payload, key)
    assert rows(project) == before


@pytest.mark.parametrize("folder", fixture_params(list(MERGED)))
def test_it_merges_split_traces_arriving_in_reverse(client, project, key, folder):
    # Exporters retry and batch independently: the last request may well arrive first.
    for payload in reversed(_folder_payloads(folder)):
        _post_ok(client, payload, key)
    expected = MERGED[folder]
    actual = stored(project)
    assert_matches(actual, expected)


OTLP_PROTOBUF = [p for p in PAYLOADS if p.endswith((".pb", ".pb.gz"))]


@pytest.mark.parametrize("payload", fixture_params(OTLP_PROTOBUF))
def test_it_stores_the_same_rows_from_protobuf_and_its_json_form(client, key, payload):
    # *.decoded.otlp.json is the spec OTLP/JSON form of the same request.
    _post_ok(client, payload, key)
    stem = payload.removesuffix(".gz").removesuffix(".pb")
    other = Project.objects.create(name="json")
    json_key, raw = ApiKey.issue(other)
    json_key.raw = raw
    body = (FIXTURES / f"{stem}.decoded.otlp.json").read_bytes()
    _post_ok(client, payload, json_key, body=body, content_type="application/json", encoding="")
    assert rows(other) == rows(key.project)


@pytest.mark.parametrize("path", fixture_params(list(IMPORTS)))
def test_it_imports_each_trace_file(db, path, capsys):
    call_command("import_traces", str(FIXTURES / path), project="imported")
    first = capsys.readouterr().out
    assert first.startswith(f"imported {FIXTURES / path}: {len(IMPORTS[path])} invocation"), first
    project = Project.objects.get(name="imported")
    assert_matches(stored(project), IMPORTS[path])
    before = rows(project)
    call_command("import_traces", str(FIXTURES / path), project="imported")
    assert rows(project) == before
