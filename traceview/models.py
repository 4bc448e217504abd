"""Rows: projects, keys, agents, invocations and their steps, diagnoses.

Large payloads (messages, tool arguments and results, raw attributes) live in StepPayload, one
row per step, so that lists and step trees never read them.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from traceview.trace import (
    AGENT_CATEGORIES,
    CATEGORIES,
    SCOPE_VIOLATION_KINDS,
    SCOPE_VIOLATION_LABELS,
    STATUSES,
    STEP_KINDS,
)


def _choices(values):
    return [(v, v) for v in values]


class Project(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="projects", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name


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
        max_length=10, choices=_choices(AGENT_CATEGORIES), default="bounded"
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
        from traceview.trace import BUDGET_FIELDS

        return {f: getattr(self, f) for f in BUDGET_FIELDS if getattr(self, f) is not None}


class ModelPrice(models.Model):
    """What a model costs per million tokens from a date on, for steps whose trace carries no
    cost (traceview.pricing). `pattern` is a shell-style glob over the model name ("gpt-4o-mini*");
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


class Invocation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invocations")
    trace_id = models.CharField(max_length=128)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    agent_version = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=_choices(STATUSES), default="running")
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
    # Run-level usage as reported by the sender; used when no step carries usage.
    reported_usage = models.JSONField(default=dict, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Denormalized from the diagnosis for the list's filters and index.
    category = models.CharField(max_length=10, choices=_choices(CATEGORIES), blank=True)
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


class Step(models.Model):
    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="steps")
    span_id = models.CharField(max_length=128)
    parent_span_id = models.CharField(max_length=128, blank=True)
    kind = models.CharField(max_length=10, choices=_choices(STEP_KINDS), default="other")
    name = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=_choices(STATUSES), default="running")
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

    step = models.OneToOneField(
        Step, on_delete=models.CASCADE, primary_key=True, related_name="payload"
    )
    tool_arguments = models.JSONField(null=True, blank=True)
    tool_result = models.JSONField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    error_traceback = models.TextField(blank=True)


class InvocationSearch(models.Model):
    """The free-text search document of one invocation (traceview.search), written by the
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
    category = models.CharField(max_length=10, choices=_choices(CATEGORIES), blank=True)
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


# Triage: failed invocations grouped into issues (services in traceview/triage.py).

ISSUE_STATUSES = ("open", "acknowledged", "resolved", "ignored")


class Issue(models.Model):
    """One recurring failure: every failed invocation of a project whose root cause has the same
    fingerprint (agent, category, normalized signature). Grouping only ever bumps the counters
    with F() expressions; triage changes go through conditional UPDATEs that bump `version`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    category = models.CharField(max_length=10, choices=_choices(CATEGORIES))
    fingerprint = models.CharField(max_length=64)
    signature = models.JSONField(default=list)
    title = models.CharField(max_length=500)
    culprit = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=_choices(ISSUE_STATUSES), default="open")
    is_regressed = models.BooleanField(default=False)
    regressed_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_issues",
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.BigIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_in_version = models.CharField(max_length=100, blank=True)
    ignored_until = models.DateTimeField(null=True, blank=True)
    # Ignored "until it happens N more times": the times_seen value that wakes it.
    ignored_until_count = models.BigIntegerField(null=True, blank=True)
    # Optimistic lock for triage forms: every triage change (not a new occurrence) bumps it.
    version = models.IntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "fingerprint"], name="issue_unique_fp")
        ]
        indexes = [
            models.Index(fields=["project", "status", "-last_seen"], name="issue_queue"),
            models.Index(fields=["project", "category", "status"], name="issue_queue_cat"),
            models.Index(fields=["assignee", "status"], name="issue_assignee"),
        ]

    def __str__(self):
        return self.title


class IssueInvocation(models.Model):
    """Which issue a failed invocation belongs to: one row per invocation, so grouping the same
    invocation twice counts it once, and a reclassification moves it."""

    invocation = models.OneToOneField(
        Invocation, on_delete=models.CASCADE, primary_key=True, related_name="issue_link"
    )
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="occurrences")
    agent_version = models.CharField(max_length=100, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["issue", "-seen_at"], name="issue_occ_recent")]


class IssueActivity(models.Model):
    """The issue's log: created, assigned, resolved, regressed, commented ... actor None is
    TraceView itself."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=20)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["issue", "-created_at"], name="issue_activity_recent")]


class IssueComment(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)


class Correction(models.Model):
    """A triager's verdict on an invocation, kept beside the machine's Diagnosis (which
    reclassification replaces) and compared with it. Blank category: not a failure."""

    invocation = models.OneToOneField(
        Invocation, on_delete=models.CASCADE, primary_key=True, related_name="correction"
    )
    category = models.CharField(max_length=10, choices=_choices(CATEGORIES), blank=True)
    root_span_id = models.CharField(max_length=128, blank=True)
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)


class ProjectWebhook(models.Model):
    """Where a project's new and regressed issues are posted, signed with `secret`."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(ProjectWebhook, on_delete=models.CASCADE, related_name="deliveries")
    issue = models.ForeignKey(Issue, null=True, blank=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=30)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, default="pending")  # pending, delivered, failed
    attempts = models.IntegerField(default=0)
    response_status = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhook_recent")]


class ScopeViolation(models.Model):
    """A tool call the agent's scope did not allow (traceview.scope): a tool outside the agent's
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
    kind = models.CharField(max_length=12, choices=_choices(SCOPE_VIOLATION_KINDS))
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


# Rollups: what the dashboards read (traceview.rollups). Hourly, per project and agent, kept by a
# Celery beat task that recomputes the hours whose invocations changed since it last ran.


class RollupState(models.Model):
    """One row. The refresh locks it, so two refreshes never interleave, and records how far it
    has read the classifications."""

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
    input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="rollup_inv_hour")]


class LatencyRollup(HourlyRollup):
    """Durations of one hour's finished invocations of one agent, as a histogram with
    logarithmic buckets (traceview.rollups): one row per bucket with its count, shortest and
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
