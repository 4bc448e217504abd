"""Process-level evaluation of an agent's versions, and two versions side by side.

For each version of one agent, over its invocations received in a half-open range [start, end):

- **runs**: finished invocations (status ok or error). Invocations still running are counted
  apart ("still running") and left out of every rate, percentile and mean: their cost, steps
  and duration are not final yet.
- **completion rate**: successful runs / runs. A run succeeded when its status is ok and the
  classifier found no failure in it; a run the classifier judged failed although its root said
  OK (a budget crossed, a claim of success over a failed call) counts as failed, as on the
  dashboards.
- **median and p95 cost** (USD) and **latency** (seconds from start to end; runs without both
  timestamps are left out of latency only), **mean and median steps per run**: percentile_cont,
  linear interpolation between closest ranks.
- **tool-call error rate**: tool calls that failed / tool calls, over all runs.
- **recovered share**: successful runs that had a failed step along the way / successful runs.
- **failure mix**: failed runs per failure category, plus "unclassified" (failed, no category
  yet or none found), each as a share of the failures and as a rate over the runs.

Comparing B with A (version_compare), every metric gets its change (B - A, and relative to A)
and a direction: better, worse, neutral (a metric with no good direction: run counts, the
recovered share) or same. A change is *notable*, and highlighted on the page, when both sides
have at least MIN_RUNS finished runs and:

- for a rate (completion, tool-call errors, recovered share, each failure category's rate over
  runs): a two-proportion z-test with a pooled variance gives |z| >= Z_CRITICAL (95%,
  two-sided), with at least MIN_RUNS in each side's denominator (runs, tool calls, successful
  runs). Tool calls of one run are not independent, so the tool-error test is optimistic.
- for a median, p95 or mean: the value moved by at least MIN_RELATIVE_CHANGE of A's value
  (any move away from zero counts when A is zero).

Run counts are never notable: they measure traffic, not the agent.

Speed: one aggregate query grouped by agent_version, reading the agent's rows through its
(agent, -created_at, -id) index; on PostgreSQL the percentiles are percentile_cont aggregates in
that same query, so no row reaches Python. SQLite has no percentile aggregate: a second query
reads the finished runs' cost, timestamps and steps, and percentile() computes them (the same
interpolation as PostgreSQL).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from traceview.core.models import Agent, Invocation
from traceview.core.trace import CATEGORIES
from traceview.dashboards.charts import RANGES, Scope, chart_layout
from traceview.dashboards.rollups import hour_floor
from traceview.dashboards.stats import Percentiles, Seconds, percentile
from traceview.replay.filters import outcome_filters

DEFAULT_RANGE = "30d"
MIN_RUNS = 5
Z_CRITICAL = 1.96
MIN_RELATIVE_CHANGE = 0.10
UNCLASSIFIED = "unclassified"
FAILURE_KINDS = (*CATEGORIES, UNCLASSIFIED)

_FINISHED = Q(status__in=("ok", "error"))
_SUCCESS = Q(status="ok", category="")
_FAILED_UNCLASSIFIED = Q(status="error", category="")


@dataclass
class VersionStats:
    """The evaluation of one agent version over a range. Rates, percentiles and means are None
    when there is nothing to compute them over."""

    version: str
    runs: int = 0  # finished: ok or error
    ok: int = 0  # succeeded: ended ok and the classifier found no failure
    running: int = 0
    cost_p50: float | None = None
    cost_p95: float | None = None
    latency_runs: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    steps_mean: float | None = None
    steps_p50: float | None = None
    tool_calls: int = 0
    tool_errors: int = 0
    recovered: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @property
    def failed(self) -> int:
        return self.runs - self.ok

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.ok, self.runs)

    @property
    def tool_error_rate(self) -> float | None:
        return _ratio(self.tool_errors, self.tool_calls)

    @property
    def recovered_share(self) -> float | None:
        return _ratio(self.recovered, self.ok)

    @property
    def failure_mix(self) -> list[dict]:
        """Each failure kind with failed runs: count, share of the failures, rate over runs."""
        return [
            {
                "category": kind,
                "count": n,
                "share": _ratio(n, self.failed),
                "rate": _ratio(n, self.runs),
            }
            for kind in FAILURE_KINDS
            if (n := self.failures.get(kind, 0))
        ]

    @property
    def cells(self) -> list[dict]:
        """The metrics in METRICS order, formatted, for a table row."""
        return [{"key": m.key, "text": format_value(getattr(self, m.key), m.unit)} for m in METRICS]


@dataclass(frozen=True)
class Metric:
    """How one VersionStats attribute is shown and compared. `better`: "higher", "lower" or
    None (neutral). `test`: "rate" (z-test of `successes` out of `sample`), "value" (relative
    change over `sample` runs) or "" (never notable)."""

    key: str
    label: str
    short: str
    unit: str
    better: str | None
    test: str
    sample: str = "runs"
    successes: str = ""


METRICS = (
    Metric("runs", "Finished runs", "Runs", "count", None, ""),
    Metric(
        "completion_rate", "Completion rate", "Completion", "pct", "higher", "rate", "runs", "ok"
    ),
    Metric("cost_p50", "Median cost", "Cost p50", "usd", "lower", "value"),
    Metric("cost_p95", "p95 cost", "Cost p95", "usd", "lower", "value"),
    Metric("latency_p50", "Median latency", "Latency p50", "s", "lower", "value", "latency_runs"),
    Metric("latency_p95", "p95 latency", "Latency p95", "s", "lower", "value", "latency_runs"),
    Metric("steps_mean", "Mean steps per run", "Steps mean", "num", "lower", "value"),
    Metric("steps_p50", "Median steps per run", "Steps p50", "num", "lower", "value"),
    Metric(
        "tool_error_rate",
        "Tool-call error rate",
        "Tool errors",
        "pct",
        "lower",
        "rate",
        "tool_calls",
        "tool_errors",
    ),
    Metric(
        "recovered_share",
        "Successful runs that recovered from an error",
        "Recovered",
        "pct",
        None,
        "rate",
        "ok",
        "recovered",
    ),
    Metric("running", "Still running (not in the figures)", "Running", "count", None, ""),
)


@dataclass
class MetricDiff:
    """One metric of A and B. `change` is B - A (percentage points as a fraction for rates),
    `relative` (B - A) / |A|; `direction` is better, worse, neutral or same; `notable` says
    whether the change passes the module's thresholds."""

    key: str
    label: str
    unit: str
    group: str
    a: float | None
    b: float | None
    n_a: int
    n_b: int
    change: float | None
    relative: float | None
    direction: str
    notable: bool
    z: float | None = None
    # Failure kinds only: the failed runs of each side, and their share of that side's failures.
    category: str = ""
    count_a: int = 0
    count_b: int = 0
    share_a: float | None = None
    share_b: float | None = None

    @property
    def verdict(self) -> str:
        """The highlight: "better", "worse", "changed" (notable, neutral metric) or ""."""
        if not self.notable:
            return ""
        return self.direction if self.direction in ("better", "worse") else "changed"

    @property
    def a_text(self) -> str:
        return format_value(self.a, self.unit)

    @property
    def b_text(self) -> str:
        return format_value(self.b, self.unit)

    @property
    def change_text(self) -> str:
        return format_change(self.change, self.relative, self.unit)

    @property
    def share_a_text(self) -> str:
        return format_value(self.share_a, "pct")

    @property
    def share_b_text(self) -> str:
        return format_value(self.share_b, "pct")


