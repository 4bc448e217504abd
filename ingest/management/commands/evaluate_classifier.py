"""Measure the classifier on labelled traces, through the real stored path.

    python manage.py evaluate_classifier PATH --format who-and-when|agentrx|bioagent|labelled-jsonl
                                         [--project NAME] [--keep] [--cases]
    python manage.py evaluate_classifier tests/classify/recorded --format recorded
                                         [--cases] [--show-holdout-cases]

The traces are parsed by the ingest parsers, stored in a scratch project with `invocations_store`
and classified one by one with `invocation_classify`, exactly as a worker would; the report
compares the stored diagnoses with the labels (traceview.classify.metrics) and prints the trivial
baselines on the same cases beside each figure. The recorded corpus is not parsed here: its
captured requests are posted, with their headers and in their captured order, to the ingest
routes they were sent to, and the tuning and holdout splits are reported apart (holdout only in
aggregate unless --show-holdout-cases). Everything runs in one transaction that is rolled back
at the end, so the scratch project leaves nothing behind (and nothing is handed to the broker)
unless --keep commits it.
"""

from __future__ import annotations

import base64

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
    load_labelled,
    load_recorded,
)
from ingest.store import invocations_store
from traceview.classify.diagnosis import invocation_classify
from traceview.classify.metrics import Outcome, baselines, keyword_verdict, render, score
from traceview.models import ApiKey, Invocation, Project, Step


class _Discard(Exception):
    """Leaves the evaluation's transaction, rolling the scratch project back."""


class Command(BaseCommand):
    help = "Classify labelled traces in a scratch project and print precision, recall, F1 ..."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--project", help="scratch project name (must not exist yet)")
        parser.add_argument("--keep", action="store_true", help="keep the scratch project")
        parser.add_argument("--cases", action="store_true", help="print one line per case")
        parser.add_argument("--show-holdout-cases", action="store_true",
                            help="recorded: also list the holdout cases one by one")

    def handle(self, path, fmt, project=None, keep=False, cases=False,
               show_holdout_cases=False, **options):
        try:
            labelled = load_recorded(path) if fmt == "recorded" else load_labelled(fmt, path)
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
                else:
                    results = {None: self._evaluate(scratch, labelled)}
                if not keep:
                    raise _Discard
        except _Discard:
            pass
        for split, (outcomes, lines) in results.items():
            if cases and (split != "holdout" or show_holdout_cases):
                for line in lines:
                    self.stdout.write(line)
            self.stdout.write(f"{fmt}: {path}" + (f" [{split}]" if split else ""))
            self.stdout.write(render(score(outcomes), baselines(outcomes, keyword=True)))
        self.stdout.write(
            f"scratch project {name!r} " + ("kept" if keep else "deleted")
        )

    def _evaluate(
        self, project: Project, labelled: list[LabelledTrace]
    ) -> tuple[list[Outcome], list[str]]:
        invocations = [case.invocation for case in labelled]
        invocations_store(project, invocations)
        ids = dict(
            Invocation.objects.filter(project=project).values_list("trace_id", "id")
        )
        outcomes, lines = [], []
        for case in labelled:
            outcome, line = _judge(ids[case.invocation.trace_id[:128]], case.key,
                                   case.category, case.root_step, case.agent)
            outcomes.append(outcome)
            lines.append(line + (f" ({case.source_label})" if case.source_label else ""))
        return outcomes, lines

    def _evaluate_recorded(
        self, project: Project, captures: list[RecordedCapture]
    ) -> dict[str, tuple[list[Outcome], list[str]]]:
        results: dict[str, tuple[list[Outcome], list[str]]] = {
            s: ([], []) for s in RECORDED_SPLITS if any(c.split == s for c in captures)
        }
        replay = CaptureReplay(project)
        for capture in captures:
            outcome, line = _judge(replay.store(capture), capture.key, capture.category,
                                   capture.root_step, None)
            outcomes, lines = results[capture.split]
            outcomes.append(outcome)
            lines.append(line)
        return results


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
                      steps=tuple(s[0] for s in steps), keyword=keyword,
                      keyword_root=keyword_root)
    rule = diagnosis.evidence[0]["rule"] if diagnosis.evidence else "-"
    return outcome, (f"{key}: expected {category} at {root_step}; "
                     f"got {predicted} at {root} by {rule}")
