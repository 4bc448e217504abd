"""The classifier's verdict on an invocation, stored (the write side: classify.diagnosis)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from traceview.core.models import Invocation, choices_of
from traceview.core.trace import (
    CATEGORIES,
)


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
