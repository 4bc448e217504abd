"""Rows: projects, keys, agents, invocations and their steps; an invocation's search document
and diagnosis (both written by the classifier's write side, classify.diagnosis).

Large payloads (messages, tool arguments and results, raw attributes) live in StepPayload, one
row per step, so that lists and step trees never read them.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from traceview.core.trace import (
    AGENT_CATEGORIES,
    CATEGORIES,
    STATUSES,
    STEP_KINDS,
)


def choices_of(values):
    return [(v, v) for v in values]


class CopiedDateTimeField(models.DateTimeField):
    """A time copied from a related row when the row is inserted, unless set: `source` is a path
    of attributes from the instance ("invocation.created_at"). The partition key of steps and
    payloads (traceview.core.partitions) is one: every way a step is inserted, bulk_create
    included (which calls pre_save), then agrees with its invocation without naming the key."""

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value is None and add:
            value = model_instance
            for attribute in self.source.split("."):
                value = getattr(value, attribute)
            setattr(model_instance, self.attname, value)
        return value


class Project(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="projects", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Days its invocations are kept after their last data (traceview.retention): empty follows
    # TRACEVIEW_RETENTION_DAYS, 0 keeps them forever.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Days invocations are kept after their last data. Empty: the deployment's "
                  "default (TRACEVIEW_RETENTION_DAYS); 0: forever.",
    )
    # Redaction at ingest (traceview.core.redaction): what is removed before anything is stored.
    redact_detectors = models.JSONField(
        default=list, blank=True,
        help_text="Built-in detectors to apply: api_key, bearer_token, url_password, email, "
                  "card_number.")
    redact_patterns = models.JSONField(
        default=list, blank=True,
        help_text='Custom regular expressions (RE2 syntax, multi-line): a list of patterns or of '
                  '{"name": ..., "pattern": ...}; a match is replaced by [redacted: name].')
    redact_drop_keys = models.JSONField(
        default=list, blank=True,
        help_text='Attribute keys to drop, at any depth of the attributes; "prefix.*" drops a '
                  "prefix's keys.")

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from traceview.core import redaction

        errors = {
            field: problems
            for field, problems in (
                ("redact_detectors", redaction.detectors_errors(self.redact_detectors)),
                ("redact_patterns", redaction.patterns_errors(self.redact_patterns)),
                ("redact_drop_keys", redaction.drop_keys_errors(self.redact_drop_keys)),
            )
            if problems
        }
        if errors:
            raise ValidationError(errors)


class ApiKey(models.Model):
    """An ingest key. The secret is shown once; only its SHA-256 is kept.

    Keys are 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    """

    PREFIX = "tv_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.prefix}… ({self.project})"

    @staticmethod
    def hash(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def issue(cls, project: Project, name: str = "") -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            project=project, name=name, prefix=raw[:10], hashed_key=cls.hash(raw)
        )
        return key, raw

    @property
    def public_key(self) -> str:
        """The user name for Basic auth (Langfuse clients send `public_key:secret_key`)."""
        return f"pk-{self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Agent(models.Model):
    """An agent type within a project, with its owner and budgets."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=200)
    category = models.CharField(
        max_length=10, choices=choices_of(AGENT_CATEGORIES), default="bounded"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    max_tokens = models.BigIntegerField(null=True, blank=True)
    max_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    max_steps = models.IntegerField(null=True, blank=True)
    max_depth = models.IntegerField(null=True, blank=True)
    max_subagents = models.IntegerField(null=True, blank=True)
    max_duration_s = models.FloatField(null=True, blank=True)
    # Tool scope: names of the tools the agent may call (empty: no scope set, nothing is audited)
    # and of the tools that need a human confirmation in the trace before they run.
    allowed_tools = models.JSONField(default=list, blank=True)
    confirm_tools = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="agent_unique_name")
        ]

    def __str__(self):
        return self.name

    def budgets(self) -> dict:
        from traceview.core.trace import BUDGET_FIELDS

        return {f: getattr(self, f) for f in BUDGET_FIELDS if getattr(self, f) is not None}


