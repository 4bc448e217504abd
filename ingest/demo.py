"""Demo invocations for `make run`: one success and one failure of each category.

They are written in the native format and go through the same parser and store as any client's
data, so the demo shows the real path, classification by the worker included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.formats.native import parse_native
from traceview.core.trace import InvocationData


def _ts(base: datetime, seconds: float) -> str:
    return (base + timedelta(seconds=seconds)).isoformat()


def _llm(span, parent, base, t0, t1, model, tin, tout, messages, output, **extra):
    return {
        "span_id": span, "parent_span_id": parent, "kind": "llm", "name": f"chat {model}",
        "model": model, "input_tokens": tin, "output_tokens": tout,
        "cost_usd": round(tin * 2.5e-6 + tout * 1e-5, 6), "input": messages, "output": output,
        "started_at": _ts(base, t0), "ended_at": _ts(base, t1), **extra,
    }


def _tool(span, parent, base, t0, t1, name, args, result=None, error=None):
    step = {
        "span_id": span, "parent_span_id": parent, "kind": "tool", "name": name,
        "tool": {"name": name, "arguments": args, "result": result},
        "started_at": _ts(base, t0), "ended_at": _ts(base, t1),
    }
    if error:
        step["error"] = error
    return step


def demo_bodies(now: datetime | None = None) -> dict:
    now = now or datetime.now(tz=UTC)
    invocations = []

    base = now - timedelta(minutes=50)
    q = [{"role": "system", "content": "You answer weather questions."},
         {"role": "user", "content": "Weather in Paris?"}]
    invocations.append({
        "trace_id": "demo-success", "agent": "weather-bot", "agent_version": "1.2.0",
        "name": "Weather in Paris", "status": "ok", "input": "Weather in Paris?",
        "output": "It is 18°C and sunny in Paris.",
        "started_at": _ts(base, 0), "ended_at": _ts(base, 4.2),
        "steps": [
            {"span_id": "root", "kind": "agent", "name": "weather-bot",
             "started_at": _ts(base, 0), "ended_at": _ts(base, 4.2)},
            _llm("llm-1", "root", base, 0.1, 1.4, "gpt-4o-mini", 182, 24, q,
                 {"role": "assistant", "tool_calls": [
                     {"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
                 finish_reason="tool_calls"),
            _tool("tool-1", "root", base, 1.5, 2.1, "get_weather", {"city": "Paris"},
                  {"temp_c": 18, "sky": "sunny"}),
            _llm("llm-2", "root", base, 2.2, 4.1, "gpt-4o-mini", 240, 16,
                 q + [{"role": "tool", "content": '{"temp_c": 18, "sky": "sunny"}'}],
                 {"role": "assistant", "content": "It is 18°C and sunny in Paris."},
                 finish_reason="stop"),
        ],
    })

    base = now - timedelta(minutes=40)
    q = [{"role": "system", "content": "You are a support agent."},
         {"role": "user", "content": "Where is order 4411?"}]
    invocations.append({
        "trace_id": "demo-tool-failure", "agent": "support-bot", "agent_version": "2.0.1",
        "name": "Where is order 4411?", "status": "error",
        "started_at": _ts(base, 0), "ended_at": _ts(base, 9.8),
        "steps": [
            {"span_id": "root", "kind": "agent", "name": "support-bot",
             "started_at": _ts(base, 0), "ended_at": _ts(base, 9.8), "status": "error"},
            _llm("llm-1", "root", base, 0.1, 1.2, "gpt-4o", 410, 30, q,
                 {"role": "assistant", "tool_calls": [
                     {"id": "c1", "name": "lookup_order", "arguments": {"order_id": 4411}}]},
                 finish_reason="tool_calls"),
            _tool("tool-lookup", "root", base, 1.3, 8.3, "lookup_order", {"order_id": 4411},
                  error={"type": "HTTPError", "message": "503 Service Unavailable: orders-api",
                         "traceback": "Traceback (most recent call last):\n  ...\n"
                                      "requests.exceptions.HTTPError: 503 Service Unavailable"}),
            _llm("llm-2", "root", base, 8.4, 9.7, "gpt-4o", 520, 40,
                 q + [{"role": "tool", "content": "Error: 503 Service Unavailable"}],
                 {"role": "assistant", "content": "Sorry, I can't look up your order right now."},
                 finish_reason="stop"),
        ],
    })

    base = now - timedelta(minutes=30)
    steps = [{"span_id": "root", "kind": "agent", "name": "research-agent",
              "started_at": _ts(base, 0), "ended_at": _ts(base, 31), "status": "error",
              "error": {"type": "MaxTurnsExceeded", "message": "Max turns (6) exceeded"}}]
    topics = ["solar", "wind", "hydro", "nuclear", "geothermal", "tidal"]
    for i, topic in enumerate(topics):
        t = 1 + i * 5
        steps.append(_llm(f"llm-{i + 1}", "root", base, t, t + 2, "gpt-4o", 900 + 350 * i, 60,
                          [{"role": "user", "content": "Compare renewable energy sources."}],
                          {"role": "assistant", "tool_calls": [
                              {"id": f"c{i}", "name": "web_search",
                               "arguments": {"query": f"{topic} capacity factor"}}]}))
        steps.append(_tool(f"search-{i + 1}", "root", base, t + 2.1, t + 4, "web_search",
                           {"query": f"{topic} capacity factor"}, f"Results about {topic} ..."))
    invocations.append({
        "trace_id": "demo-budget-failure", "agent": "research-agent", "agent_version": "0.9.0",
        "name": "Compare renewable energy sources", "status": "error",
        "started_at": _ts(base, 0), "ended_at": _ts(base, 31), "steps": steps,
    })

    base = now - timedelta(minutes=20)
    invocations.append({
        "trace_id": "demo-context-failure", "agent": "summarizer", "agent_version": "3.1.0",
        "name": "Summarize the contract", "status": "error",
        "started_at": _ts(base, 0), "ended_at": _ts(base, 3),
        "steps": [
            {"span_id": "root", "kind": "agent", "name": "summarizer",
             "started_at": _ts(base, 0), "ended_at": _ts(base, 3), "status": "error"},
            _tool("fetch-doc", "root", base, 0.1, 1.0, "fetch_document", {"doc_id": "contract-7"},
                  "(412 pages of contract text)"),
            {"span_id": "llm-1", "parent_span_id": "root", "kind": "llm",
             "name": "chat gpt-4o", "model": "gpt-4o", "started_at": _ts(base, 1.1),
             "ended_at": _ts(base, 2.9), "status": "error",
             "error": {"type": "BadRequestError",
                       "message": "Error code: 400 - This model's maximum context length is "
                                  "128000 tokens. However, your messages resulted in 391220 "
                                  "tokens. (code: context_length_exceeded)"}},
        ],
    })

    base = now - timedelta(minutes=10)
    steps = [{"span_id": "root", "kind": "agent", "name": "coder-agent",
              "started_at": _ts(base, 0), "ended_at": _ts(base, 22), "status": "error"}]
    for i in range(4):
        t = 1 + i * 5
        steps.append(_llm(f"llm-{i + 1}", "root", base, t, t + 2, "claude-sonnet-4", 1200 + i * 300,
                          45, [{"role": "user", "content": "Find where the retry bug is."}],
                          {"role": "assistant", "tool_calls": [
                              {"id": f"c{i}", "name": "search_code",
                               "arguments": {"pattern": "retry"}}]}))
        steps.append(_tool(f"search-{i + 1}", "root", base, t + 2.1, t + 2.5, "search_code",
                           {"pattern": "retry"}, "src/client.py:88: def retry(...)"))
    steps.append(_llm("llm-final", "root", base, 21, 22, "claude-sonnet-4", 2500, 30,
                      [{"role": "user", "content": "Find where the retry bug is."}],
                      {"role": "assistant", "content": "I could not find the bug."}))
    invocations.append({
        "trace_id": "demo-planning-failure", "agent": "coder-agent", "agent_version": "0.3.0",
        "name": "Find the retry bug", "status": "error",
        "started_at": _ts(base, 0), "ended_at": _ts(base, 22), "steps": steps,
    })
    return {"invocations": invocations}


def demo_invocations(now: datetime | None = None) -> list[InvocationData]:
    return parse_native(demo_bodies(now))
