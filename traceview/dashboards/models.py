"""The dashboards' hourly rollups and the state of their refresh (dashboards.rollups)."""

from __future__ import annotations

from django.db import models

from traceview.core.models import Agent, Project
from traceview.triage.models import Issue

# Rollups: what the dashboards read (dashboards.rollups). Hourly, per project and agent, kept by a
# Celery beat task that recomputes the hours whose invocations changed since it last ran.


class RollupState(models.Model):
    """One row per project. The refresh locks it, so two refreshes never interleave on a
    project, and records how far it has read that project's classifications."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    classified_through = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)


class HourlyRollup(models.Model):
    """What every rollup row is about: one project's invocations of one agent and hour."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    hour = models.DateTimeField()

    class Meta:
        abstract = True


class InvocationRollup(HourlyRollup):
    """Invocations of one hour, agent and outcome (status and failure category), with their
    cost and tokens."""

    status = models.CharField(max_length=10)
    category = models.CharField(max_length=10, blank=True)
    invocations = models.IntegerField()
    cost_usd = models.DecimalField(max_digits=18, decimal_places=6)
    # Of `invocations`, those whose cost is unknown (a model call with no price): cost_usd
    # leaves them out rather than counting them as free.
    unpriced = models.IntegerField(default=0)
    input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="rollup_inv_hour")]


class LatencyRollup(HourlyRollup):
    """Durations of one hour's finished invocations of one agent, as a histogram with
    logarithmic buckets (dashboards.rollups): one row per bucket with its count, shortest and
    longest, so the histograms of many hours add up in one GROUP BY and percentiles come out
    within the bucket's width."""

    bucket = models.SmallIntegerField()
    invocations = models.IntegerField()
    shortest_s = models.FloatField()
    longest_s = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="rollup_latency_hour")]


class ToolRollup(HourlyRollup):
    """Tool calls and failed ones of one hour, agent and tool."""

    tool_name = models.CharField(max_length=200, blank=True)
    calls = models.IntegerField()
    errors = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="rollup_tool_hour")]


class IssueRollup(HourlyRollup):
    """Failed invocations of one hour and agent grouped into one issue."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+")
    invocations = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="rollup_issue_hour")]
