"""Agent-side rows: model prices (cost of calls that carry only tokens) and the tool calls an
agent's scope did not allow."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from traceview.core.models import Agent, Invocation, Project, choices_of
from traceview.core.trace import (
    SCOPE_VIOLATION_KINDS,
    SCOPE_VIOLATION_LABELS,
)


class ModelPrice(models.Model):
    """What a model costs per million tokens from a date on, for steps whose trace carries no
    cost (agents.pricing). `pattern` is a shell-style glob over the model name ("gpt-4o-mini*");
    the longest matching pattern wins, then the latest effective date not after the step."""

    pattern = models.CharField(max_length=200)
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    # Blank: cached input costs the input price, reasoning tokens the output price.
    cached_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    reasoning_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    effective_from = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pattern", "effective_from"], name="model_price_unique_date"
            )
        ]

    def __str__(self):
        return f"{self.pattern} from {self.effective_from}"


class ScopeViolation(models.Model):
    """A tool call the agent's scope did not allow (agents.scope): a tool outside the agent's
    allowed tools, or a tool needing human confirmation called without a preceding approval.
    An invocation's rows are rewritten whenever it is audited: at classification, and when the
    agent's scope changes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    invocation = models.ForeignKey(
        Invocation, on_delete=models.CASCADE, related_name="scope_violations"
    )
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    span_id = models.CharField(max_length=128)
    tool_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=choices_of(SCOPE_VIOLATION_KINDS))
    # When the call started (else when the invocation arrived): the page lists newest first.
    occurred_at = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invocation", "span_id", "kind"], name="scope_violation_unique"
            )
        ]
        indexes = [
            models.Index(fields=["project", "-occurred_at", "-id"], name="scope_recent"),
            models.Index(fields=["agent", "-occurred_at", "-id"], name="scope_agent_recent"),
        ]

    @property
    def kind_short(self) -> str:
        return self.kind.replace("_", " ")

    @property
    def kind_label(self) -> str:
        return SCOPE_VIOLATION_LABELS.get(self.kind, self.kind)
