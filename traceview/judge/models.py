"""Rows of the language-model judge: one verdict per (run data, model, prompt version), and each
project's monthly spend. Kept beside the rules' Diagnosis, which the judge never touches.

Re-exported by traceview.models, under the one `traceview` app label.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from traceview.core.trace import CATEGORIES

# pending: claimed by a task (or waiting to retry); done: an answer that passed every check;
# unusable: two answers that failed the checks; skipped: not called (spend cap, no price);
# failed: the endpoint refused or never answered within the retry policy.
VERDICT_STATUSES = ("pending", "done", "unusable", "skipped", "failed")
# What asked for the verdict: the rules' low confidence, their fallback, a success whose answer
# they doubt, a user on the replay page, or evaluate_classifier.
VERDICT_TRIGGERS = ("low_confidence", "fallback", "doubtful", "on_demand", "evaluation")


class JudgeVerdict(models.Model):
    """The judge's opinion on one invocation's data. The unique key is the cache: judging the
    same data with the same model and prompt version again reuses this row and costs nothing."""

    invocation = models.ForeignKey(
        "traceview.Invocation", on_delete=models.CASCADE, related_name="judge_verdicts"
    )
    project = models.ForeignKey("traceview.Project", on_delete=models.CASCADE, related_name="+")
    # SHA-256 of the canonical trace as judged; data_version tells the page whether the run
    # received data since, without loading it.
    data_digest = models.CharField(max_length=64)
    data_version = models.IntegerField(default=0)
    model = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=20)
    trigger = models.CharField(max_length=20, choices=[(t, t) for t in VERDICT_TRIGGERS])
    status = models.CharField(
        max_length=10, choices=[(s, s) for s in VERDICT_STATUSES], default="pending"
    )
    reason = models.TextField(blank=True)
    category = models.CharField(
        max_length=10, choices=[(c, c) for c in CATEGORIES], blank=True
    )
    root_span_id = models.CharField(max_length=128, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True)
    # [{"step": <span id>, "quote": <text found in that step>}], checked before it is stored.
    evidence = models.JSONField(default=list, blank=True)
    # What each rejected answer failed, for the page and for tuning the prompt.
    problems = models.JSONField(default=list, blank=True)
    calls = models.IntegerField(default=0)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    # While pending: the most the calls still to make can cost, held against the spend cap.
    reserved_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped whenever the verdict is asked for, even from the cache: the page's "asked" poll
    # stops once the verdict it waits for was touched after the question.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invocation", "data_digest", "model", "prompt_version"],
                name="judge_verdict_cache_key",
            )
        ]
        indexes = [
            models.Index(fields=["invocation", "-updated_at"], name="judge_verdict_latest"),
            # The spend check sums the reservations of a project's pending verdicts.
            models.Index(
                fields=["project"], name="judge_verdict_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class JudgeSpend(models.Model):
    """What one project's judge calls cost in one calendar month (UTC). The row is also the lock
    that serializes the spend-cap check with the reservation that follows it."""

    project = models.ForeignKey("traceview.Project", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # the first day of the month
    spent_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    calls = models.IntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "month"], name="judge_spend_month")
        ]
