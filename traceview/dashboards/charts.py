"""Dashboards: aggregate queries over a time range of invocations, and the plotly figures built
from them (plain dicts; static/traceview/dashboards.js draws them).

Every query reads the hourly rollups (dashboards.rollups), not the invocations: a 30-day range
of a million invocations is a few thousand rollup rows. Ranges are whole hours, and what the
charts show is as fresh as the last rollup refresh (a beat task, every
TRACEVIEW_ROLLUP_INTERVAL_S); the page says when that was. A covering index over the raw rows
was tried instead and cost ingest a tenth of its throughput without making 30 days fast.
Every bar or point carries the URL of the invocation list with the filters that select exactly
the invocations it counts (traceview/replay/filters.py names), which the page opens on click.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import F, Max, Min, QuerySet, Sum
from django.db.models.functions import TruncDay
from django.urls import reverse

from traceview.core.models import Agent
from traceview.core.trace import CATEGORIES
from traceview.dashboards.models import InvocationRollup, IssueRollup, LatencyRollup, ToolRollup
from traceview.dashboards.rollups import histogram_percentile
from traceview.replay.filters import outcome_filters
from traceview.triage.models import Issue

RANGES = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}
DEFAULT_RANGE = "7d"
CATEGORY_COLORS = {"planning": "#7c3aed", "tool": "#c2410c", "context": "#0e7490",
                   "budget": "#a16207", "error": "#c23434", "ok": "#9bb5a5", "running": "#d9c28f"}


@dataclass
class Scope:
    """What a dashboard shows: projects (already limited to the user's), a half-open time range
    [start, end) and optionally one agent by name."""

    projects: list
    start: datetime
    end: datetime
    agent: str | None = None
    project: int | None = None

    @property
    def hourly(self) -> bool:
        return self.end - self.start <= timedelta(days=2)

    def rollups(self, model) -> QuerySet:
        """The rows of one rollup model within the scope."""
        projects = [p for p in self.projects if self.project in (None, p.pk)]
        qs = model.objects.filter(project__in=projects, hour__gte=self.start, hour__lt=self.end)
        if self.agent:
            qs = qs.filter(agent__name=self.agent)
        return qs

    def list_url(self, start: datetime | None = None, end: datetime | None = None,
                 **filters) -> str:
        """The invocation list showing what a chart element counts."""
        params = {
            "received_after": _local(start or self.start),
            "received_before": _local(end or self.end),
        }
        if self.project:
            params["project"] = self.project
        if self.agent:
            params["agent"] = self.agent
        params.update({k: v for k, v in filters.items() if v not in (None, "")})
        return reverse("invocation-list") + "?" + urlencode(params)


def _local(value: datetime) -> str:
    # The list's datetime-local inputs read times in the server's zone, to the second.
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")


def _bucketed(scope: Scope, rows: QuerySet, *fields: str) -> QuerySet:
    """`rows` grouped by bucket and `fields`. Rollup rows are hours already; longer ranges
    add them up per day."""
    bucket = F("hour") if scope.hourly else TruncDay("hour")
    return rows.annotate(bucket=bucket).values("bucket", *fields)


def _step(scope: Scope) -> timedelta:
    return timedelta(hours=1) if scope.hourly else timedelta(days=1)


def _agent_names(ids) -> dict[int | None, str]:
    names = dict(Agent.objects.filter(id__in=[i for i in ids if i]).values_list("id", "name"))
    names[None] = "(no agent)"
    return names


# --- Queries ---------------------------------------------------------------------------------


def invocations_over_time(scope: Scope) -> list[dict]:
    """Per bucket: invocations by outcome (ok, running, a failure category, or an unclassified
    error)."""
    rows = (
        _bucketed(scope, scope.rollups(InvocationRollup), "status", "category")
        .annotate(n=Sum("invocations")).order_by()
    )
    return sorted(
        ({"bucket": r["bucket"], "outcome": r["category"] or r["status"], "n": r["n"]}
         for r in rows),
        key=lambda r: r["bucket"],
    )


def usage_per_agent(scope: Scope) -> list[dict]:
    """Per bucket and agent: cost and tokens."""
    rows = list(
        _bucketed(scope, scope.rollups(InvocationRollup), "agent_id")
        .annotate(cost=Sum("cost_usd"), unpriced=Sum("unpriced"),
                  input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens")).order_by()
    )
    names = _agent_names({r["agent_id"] for r in rows})
    return sorted(
        ({"bucket": r["bucket"], "agent_id": r["agent_id"],
          "agent": names.get(r["agent_id"], "?"), "cost": float(r["cost"] or 0),
          "unpriced": r["unpriced"] or 0,
          "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"]}
         for r in rows),
        key=lambda r: r["bucket"],
    )


def latency_per_agent(scope: Scope) -> list[dict]:
    """p50, p95 and p99 of invocation durations (seconds) per agent, over finished ones, from
    the hourly duration histograms (within a bucket's width of the exact value, usually far
    closer: see traceview.dashboards.rollups)."""
    by_agent: dict[int | None, dict] = defaultdict(dict)
    for r in (
        scope.rollups(LatencyRollup).values("agent_id", "bucket")
        .annotate(n=Sum("invocations"), lo=Min("shortest_s"), hi=Max("longest_s")).order_by()
    ):
        by_agent[r["agent_id"]][r["bucket"]] = [r["n"], r["lo"], r["hi"]]
    names = _agent_names(set(by_agent))
    out = []
    for agent_id, histogram in by_agent.items():
        out.append({"agent_id": agent_id, "agent": names.get(agent_id, "?"),
                    "n": sum(b[0] for b in histogram.values()),
                    **{f"p{q}": histogram_percentile(histogram, q / 100) for q in (50, 95, 99)}})
    return sorted(out, key=lambda r: r["agent"])


def tool_error_rates(scope: Scope, limit: int = 20) -> list[dict]:
    """Tool calls and failed ones per tool, most failing first."""
    rows = (
        scope.rollups(ToolRollup).values("tool_name")
        .annotate(calls=Sum("calls"), errors=Sum("errors"))
        .order_by("-errors", "-calls", "tool_name")[:limit]
    )
    return [{**r, "tool": r["tool_name"] or "(unnamed)",
             "rate": r["errors"] / r["calls"] if r["calls"] else 0.0} for r in rows]


def budget_breaches(scope: Scope) -> list[dict]:
    """Invocations diagnosed as budget failures, per agent."""
    rows = list(
        scope.rollups(InvocationRollup).filter(category="budget").values("agent_id")
        .annotate(n=Sum("invocations")).order_by("-n")
    )
    names = _agent_names({r["agent_id"] for r in rows})
    return [{**r, "agent": names.get(r["agent_id"], "?")} for r in rows]


def top_issues(scope: Scope, limit: int = 10) -> list[dict]:
    """The issues with the most failures in the range."""
    rows = list(
        scope.rollups(IssueRollup).values("issue_id").annotate(n=Sum("invocations"))
        .order_by("-n", "issue_id")[:limit]
    )
    issues = Issue.objects.in_bulk([r["issue_id"] for r in rows])
    return [{"id": r["issue_id"], "title": issues[r["issue_id"]].title,
             "category": issues[r["issue_id"]].category,
             "status": issues[r["issue_id"]].status, "n": r["n"],
             "url": reverse("issue-detail", args=[r["issue_id"]])}
            for r in rows if r["issue_id"] in issues]


# --- Figures ---------------------------------------------------------------------------------


def chart_layout(title_y: str, **extra) -> dict:
    """The layout every bar chart of the dashboards and the version comparison shares."""
    return {"barmode": "stack", "margin": {"l": 55, "r": 20, "t": 10, "b": 40}, "height": 280,
            "yaxis": {"title": {"text": title_y}, "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": -0.2}, **extra}


def _iso(value) -> str:
    return value.isoformat()


def time_axis(scope: Scope) -> dict:
    """The x axis of a chart over time: the chosen range, whatever the data covers (plotly would
    otherwise zoom onto a single bucket and label it in fractions of a second)."""
    return {"type": "date", "range": [_iso(scope.start), _iso(scope.end)]}


def _bar_span(scope: Scope) -> dict:
    """A bar over its bucket (an hour or a day) from the bucket's start, a tenth left as a gap;
    plotly would otherwise widen a lone bar to the whole axis."""
    return {"width": int(_step(scope).total_seconds() * 1000 * 0.9), "offset": 0}


def outcomes_figure(scope: Scope, rows: list[dict]) -> dict:
    buckets = sorted({r["bucket"] for r in rows})
    counts = defaultdict(dict)
    for r in rows:
        counts[r["outcome"]][r["bucket"]] = counts[r["outcome"]].get(r["bucket"], 0) + r["n"]
    step = _step(scope)
    traces = []
    for outcome in ("ok", "running", *CATEGORIES, "error"):
        if outcome not in counts:
            continue
        filters = outcome_filters("unclassified" if outcome == "error" else outcome)
        traces.append({
            "type": "bar", "name": "failed, unclassified" if outcome == "error" else outcome,
            "x": [_iso(b) for b in buckets], "y": [counts[outcome].get(b, 0) for b in buckets],
            "marker": {"color": CATEGORY_COLORS[outcome]}, **_bar_span(scope),
            "customdata": [scope.list_url(b, b + step, **filters) for b in buckets],
        })
    totals = [sum(counts[o].get(b, 0) for o in counts) for b in buckets]
    failed = [sum(counts[o].get(b, 0) for o in (*CATEGORIES, "error")) for b in buckets]
    traces.append({
        "type": "scatter", "mode": "lines+markers", "name": "failure rate", "yaxis": "y2",
        # At the middle of its bucket, over the bar it rates.
        "x": [_iso(b + step / 2) for b in buckets],
        "y": [round(f / t, 4) if t else 0 for f, t in zip(failed, totals, strict=True)],
        "line": {"color": "#c23434"},
        "customdata": [scope.list_url(b, b + step, status="error") for b in buckets],
    })
    return {"data": traces, "layout": chart_layout("invocations", xaxis=time_axis(scope), yaxis2={
        "overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1],
        "showgrid": False})}


def usage_figures(scope: Scope, rows: list[dict]) -> tuple[dict, dict]:
    buckets = sorted({r["bucket"] for r in rows})
    agents = sorted({r["agent"] for r in rows})
    step = _step(scope)
    by = {(r["agent"], r["bucket"]): r for r in rows}
    cost, tokens = [], []
    for agent in agents:
        urls = [scope.list_url(b, b + step, agent=agent if agent != "(no agent)" else None)
                for b in buckets]
        x = [_iso(b) for b in buckets]
        unpriced = [by.get((agent, b), {}).get("unpriced", 0) for b in buckets]
        cost.append({"type": "bar", "name": agent, "x": x, "customdata": urls,
                     **_bar_span(scope),
                     "y": [round(by.get((agent, b), {}).get("cost", 0), 6) for b in buckets],
                     # A run whose model has no price is not free: its cost is left out, and
                     # the bar says how many such runs it leaves out.
                     "text": [f"+{n} of unknown cost" if n else "" for n in unpriced],
                     "hovertemplate": "%{x}<br>$%{y:.4f} %{text}<extra>%{fullData.name}</extra>"})
        tokens.append({"type": "bar", "name": agent, "x": x, "customdata": urls,
                       **_bar_span(scope), "y": [
            (by.get((agent, b), {}).get("input_tokens") or 0)
            + (by.get((agent, b), {}).get("output_tokens") or 0) for b in buckets]})
    return ({"data": cost, "layout": chart_layout("cost (USD)", xaxis=time_axis(scope))},
            {"data": tokens, "layout": chart_layout("tokens", xaxis=time_axis(scope))})


def latency_figure(scope: Scope, rows: list[dict]) -> dict:
    agents = [r["agent"] for r in rows]
    traces = []
    for q, color in (("p50", "#3759d7"), ("p95", "#b7791f"), ("p99", "#c23434")):
        traces.append({
            "type": "bar", "name": q, "x": agents, "marker": {"color": color},
            "y": [round(r[q], 3) if r[q] is not None else None for r in rows],
            # The slow tail: the agent's invocations at least this long.
            "customdata": [scope.list_url(agent=r["agent"] if r["agent_id"] else None,
                                          min_duration_s=round(r[q], 3)) for r in rows],
        })
    layout = chart_layout("seconds")
    layout["barmode"] = "group"
    return {"data": traces, "layout": layout}


def tool_errors_figure(scope: Scope, rows: list[dict]) -> dict:
    return {"data": [{
        "type": "bar", "orientation": "h", "name": "error rate",
        "y": [r["tool"] for r in rows], "x": [round(r["rate"], 4) for r in rows],
        "text": [f"{r['errors']}/{r['calls']}" for r in rows], "marker": {"color": "#c2410c"},
        # The list has no tool filter: search finds the invocations that called the tool.
        "customdata": [scope.list_url(q=r["tool"], status="error") for r in rows],
    }], "layout": {**chart_layout(""), "xaxis": {"tickformat": ".0%", "range": [0, 1]},
                   "yaxis": {"automargin": True, "autorange": "reversed"}}}


def budget_figure(scope: Scope, rows: list[dict]) -> dict:
    return {"data": [{
        "type": "bar", "name": "budget failures", "x": [r["agent"] for r in rows],
        "y": [r["n"] for r in rows], "marker": {"color": "#a16207"},
        "customdata": [scope.list_url(agent=r["agent"] if r["agent_id"] else None,
                                      category="budget") for r in rows],
    }], "layout": chart_layout("invocations")}


def dashboard_data(scope: Scope) -> dict:
    """Everything the dashboards page shows, for one scope."""
    latency = latency_per_agent(scope)
    usage = usage_per_agent(scope)
    cost, tokens = usage_figures(scope, usage)
    tools = tool_error_rates(scope)
    budgets = budget_breaches(scope)
    return {
        "figures": {
            "outcomes": outcomes_figure(scope, invocations_over_time(scope)),
            "cost": cost,
            "tokens": tokens,
            "latency": latency_figure(scope, latency),
            "tools": tool_errors_figure(scope, tools),
            "budgets": budget_figure(scope, budgets),
        },
        "latency": latency,
        "unpriced": sum(r["unpriced"] for r in usage),
        "tools": tools,
        "budgets": budgets,
        "issues": top_issues(scope),
    }
