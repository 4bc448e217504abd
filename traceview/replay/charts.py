"""Plotly figure dicts for the replay page: the waterfall of a page of steps, and tokens and cost
accumulated over the steps. Pure functions over the outline; the page passes them to
static/traceview/replay.js through json_script.

Plotly reads a few HTML-like tags in any text it draws (labels, hover text), so every string that
came from a trace is HTML-escaped here; plotly then shows it as literal text.
"""

from __future__ import annotations

import html

from traceview.replay.outline import Node, Outline

KIND_COLORS = {
    "agent": "#6366f1", "llm": "#0ea5e9", "tool": "#f97316", "retrieval": "#14b8a6",
    "handoff": "#a855f7", "guardrail": "#64748b", "other": "#94a3b8",
}
ERROR_COLOR = "#c23434"
# The usage chart draws at most this many points, whatever the number of steps.
MAX_USAGE_POINTS = 1500


def _label(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def _step_label(node: Node) -> str:
    label = node.label
    return _label((label and (label.name or label.tool_name)) or node.span_id)


def timeline_figure(outline: Outline, nodes: list[Node]) -> dict:
    """A waterfall of `nodes` (one page of the tree, labels read): a bar per step from its start
    to its end, by kind; failed steps outlined in red. Without timestamps, steps are placed by
    position."""
    timed = bool(nodes) and all(outline.offset_s(n) is not None for n in nodes)
    traces: dict[str, dict] = {}
    span = 0.0
    if timed:
        span = max(outline.offset_s(n) + (n.duration_s or 0) for n in nodes)
    for n in nodes:
        kind = n.row.kind if n.row.kind in KIND_COLORS else "other"
        t = traces.setdefault(kind, {
            "type": "bar", "orientation": "h", "name": kind, "x": [], "base": [], "y": [],
            "customdata": [], "hovertext": [], "hoverinfo": "text",
            "marker": {"color": KIND_COLORS[kind], "line": {"color": [], "width": []}},
        })
        if timed:
            start = outline.offset_s(n)
            width = max(n.duration_s or 0, span * 0.003, 0.0005)
        else:
            start, width = n.index, 1
        t["base"].append(round(start, 6))
        t["x"].append(round(width, 6))
        t["y"].append(n.index)
        t["customdata"].append(n.span_id)
        failed = n.row.status == "error"
        t["marker"]["line"]["color"].append(ERROR_COLOR if failed else KIND_COLORS[kind])
        t["marker"]["line"]["width"].append(2 if failed else 0)
        duration = f"{n.duration_s:.3f} s" if n.duration_s is not None else "no duration"
        t["hovertext"].append(
            f"{_step_label(n)}<br>{html.escape(n.row.kind)} · {html.escape(n.row.status)} · "
            f"{duration}"
        )
    few = len(nodes) <= 40
    return {
        "data": list(traces.values()),
        "layout": {
            "height": max(160, min(420, 50 + 18 * len(nodes))),
            "margin": {"l": 180 if few else 50, "r": 10, "t": 28, "b": 40},
            "barmode": "overlay",
            "bargap": 0.25,
            "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "xaxis": {"title": {"text": "seconds from start" if timed else "step"},
                      "zeroline": False},
            "yaxis": {
                "autorange": "reversed",
                "tickmode": "array" if few else "auto",
                "tickvals": [n.index for n in nodes] if few else None,
                "ticktext": [_step_label(n) for n in nodes] if few else None,
                "showticklabels": True,
            },
        },
    }


def usage_figure(outline: Outline) -> dict:
    """Tokens and cost accumulated step by step in time order, with the agent's budgets."""
    xs, tokens, costs, spans, hover = [], [], [], [], []
    total_tokens, total_cost = 0, 0.0
    count = len(outline.chrono)
    stride = max(1, -(-count // MAX_USAGE_POINTS))
    for n in outline.chrono:
        total_tokens += n.tokens or 0
        total_cost += n.row.cost or 0.0
        if n.chrono % stride and n.chrono != count - 1:
            continue
        xs.append(n.chrono + 1)
        tokens.append(total_tokens)
        costs.append(float(total_cost))
        spans.append(n.span_id)
        hover.append(f"step {n.chrono + 1} ({html.escape(n.row.kind)})<br>{total_tokens:,} "
                     f"tokens · ${float(total_cost):.4f}")
    data = [
        {"type": "scatter", "mode": "lines", "name": "tokens", "x": xs, "y": tokens,
         "customdata": spans, "hovertext": hover, "hoverinfo": "text",
         "line": {"color": "#0ea5e9"}},
        {"type": "scatter", "mode": "lines", "name": "cost", "x": xs, "y": costs,
         "customdata": spans, "hovertext": hover, "hoverinfo": "text", "yaxis": "y2",
         "line": {"color": "#a16207", "dash": "dot"}},
    ]
    shapes = []
    agent = outline.invocation.agent
    if agent and agent.max_tokens:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                       "y0": agent.max_tokens, "y1": agent.max_tokens,
                       "line": {"color": "#0ea5e9", "dash": "dash", "width": 1}})
    if agent and agent.max_cost_usd:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2",
                       "y0": float(agent.max_cost_usd), "y1": float(agent.max_cost_usd),
                       "line": {"color": "#a16207", "dash": "dash", "width": 1}})
    return {
        "data": data,
        "layout": {
            "height": 200,
            "margin": {"l": 60, "r": 60, "t": 28, "b": 40},
            "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "xaxis": {"title": {"text": "step (in time order)"}},
            "yaxis": {"title": {"text": "tokens"}, "rangemode": "tozero"},
            "yaxis2": {"title": {"text": "cost ($)"}, "overlaying": "y", "side": "right",
                       "rangemode": "tozero"},
            "shapes": shapes,
        },
    }
