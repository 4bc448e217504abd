"""Measure the classifier on labelled traces, through the real stored path.

    python manage.py evaluate_classifier PATH --format who-and-when|agentrx|bioagent|labelled-jsonl
                                         [--labels FILE] [--part both|tuning|holdout]
                                         [--project NAME] [--keep] [--cases]
                                         [--show-holdout-cases]
    python manage.py evaluate_classifier tests/classify/recorded --format recorded
                                         [--batch NAME ...] [--cases] [--show-holdout-cases]
    either with [--judge [--judge-cap-usd DOLLARS]]

The traces are parsed by the ingest parsers, stored in a scratch project with `invocations_store`
and classified one by one with `invocation_classify`, exactly as a worker would; the report
compares the stored diagnoses with the labels (traceview.classify.metrics) and prints the trivial
baselines on the same cases beside each figure. The public datasets (who-and-when, agentrx,
bioagent) are split by a seeded digest of each case's key (`dataset_part`) into a tuning part and
a holdout part kept untouched while tuning; both are reported apart, then all cases together,
the holdout cases only in aggregate unless --show-holdout-cases (--part tuning evaluates the
tuning part alone, so that tuning never runs the holdout). The recorded corpus is not parsed
here: its captured requests are posted, with their headers and in their captured order, to the
ingest routes they were sent to, and the tuning and holdout splits are reported apart
(holdout only in aggregate unless --show-holdout-cases); --batch evaluates some batches of its
scenarios alone (each batch was labelled and split on its own). Everything runs in one transaction
that is rolled back at the end, so the scratch project leaves nothing behind (and nothing is
handed to the broker) unless --keep commits it.

--judge also asks the language-model judge (traceview.judge) about every case, synchronously,
and prints the same figures for its verdicts, with its calls, tokens and cost. Its spending is
bounded by --judge-cap-usd (the configured monthly cap by default). With no judge endpoint
configured it says so and exits with status 0 without evaluating anything.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from ingest.formats.errors import FormatError
from ingest.formats.labelled import (
    FORMATS,
    RECORDED_SPLITS,
    LabelledTrace,
    RecordedCapture,
    dataset_part,
    load_labelled,
    load_recorded,
)
from ingest.store import invocations_store
from traceview.classify.diagnosis import invocation_classify
from traceview.classify.metrics import Outcome, baselines, keyword_verdict, render, score
from traceview.judge.services import (
    JudgeRetry,
    invocation_judge,
    judge_config,
    retry_countdown,
    verdict_give_up,
)
from traceview.models import ApiKey, Invocation, JudgeVerdict, Project, Step

# The evaluation waits for an unavailable endpoint fewer times than the worker does: a dead
# endpoint should end a run over many cases in minutes, not hours.
JUDGE_RETRIES = 2
DATASET_FORMATS = ("who-and-when", "agentrx", "bioagent")


class _Discard(Exception):
    """Leaves the evaluation's transaction, rolling the scratch project back."""