# --- Queries ---------------------------------------------------------------------------------


def evaluation_range(
    key: str | None, now: datetime | None = None
) -> tuple[str, datetime, datetime]:
    """The range a key of RANGES names, ending with the current hour, so that the links built
    from it select the same invocations for the rest of the hour. Unknown keys: DEFAULT_RANGE."""
    key = key if key in RANGES else DEFAULT_RANGE
    end = hour_floor(now or timezone.now()) + timedelta(hours=1)
    return key, end - timedelta(days=RANGES[key]), end


def version_evaluation(
    agent: Agent, start: datetime, end: datetime, versions: list[str] | None = None
) -> list[VersionStats]:
    """The evaluation of each version of `agent` with invocations received in [start, end),
    the most recently seen first. With `versions`, those versions in that order, a version
    without invocations in the range as an empty VersionStats (runs 0)."""
    qs = Invocation.objects.filter(agent=agent, created_at__gte=start, created_at__lt=end)
    if versions is not None:
        qs = qs.filter(agent_version__in=set(versions))
    aggregates = {
        "runs": Count("id", filter=_FINISHED),
        "ok": Count("id", filter=_SUCCESS),
        "running": Count("id", filter=Q(status="running")),
        "recovered": Count("id", filter=_SUCCESS & Q(error_count__gt=0)),
        "tool_calls": Sum("tool_call_count", filter=_FINISHED),
        "tool_errors": Sum("tool_error_count", filter=_FINISHED),
        "steps_mean": Avg("step_count", filter=_FINISHED),
        "latency_runs": Count(
            "id", filter=_FINISHED & Q(started_at__isnull=False, ended_at__isnull=False)
        ),
        "first_seen": Min("created_at"),
        "last_seen": Max("created_at"),
        UNCLASSIFIED: Count("id", filter=_FAILED_UNCLASSIFIED),
        **{kind: Count("id", filter=_FINISHED & Q(category=kind)) for kind in CATEGORIES},
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        from django.contrib.postgres.fields import ArrayField

        # percentile_cont skips NULLs: running invocations are NULL here, so the one grouped
        # query yields the finished runs' percentiles beside counts that include running ones.
        for name, value in (
            ("cost", Cast("cost_usd", FloatField())),
            ("latency", Seconds(F("ended_at"), F("started_at"))),
            ("steps", Cast("step_count", FloatField())),
        ):
            # A run whose cost is unknown (a model with no price) is not a free run.
            counted = _FINISHED & Q(unpriced_calls=0) if name == "cost" else _FINISHED
            finished_only = Case(When(counted, then=value), output_field=FloatField())
            aggregates[f"{name}_p"] = ExpressionWrapper(
                Percentiles(finished_only), output_field=ArrayField(FloatField())
            )
    rows = qs.values("agent_version").annotate(**aggregates).order_by()
    stats = {}
    for row in rows:
        s = VersionStats(
            version=row["agent_version"],
            runs=row["runs"],
            ok=row["ok"],
            running=row["running"],
            recovered=row["recovered"],
            tool_calls=row["tool_calls"] or 0,
            tool_errors=row["tool_errors"] or 0,
            steps_mean=row["steps_mean"],
            latency_runs=row["latency_runs"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            failures={k: row[k] for k in FAILURE_KINDS if row[k]},
        )
        if postgres:
            # percentile_cont(ARRAY[0.5, 0.95, 0.99]): the first two are the median and p95.
            for name in ("cost", "latency", "steps"):
                p = row[f"{name}_p"] or [None, None]
                setattr(s, f"{name}_p50", p[0])
                setattr(s, f"{name}_p95", p[1])
        stats[s.version] = s
    if not postgres and stats:
        _percentiles_in_python(qs, stats)
    if versions is not None:
        return [stats.get(v) or VersionStats(version=v) for v in versions]
    return sorted(stats.values(), key=lambda s: s.last_seen, reverse=True)


def _percentiles_in_python(qs, stats: dict[str, VersionStats]) -> None:
    """SQLite: the finished runs' values, sorted per version, through percentile()."""
    values = defaultdict(lambda: ([], [], []))
    rows = qs.filter(_FINISHED).values_list(
        "agent_version", "cost_usd", "started_at", "ended_at", "step_count", "unpriced_calls"
    )
    for version, cost, started, ended, steps, unpriced in rows:
        costs, latencies, step_counts = values[version]
        if not unpriced:
            costs.append(float(cost))
        step_counts.append(float(steps))
        if started is not None and ended is not None:
            latencies.append((ended - started).total_seconds())
    for version, series in values.items():
        for name, vals in zip(("cost", "latency", "steps"), series, strict=True):
            vals.sort()
            setattr(stats[version], f"{name}_p50", percentile(vals, 0.5))
            setattr(stats[version], f"{name}_p95", percentile(vals, 0.95))


def version_list_url(
    agent: Agent, start: datetime, end: datetime, version: str, **filters
) -> str | None:
    """The invocation list of the agent's runs of `version` in [start, end), with more list
    filters. None for the blank version: the list cannot select "no version"."""
    if not version:
        return None
    scope = Scope(
        projects=[agent.project], start=start, end=end, agent=agent.name, project=agent.project_id
    )
    return scope.list_url(agent_version=version, **filters)


# --- Comparison --------------------------------------------------------------------------------


def version_compare(a: VersionStats, b: VersionStats) -> list[MetricDiff]:
    """B against A: each metric of METRICS (group "process"), then each failure kind's rate over
    runs (group "failures", for the kinds either side has), with change, direction and whether
    it is notable (module docstring)."""
    enough = a.runs >= MIN_RUNS and b.runs >= MIN_RUNS
    diffs = []
    for m in METRICS:
        va, vb = getattr(a, m.key), getattr(b, m.key)
        na, nb = getattr(a, m.sample), getattr(b, m.sample)
        z = None
        notable = False
        if m.test == "rate":
            z = _two_proportion_z(getattr(a, m.successes), na, getattr(b, m.successes), nb)
            notable = enough and min(na, nb) >= MIN_RUNS and z is not None and abs(z) >= Z_CRITICAL
        elif m.test == "value":
            notable = enough and min(na, nb) >= MIN_RUNS and _moved(va, vb)
        diffs.append(_diff(m.key, m.label, m.unit, m.better, "process", va, vb, na, nb, notable, z))
    for kind in FAILURE_KINDS:
        xa, xb = a.failures.get(kind, 0), b.failures.get(kind, 0)
        if not (xa or xb):
            continue
        z = _two_proportion_z(xa, a.runs, xb, b.runs)
        notable = enough and z is not None and abs(z) >= Z_CRITICAL
        diff = _diff(
            f"failed_{kind}",
            f"Failed: {kind}",
            "pct",
            "lower",
            "failures",
            _ratio(xa, a.runs),
            _ratio(xb, b.runs),
            a.runs,
            b.runs,
            notable,
            z,
        )
        diff.category, diff.count_a, diff.count_b = kind, xa, xb
        diff.share_a, diff.share_b = _ratio(xa, a.failed), _ratio(xb, b.failed)
        diffs.append(diff)
    return diffs


def _diff(key, label, unit, better, group, va, vb, na, nb, notable, z) -> MetricDiff:
    change = relative = None
    if va is not None and vb is not None:
        change = vb - va
        relative = change / abs(va) if va else None
    if change is None or better is None:
        direction = "same" if change == 0 else "neutral"
    elif change == 0:
        direction = "same"
    else:
        direction = "better" if (change > 0) == (better == "higher") else "worse"
    return MetricDiff(
        key=key,
        label=label,
        unit=unit,
        group=group,
        a=va,
        b=vb,
        n_a=na,
        n_b=nb,
        change=change,
        relative=relative,
        direction=direction,
        notable=notable and bool(change),
        z=z,
    )


def _two_proportion_z(xa: int, na: int, xb: int, nb: int) -> float | None:
    """z of pb - pa with the pooled proportion; None when it is undefined (an empty side, or
    both sides all 0% or all 100%, where there is no variance to measure against)."""
    if not na or not nb:
        return None
    pooled = (xa + xb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se == 0:
        return None
    return (xb / nb - xa / na) / se


def _moved(va: float | None, vb: float | None) -> bool:
    if va is None or vb is None:
        return False
    if va == 0:
        return vb != 0
    return abs(vb - va) / abs(va) >= MIN_RELATIVE_CHANGE


def _ratio(x: int, n: int) -> float | None:
    return x / n if n else None


# --- Formatting (plain text; the templates escape it) ------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "count":
        return f"{int(value):,}"
    if unit == "pct":
        return f"{value * 100:.1f}%"
    if unit == "usd":
        return f"${value:,.4f}"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.1f}"


def format_change(change: float | None, relative: float | None, unit: str) -> str:
    """The change as text: "+1.2 pp" for rates, "+$0.0100 (+12.5%)" for values, "—" without
    both values."""
    if change is None:
        return "—"
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    if unit == "pct":
        text = f"{sign}{abs(change) * 100:.1f} pp"
    else:
        text = sign + format_value(abs(change), unit)
    if relative is not None and unit != "pct" and change:
        text += f" ({'+' if relative > 0 else '−'}{abs(relative) * 100:.1f}%)"
    return text


# --- Figures --------------------------------------------------------------------------------


def outcome_figure(
    agent: Agent, start: datetime, end: datetime, a: VersionStats, b: VersionStats
) -> dict:
    """Plotly figure: the share of each side's runs that succeeded or failed in each way,
    grouped A beside B; each bar carries the invocation list of what it counts (drawn by
    static/traceview/dashboards.js, which opens it on click)."""
    outcomes = [("succeeded", outcome_filters("ok")),
                *((kind, outcome_filters(kind)) for kind in FAILURE_KINDS)]
    traces = []
    for side, stats, color in (("A", a, "#9bb5a5"), ("B", b, "#3759d7")):
        counts = [stats.ok, *(stats.failures.get(k, 0) for k in FAILURE_KINDS)]
        traces.append(
            {
                "type": "bar",
                "name": f"{side}: {stats.version or '(none)'}",
                "x": [name for name, _ in outcomes],
                "y": [round(n / stats.runs, 4) if stats.runs else 0 for n in counts],
                "text": [str(n) for n in counts],
                "marker": {"color": color},
                "customdata": [
                    version_list_url(agent, start, end, stats.version, **filters)
                    for _, filters in outcomes
                ],
            }
        )
    layout = chart_layout("share of finished runs", barmode="group")
    layout["yaxis"]["tickformat"] = ".0%"
    return {"data": traces, "layout": layout}
