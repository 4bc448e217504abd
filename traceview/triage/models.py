"""Issues (recurring failures), their occurrences, activity and comments; corrections of
verdicts; per-project webhooks and their deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from traceview.core.models import Agent, Invocation, Project, choices_of
from traceview.core.trace import (
    CATEGORIES,
)

# Triage: failed invocations grouped into issues (services in traceview/triage/services.py).

ISSUE_STATUSES = ("open", "acknowledged", "resolved", "ignored")


class Issue(models.Model):
    """One recurring failure: every failed invocation of a project whose root cause has the same
    fingerprint (agent, category, normalized signature). Grouping only ever bumps the counters
    with F() expressions; triage changes go through conditional UPDATEs that bump `version`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    category = models.CharField(max_length=10, choices=choices_of(CATEGORIES))
    fingerprint = models.CharField(max_length=64)
    signature = models.JSONField(default=list)
    title = models.CharField(max_length=500)
    culprit = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=choices_of(ISSUE_STATUSES), default="open")
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
    category = models.CharField(max_length=10, choices=choices_of(CATEGORIES), blank=True)
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