class Invocation(models.Model):
    # No single-column indexes on the foreign keys: every index below that matters leads with
    # the project (or the agent), so they serve the same lookups, and each index costs every
    # insert and every non-HOT update (an invocation is updated by each request that adds to it).
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="invocations", db_index=False)
    trace_id = models.CharField(max_length=128)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    agent_version = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=choices_of(STATUSES), default="running")
    # What the sender said, kept apart from the status derived from the root step.
    reported_status = models.CharField(max_length=10, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    step_count = models.IntegerField(default=0)
    tool_call_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    tool_error_count = models.IntegerField(default=0)
    # Tool calls the agent's scope did not allow (ScopeViolation rows), kept here so the list and
    # the page know without a query, and an audit that finds none deletes nothing.
    scope_violation_count = models.IntegerField(default=0)
    depth = models.IntegerField(default=0)
    # Model calls with tokens and no cost (no price known for their model): the run's cost is
    # then unknown, or a lower bound, never "free".
    unpriced_calls = models.IntegerField(default=0)
    # The conversation or session the run is a turn of (gen_ai.conversation.id, session.id,
    # Langfuse sessionId, LangGraph thread_id, Agents SDK group_id), read at ingest.
    session_id = models.CharField(max_length=200, blank=True)
    # Run-level usage as reported by the sender; used when no step carries usage.
    reported_usage = models.JSONField(default=dict, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Denormalized from the diagnosis for the list's filters and index.
    category = models.CharField(max_length=10, choices=choices_of(CATEGORIES), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_data_at = models.DateTimeField(default=timezone.now)
    # Completion and classification bookkeeping. data_version counts ingests that touched the
    # invocation; the classifier records the version it read, so newer data makes it due again.
    completed_at = models.DateTimeField(null=True, blank=True)
    data_version = models.IntegerField(default=1)
    classified_version = models.IntegerField(default=0)
    # The version last handed to the broker; the sweep re-enqueues what was never handed over
    # (the broker was down) or what sat too long (a lost message).
    enqueued_version = models.IntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "trace_id"], name="invocation_unique_trace")
        ]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="inv_project_recent"),
            models.Index(fields=["project", "status", "-created_at"], name="inv_project_status"),
            models.Index(fields=["project", "category", "-created_at"], name="inv_project_cat"),
            # The list's keyset pagination walks these in order and stops after one page: newest
            # across several projects, one agent's newest, and the cost and token sorts.
            models.Index(fields=["-created_at", "-id"], name="inv_recent"),
            models.Index(fields=["agent", "-created_at", "-id"], name="inv_agent_recent"),
            models.Index(fields=["project", "-cost_usd", "-id"], name="inv_project_cost"),
            models.Index(
                models.F("project"),
                (models.F("input_tokens") + models.F("output_tokens")).desc(),
                models.F("id").desc(),
                name="inv_project_tokens",
            ),
            # A session's runs in order, and the list's session filter.
            models.Index(
                fields=["project", "session_id", "created_at"], name="inv_session",
                condition=~models.Q(session_id=""),
            ),
            # The sweep's question, "what is unclassified?", stays cheap at a million rows
            # because only unclassified rows are in this index.
            models.Index(
                fields=["last_data_at"],
                name="inv_due",
                condition=models.Q(classified_version__lt=models.F("data_version")),
            ),
        ]

    def __str__(self):
        return self.trace_id

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_known(self) -> bool:
        return self.unpriced_calls == 0


class Step(models.Model):
    # step_unique_span and step_order lead with the invocation: a third index on it alone would
    # only cost every inserted step.
    invocation = models.ForeignKey(
        Invocation, on_delete=models.CASCADE, related_name="steps", db_index=False)
    span_id = models.CharField(max_length=128)
    parent_span_id = models.CharField(max_length=128, blank=True)
    kind = models.CharField(max_length=10, choices=choices_of(STEP_KINDS), default="other")
    name = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=choices_of(STATUSES), default="running")
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    finish_reason = models.CharField(max_length=50, blank=True)
    tool_name = models.CharField(max_length=200, blank=True)
    tool_call_id = models.CharField(max_length=200, blank=True)
    agent_name = models.CharField(max_length=200, blank=True)
    seq = models.IntegerField(default=0)
    # Values the project's redaction rules replaced or dropped in this step's data at ingest.
    redactions = models.IntegerField(default=0)
    # The partition key on PostgreSQL (traceview.core.partitions): the invocation's created_at, a
    # server time (never the sender's), so all of an invocation's steps share one partition.
    invocation_created_at = CopiedDateTimeField(source="invocation.created_at", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invocation", "span_id"], name="step_unique_span")
        ]
        indexes = [
            models.Index(fields=["invocation", "started_at", "seq"], name="step_order"),
            # "Invocations that used model X": only model calls carry a model, so the index
            # skips tool and agent steps.
            models.Index(
                fields=["model", "invocation"], name="step_model", condition=~models.Q(model="")
            ),
        ]

    def __str__(self):
        return f"{self.kind}:{self.name or self.span_id}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


class StepPayload(models.Model):
    """The heavy part of a step, read only when one step is opened or classified."""

    # No constraint in the database: on PostgreSQL steps are partitioned, and their primary key
    # includes the partition key (traceview.core.partitions). A payload goes with its step: both
    # share the step's partition (dropped together) and the purge deletes them together.
    step = models.OneToOneField(
        Step, on_delete=models.CASCADE, primary_key=True, related_name="payload",
        db_constraint=False,
    )
    invocation_created_at = CopiedDateTimeField(source="step.invocation_created_at",
                                                editable=False)
    tool_arguments = models.JSONField(null=True, blank=True)
    tool_result = models.JSONField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    error_traceback = models.TextField(blank=True)


class InvocationSearch(models.Model):
    """The free-text search document of one invocation (traceview.core.search), written by the
    worker at classification; on PostgreSQL a GIN index over its tsvector serves the list."""

    invocation = models.OneToOneField(
        Invocation, on_delete=models.CASCADE, primary_key=True, related_name="search"
    )
    document = models.TextField(blank=True)


class Diagnosis(models.Model):
    """The classifier's verdict on one invocation, replaced on each reclassification."""

    invocation = models.OneToOneField(
        Invocation, on_delete=models.CASCADE, primary_key=True, related_name="diagnosis"
    )
    category = models.CharField(max_length=10, choices=choices_of(CATEGORIES), blank=True)
    root_span_id = models.CharField(max_length=128, blank=True)
    confidence = models.FloatField(default=0)
    evidence = models.JSONField(default=list, blank=True)
    ruleset = models.CharField(max_length=20)
    classified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The rollup refresh asks "what was classified since the last refresh?".
        indexes = [models.Index(fields=["classified_at"], name="diag_classified")]

    def as_dict(self) -> dict:
        return {
            "category": self.category or None,
            "root_step": self.root_span_id or None,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "ruleset": self.ruleset,
        }