class Command(BaseCommand):
    help = "Classify labelled traces in a scratch project and print precision, recall, F1 ..."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--labels", help="agentrx: the ground-truth file, when it is not "
                                             "under PATH (PATH then holds the runs it labels)")
        parser.add_argument("--part", choices=("both", "tuning", "holdout"), default="both",
                            help="public datasets: which part to evaluate (default both)")
        parser.add_argument("--project", help="scratch project name (must not exist yet)")
        parser.add_argument("--keep", action="store_true", help="keep the scratch project")
        parser.add_argument("--cases", action="store_true", help="print one line per case")
        parser.add_argument("--batch", nargs="+", dest="batches",
                            help="recorded: only the scenarios of these batches "
                                 "(\"base\": those whose label names none)")
        parser.add_argument("--show-holdout-cases", action="store_true",
                            help="recorded: also list the holdout cases one by one")
        parser.add_argument("--judge", action="store_true",
                            help="also score the language-model judge on every case")
        parser.add_argument("--judge-cap-usd", type=Decimal, dest="judge_cap",
                            help="the most the judge may spend on this evaluation")

    def handle(self, path, fmt, project=None, keep=False, cases=False,
               show_holdout_cases=False, judge=False, judge_cap=None, labels=None,
               part="both", batches=None, **options):
        self.judge_config = judge_config() if judge else None
        if judge and self.judge_config is None:
            self.stdout.write(
                "the judge is not configured: set TRACEVIEW_JUDGE_URL and "
                "TRACEVIEW_JUDGE_MODEL (README, \"A second opinion\"); nothing evaluated"
            )
            return
        if self.judge_config is not None:
            self.judge_cap = judge_cap if judge_cap is not None else self.judge_config.cap_usd
        # Per split: each case's judge outcome with the verdict it came from.
        self.judged: dict[str | None, list[tuple[Outcome, JudgeVerdict]]] = {}
        if batches is not None and fmt != "recorded":
            raise CommandError("--batch applies to --format recorded only")
        try:
            labelled = (load_recorded(path, batches and set(batches)) if fmt == "recorded"
                        else load_labelled(fmt, path, labels))
        except FormatError as exc:
            raise CommandError(f"cannot read {path}: {exc.errors}") from None
        if not labelled:
            raise CommandError(f"no labelled traces in {path}")
        name = project or f"eval-{fmt}-{timezone.now():%Y%m%d-%H%M%S}"
        if Project.objects.filter(name=name).exists():
            raise CommandError(f"project {name!r} exists; name a new scratch project")
        try:
            with transaction.atomic():
                scratch = Project.objects.create(name=name)
                if fmt == "recorded":
                    results = self._evaluate_recorded(scratch, labelled)
                elif fmt in DATASET_FORMATS:
                    results = self._evaluate_parts(scratch, labelled, part)
                else:
                    results = {None: self._evaluate(scratch, labelled)}
                if not keep:
                    raise _Discard
        except _Discard:
            pass
        for split, (outcomes, lines) in results.items():
            if cases and split != "all" and (split != "holdout" or show_holdout_cases):
                for line in lines:
                    self.stdout.write(line)
            self.stdout.write(f"{fmt}: {path}" + (f" [{split}]" if split else "")
                              + (f" (batch {', '.join(batches)})" if batches else ""))
            self.stdout.write(render(score(outcomes), baselines(outcomes, keyword=True)))
            if self.judge_config is not None:
                judged = self.judged[split]
                self.stdout.write(f"judge: {self.judge_config.model}, prompt "
                                  f"{judged[0][1].prompt_version}"
                                  + (f" [{split}]" if split else ""))
                judge_outcomes = [o for o, _ in judged]
                self.stdout.write(render(score(judge_outcomes),
                                         baselines(judge_outcomes, keyword=True)))
                self.stdout.write(_judge_usage([v for _, v in judged]))
        self.stdout.write(
            f"scratch project {name!r} " + ("kept" if keep else "deleted")
        )

    def _evaluate(
        self, project: Project, labelled: list[LabelledTrace], split: str | None = None
    ) -> tuple[list[Outcome], list[str]]:
        invocations = [case.invocation for case in labelled]
        invocations_store(project, invocations)
        ids = dict(
            Invocation.objects.filter(project=project).values_list("trace_id", "id")
        )
        outcomes, lines = [], []
        for case in labelled:
            inv_id = ids[case.invocation.trace_id[:128]]
            outcome, line = _judge(inv_id, case.key, case.category, case.root_step, case.agent)
            outcomes.append(outcome)
            lines.append(line + (f" ({case.source_label})" if case.source_label else "")
                         + self._second_opinion(inv_id, outcome, split))
        return outcomes, lines

    def _evaluate_parts(
        self, project: Project, labelled: list[LabelledTrace], part: str
    ) -> dict[str, tuple[list[Outcome], list[str]]]:
        """A public dataset's tuning and holdout parts apart, then all of it together."""
        parts = ("tuning", "holdout") if part == "both" else (part,)
        results = {}
        for name in parts:
            cases = [c for c in labelled if dataset_part(c.key) == name]
            if cases:
                results[name] = self._evaluate(project, cases, name)
        if len(results) > 1:
            results["all"] = ([o for outcomes, _ in results.values() for o in outcomes], [])
            if self.judge_config is not None:
                self.judged["all"] = [j for name in parts for j in self.judged.get(name, [])]
        return results

    def _evaluate_recorded(
        self, project: Project, captures: list[RecordedCapture]
    ) -> dict[str, tuple[list[Outcome], list[str]]]:
        results: dict[str, tuple[list[Outcome], list[str]]] = {
            s: ([], []) for s in RECORDED_SPLITS if any(c.split == s for c in captures)
        }
        replay = CaptureReplay(project)
        for capture in captures:
            inv_id = replay.store(capture)
            outcome, line = _judge(inv_id, capture.key, capture.category, capture.root_step, None)
            outcomes, lines = results[capture.split]
            outcomes.append(outcome)
            lines.append(line + self._second_opinion(inv_id, outcome, capture.split))
        return results

    def _second_opinion(self, inv_id: int, outcome: Outcome, split: str | None) -> str:
        """With --judge: the judge's verdict on the case as an outcome of its own (kept per
        split), and the end of the case's report line; else nothing."""
        if self.judge_config is None:
            return ""
        verdict = self._judge_verdict(inv_id)
        predicted, root = (
            (verdict.category or None, verdict.root_span_id or None)
            if verdict.status == "done"
            # No usable answer is a miss, shown as a column of its own in the confusion matrix.
            else (verdict.status, None)
        )
        agent = (
            Step.objects.filter(invocation_id=inv_id, span_id=root)
            .values_list("agent_name", flat=True).first()
        ) if root else None
        judged = dataclasses.replace(outcome, predicted=predicted, predicted_root=root,
                                     predicted_agent=agent or None)
        self.judged.setdefault(split, []).append((judged, verdict))
        return f"; judge {predicted} at {root}"

    def _judge_verdict(self, invocation_id: int) -> JudgeVerdict:
        """The judge's verdict on one case, asked synchronously; an unavailable endpoint is
        waited for as the worker would (its Retry-After, else a backoff), JUDGE_RETRIES times."""
        claim = f"evaluation{invocation_id}"
        for retries in range(JUDGE_RETRIES + 1):
            try:
                return invocation_judge(
                    invocation_id, "evaluation", claim=claim, cap=self.judge_cap
                )
            except JudgeRetry as exc:
                countdown = retry_countdown(exc.retry_after, retries)
                if countdown is None or retries == JUDGE_RETRIES:
                    verdict_give_up(exc.verdict_id, claim, f"{exc.reason}; gave up")
                    return JudgeVerdict.objects.get(id=exc.verdict_id)
                self.stderr.write(f"judge unavailable ({exc.reason}); again in {countdown:g} s")
                time.sleep(countdown)
        raise AssertionError("unreachable")


