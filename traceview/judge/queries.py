"""The judge's read side: an invocation's latest verdict, and its agreement with corrections."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Subquery

from traceview.core.models import Invocation
from traceview.judge.models import JudgeVerdict
from traceview.triage.models import Correction
from traceview.triage.services import AgreementRow, agreement_rows


def verdict_latest(invocation: Invocation, done: bool = False) -> JudgeVerdict | None:
    """The verdict asked for last (any status, or only answers that passed the checks)."""
    verdicts = JudgeVerdict.objects.filter(invocation=invocation)
    if done:
        verdicts = verdicts.filter(status="done")
    return verdicts.order_by("-updated_at", "-id").first()


def judge_agreement(projects) -> tuple[list[AgreementRow], AgreementRow]:
    """How often the judge's latest answer agrees with the triagers' corrections, over the
    corrected invocations the judge answered about (the rules' agreement is
    traceview.triage.corrections_agreement)."""
    latest = JudgeVerdict.objects.filter(
        invocation=OuterRef("invocation"), status="done"
    ).order_by("-updated_at", "-id")
    corrections = (
        Correction.objects.filter(invocation__project__in=projects)
        .filter(Exists(latest))
        .annotate(
            judge_category=Subquery(latest.values("category")[:1]),
            judge_root=Subquery(latest.values("root_span_id")[:1]),
        )
        .values_list("category", "root_span_id", "judge_category", "judge_root")
    )
    return agreement_rows(corrections.iterator())
