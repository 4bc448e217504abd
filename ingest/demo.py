"""Demo data for `make run`: a week of five agents' runs (every failure category, successes
that recovered from an error, scope violations, a session, a pair worth diffing, a regression),
one 20,000-step run, and the first demo's one failure of each category.

They are written in the native format and go through the same parser and store as any client's
data (setup_dev), so the demo shows the real path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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


# --- A week of runs (make run's demo) --------------------------------------------------------

# name -> (category, versions, budgets, allowed tools, tools needing a confirmation)
DEMO_AGENTS = {
    "weather-bot": ("workflow", ("1.2.0", "1.3.0"), {"max_steps": 10, "max_cost_usd": "0.05"},
                    ["get_weather", "geocode"], []),
    "support-bot": ("bounded", ("2.0.0", "2.0.1"), {"max_steps": 15, "max_tokens": 20000},
                    ["lookup_order", "search_kb", "refund_order"], ["refund_order"]),
    "research-agent": ("open", ("0.9.0", "1.0.0"), {"max_steps": 12, "max_duration_s": 120},
                       ["web_search", "fetch_page"], []),
    "summarizer": ("bounded", ("3.0.0", "3.1.0"), {"max_tokens": 150000},
                   ["fetch_document"], []),
    "coder-agent": ("open", ("0.3.0", "0.4.0"), {"max_steps": 40, "max_cost_usd": "1.00"},
                    ["search_code", "read_file", "run_tests"], []),
}


def _run(trace_id, agent, version, name, base, steps, status, **extra):
    end = max((s["ended_at"] for s in steps), default=_ts(base, 1))
    root = {"span_id": "root", "kind": "agent", "name": agent, "started_at": _ts(base, 0),
            "ended_at": end, "status": status}
    return {"trace_id": trace_id, "agent": agent, "agent_version": version, "name": name,
            "status": status, "started_at": _ts(base, 0), "ended_at": end,
            "steps": [root, *steps], **extra}


def _ask(span, base, t, model, question, call=None, answer=None, tin=400, tout=40):
    output = ({"role": "assistant", "tool_calls": [call]} if call
              else {"role": "assistant", "content": answer or "Done."})
    return _llm(span, "root", base, t, t + 1, model, tin, tout,
                [{"role": "user", "content": question}], output,
                finish_reason="tool_calls" if call else "stop")


def _weather(i, base, version, recovered=False, failed=False):
    city = ("Paris", "Lyon", "Oslo", "Lima", "Kyiv", "Pune", "Cork")[i % 7]
    q = f"Weather in {city}?"
    steps = [_ask("llm-1", base, 0.1, "gpt-4o-mini", q,
                  {"id": "c1", "name": "get_weather", "arguments": {"city": city}})]
    t = 1.2
    if recovered or failed:
        steps.append(_tool("tool-0", "root", base, t, t + 2, "get_weather", {"city": city},
                           error={"type": "HTTPError", "message": "503 Service Unavailable"}))
        t += 2.1
    if not failed:
        steps.append(_tool("tool-1", "root", base, t, t + 0.6, "get_weather", {"city": city},
                           {"temp_c": 10 + i % 15, "sky": "clear"}))
        steps.append(_ask("llm-2", base, t + 0.7, "gpt-4o-mini", q,
                          answer=f"It is {10 + i % 15}°C and clear in {city}."))
    else:
        steps.append(_ask("llm-2", base, t, "gpt-4o-mini", q,
                          answer="It is sunny everywhere today."))
    return q, steps, "error" if failed else "ok"


def _support(i, base, version, kind="ok"):
    order = 4400 + i
    q = f"Where is order {order}?"
    steps = [_ask("llm-1", base, 0.1, "gpt-4o", q,
                  {"id": "c1", "name": "lookup_order", "arguments": {"order_id": order}})]
    if kind == "tool":
        steps.append(_tool("tool-1", "root", base, 1.2, 6, "lookup_order", {"order_id": order},
                           error={"type": "HTTPError",
                                  "message": "503 Service Unavailable: orders-api"}))
        steps.append(_ask("llm-2", base, 6.1, "gpt-4o", q,
                          answer="Sorry, I can't look up your order right now."))
        return q, steps, "error"
    steps.append(_tool("tool-1", "root", base, 1.2, 1.8, "lookup_order", {"order_id": order},
                       {"status": "shipped", "eta": "2 days"}))
    if kind == "unconfirmed":
        # A refund made with no human approval in the trace: a scope violation.
        steps.append(_tool("tool-2", "root", base, 1.9, 2.4, "refund_order",
                           {"order_id": order, "amount": 49.0}, {"refunded": True}))
    if kind == "not_allowed":
        steps.append(_tool("tool-2", "root", base, 1.9, 2.4, "delete_customer",
                           {"customer_id": 77}, {"deleted": True}))
    steps.append(_ask("llm-2", base, 2.5, "gpt-4o", q, answer="Your order ships in 2 days."))
    return q, steps, "ok"


def _research(i, base, version, over_budget=False):
    q = ("Compare renewable energy sources", "Summarise battery chemistries",
         "History of the transistor")[i % 3]
    steps, t = [], 0.1
    for k in range(16 if over_budget else 3):
        steps.append(_ask(f"llm-{k}", base, t, "gpt-4o", q,
                          {"id": f"c{k}", "name": "web_search",
                           "arguments": {"query": f"{q} part {k}"}}, tin=900 + 200 * k))
        steps.append(_tool(f"search-{k}", "root", base, t + 1.1, t + 2, "web_search",
                           {"query": f"{q} part {k}"}, f"Results about {q} ({k})"))
        t += 2.2
    steps.append(_ask("llm-final", base, t, "gpt-4o", q, answer=f"A summary of {q.lower()}."))
    return q, steps, "error" if over_budget else "ok"


def _summarize(i, base, version, overflow=False):
    q = f"Summarise contract {i}"
    steps = [_tool("fetch", "root", base, 0.1, 1, "fetch_document", {"doc_id": f"contract-{i}"},
                   "(412 pages of contract text)" if overflow else "(3 pages of text)")]
    if overflow:
        steps.append({"span_id": "llm-1", "parent_span_id": "root", "kind": "llm",
                      "name": "chat gpt-4o", "model": "gpt-4o", "started_at": _ts(base, 1.1),
                      "ended_at": _ts(base, 2.9), "status": "error",
                      "error": {"type": "BadRequestError",
                                "message": "This model's maximum context length is 128000 "
                                           "tokens. However, your messages resulted in 391220 "
                                           "tokens. (code: context_length_exceeded)"}})
        return q, steps, "error"
    steps.append(_ask("llm-1", base, 1.1, "gpt-4o", q, answer="The contract renews yearly."))
    return q, steps, "ok"


def _coder(i, base, version, loops=False):
    q = "Find where the retry bug is"
    steps, t = [], 0.1
    for k in range(5 if loops else 2):
        steps.append(_ask(f"llm-{k}", base, t, "claude-sonnet-4", q,
                          {"id": f"c{k}", "name": "search_code",
                           "arguments": {"pattern": "retry"}}, tin=1200 + 300 * k))
        steps.append(_tool(f"search-{k}", "root", base, t + 1.1, t + 1.5, "search_code",
                           {"pattern": "retry"}, "src/client.py:88: def retry(...)"))
        t += 2
    steps.append(_ask("llm-final", base, t, "claude-sonnet-4", q,
                      answer="I could not find the bug." if loops
                      else "The bug is in src/client.py:88: the retry count is never reset."))
    return q, steps, "error" if loops else "ok"


def demo_week(now: datetime | None = None) -> dict:
    """A week of runs of five agents, each version in turn, with failures of every kind, runs
    that recovered from an error, scope violations, a session of four turns and a pair of runs
    worth diffing, in the native format."""
    now = now or datetime.now(tz=UTC)
    runs = []
    for day in range(7, 0, -1):
        for slot in range(3):
            base = now - timedelta(days=day, hours=slot * 5 + 1)
            n = day * 3 + slot
            v = 1 if day <= 3 else 0  # the newer version for the last three days
            for agent, (_, versions, *_rest) in DEMO_AGENTS.items():
                version = versions[v]
                if agent == "weather-bot":
                    q, steps, status = _weather(n, base, version, recovered=slot == 1,
                                                failed=slot == 2 and day % 2 == 0)
                elif agent == "support-bot":
                    kind = ("tool" if slot == 2 and v == 1 else
                            "unconfirmed" if n % 7 == 3 else
                            "not_allowed" if n % 11 == 5 else "ok")
                    q, steps, status = _support(n, base, version, kind)
                elif agent == "research-agent":
                    q, steps, status = _research(n, base, version, over_budget=slot == 0)
                elif agent == "summarizer":
                    q, steps, status = _summarize(n, base, version, overflow=slot == 1 and v)
                else:
                    q, steps, status = _coder(n, base, version, loops=slot == 2)
                runs.append(_run(f"demo-{agent}-{n}", agent, version, q, base, steps, status))
    # A conversation of four turns, the third failing.
    for turn in range(4):
        base = now - timedelta(hours=3, minutes=-turn * 2)
        q, steps, status = _weather(turn, base, "1.3.0", failed=turn == 2)
        runs.append(_run(f"demo-chat-{turn}", "weather-bot", "1.3.0", q, base, steps, status,
                         input=q, attributes={"session_id": "demo-conversation-1"},
                         output=steps[-1]["output"]["content"]))
    # The same question, answered by 2.0.0 and failed by 2.0.1 (demo-tool-failure): a pair to
    # diff from the failed run's page.
    q, steps, status = _support(11, now - timedelta(minutes=45), "2.0.0")
    runs.append(_run("demo-success-4411", "support-bot", "2.0.0", "Where is order 4411?",
                     now - timedelta(minutes=45), steps, status))
    return {"invocations": runs}


def demo_long_run(now: datetime | None = None, steps: int = 20_000) -> list[dict]:
    """One research run of `steps` steps (a plan, then search and fetch over and over, one fetch
    timing out), as the requests an exporter would send: at most 10,000 steps each."""
    now = now or datetime.now(tz=UTC)
    base = now - timedelta(hours=2)
    spans = [_llm("plan", "root", base, 0.1, 1, "gpt-4o", 800, 60,
                  [{"role": "user", "content": "Crawl the docs site"}],
                  {"role": "assistant", "content": "I will search and fetch each page."})]
    for k in range((steps - 3) // 2):
        t = 1 + k * 0.02
        spans.append(_tool(f"search-{k}", "root", base, t, t + 0.008, "web_search",
                           {"query": f"docs page {k}"}, f"https://docs.example/p/{k}"))
        failed = k == (steps // 3)
        spans.append(_tool(f"fetch-{k}", "root", base, t + 0.01, t + 0.018, "fetch_page",
                           {"url": f"https://docs.example/p/{k}"},
                           None if failed else f"page {k}",
                           error={"type": "TimeoutError", "message": "read timed out"}
                           if failed else None))
    end = 1 + (steps // 2) * 0.02 + 1
    spans.append(_llm("answer", "root", base, end - 1, end, "gpt-4o", 1500, 200,
                      [{"role": "user", "content": "Crawl the docs site"}],
                      {"role": "assistant", "content": "Crawled the site."}))
    root = {"span_id": "root", "kind": "agent", "name": "research-agent",
            "started_at": _ts(base, 0), "ended_at": _ts(base, end), "status": "error"}
    head = {"trace_id": "demo-20k-steps", "agent": "research-agent", "agent_version": "1.0.0",
            "name": "Crawl the docs site"}
    chunk = 9_999
    parts = [spans[i:i + chunk] for i in range(0, len(spans), chunk)]
    bodies = [{"invocations": [{**head, "steps": [root, *parts[0]]}]}]
    bodies += [{"invocations": [{**head, "steps": p}]} for p in parts[1:]]
    bodies[-1]["invocations"][0].update(status="error", started_at=_ts(base, 0),
                                        ended_at=_ts(base, end))
    return bodies


def demo_regression(now: datetime | None = None) -> dict:
    """The order service failing again in a version after the one its issue was resolved in."""
    now = now or datetime.now(tz=UTC)
    base = now - timedelta(minutes=5)
    q, steps, status = _support(99, base, "2.1.0", kind="tool")
    return _run("demo-regression", "support-bot", "2.1.0", q, base, steps, status)