class CaptureReplay:
    """Posts recorded captures to the ingest routes of a project, as their exporters did."""

    def __init__(self, project: Project):
        key, raw = ApiKey.issue(project, name="replay")
        self.project = project
        # Langfuse's exporter authenticates with Basic public:secret; the others with Bearer.
        self.basic = "Basic " + base64.b64encode(f"{key.public_key}:{raw}".encode()).decode()
        self.bearer = f"Bearer {raw}"
        self.client = Client()
        self.seen = set(Invocation.objects.filter(project=project).values_list("id", flat=True))

    def store(self, capture: RecordedCapture) -> int:
        """Post the capture's requests in their order; the id of the one run they stored."""
        # The test client's host must be allowed whatever the deployment allows.
        with override_settings(ALLOWED_HOSTS=["testserver"]):
            for request in capture.requests:
                headers = {"HTTP_AUTHORIZATION": self.basic
                           if request.path.startswith("/api/public/") else self.bearer}
                if request.headers.get("content-encoding"):
                    headers["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
                response = self.client.generic(
                    request.method, request.path, request.body,
                    content_type=request.headers.get("content-type", ""), **headers,
                )
                if response.status_code >= 300:
                    raise CommandError(f"{capture.key}: {request.path} answered "
                                       f"{response.status_code}: {response.content[:300]!r}")
        now = set(Invocation.objects.filter(project=self.project).values_list("id", flat=True))
        made, self.seen = now - self.seen, now
        if len(made) != 1:
            raise CommandError(f"{capture.key}: expected one run, stored {len(made)}")
        return made.pop()


def _judge(inv_id: int, key: str, category, root_step, agent) -> tuple[Outcome, str]:
    """Classify one stored invocation as the worker does; its outcome and report line."""
    diagnosis = invocation_classify(inv_id)
    if diagnosis is None:
        raise CommandError(f"{key}: the invocation changed while being classified")
    predicted = diagnosis.category or None
    root = diagnosis.root_span_id or None
    steps = list(
        Step.objects.filter(invocation_id=inv_id)
        .order_by("started_at", "seq", "id")
        .values_list("span_id", "status", "error_type", "error_message", "agent_name")
    )
    predicted_agent = next((s[4] for s in steps if s[0] == root), None) or None
    keyword, keyword_root = keyword_verdict([
        (span, f"{error_type or ''} {error_message or ''}".strip() if (
            status == "error" or error_type or error_message) else "")
        for span, status, error_type, error_message, _ in steps
    ])
    outcome = Outcome(category, predicted, root_step, root, agent, predicted_agent,
                      steps=tuple(s[0] for s in steps), agents=tuple(s[4] for s in steps),
                      keyword=keyword,
                      keyword_root=keyword_root)
    rule = diagnosis.evidence[0]["rule"] if diagnosis.evidence else "-"
    return outcome, (f"{key}: expected {category} at {root_step}; "
                     f"got {predicted} at {root} by {rule}")


def _judge_usage(verdicts: list[JudgeVerdict]) -> str:
    """The judge's verdicts by outcome, its calls, tokens and cost."""
    n = len(verdicts) or 1
    statuses = {s: sum(v.status == s for v in verdicts)
                for s in ("done", "unusable", "skipped", "failed")}
    retried = sum(bool(v.problems) for v in verdicts)
    prompt = sum(v.prompt_tokens for v in verdicts)
    completion = sum(v.completion_tokens for v in verdicts)
    cost = sum((v.cost_usd for v in verdicts), Decimal(0))
    return "\n".join([
        "judge verdicts: " + ", ".join(f"{k} {count}" for k, count in statuses.items())
        + f"; answers retried after failing the checks: {retried}",
        f"judge calls: {sum(v.calls for v in verdicts)}; tokens: {prompt} prompt + "
        f"{completion} answer ({(prompt + completion) / n:.0f} a case)",
        f"judge cost: ${cost:.4f} (${cost / n:.4f} a case)",
    ])
