"""Measure the classifier on labelled traces, through the real stored path.

    python manage.py evaluate_classifier PATH --format who-and-when|agentrx|bioagent|labelled-jsonl
                                         [--project NAME] [--keep] [--cases]

The traces are parsed by the ingest parsers, stored in a scratch project with `invocations_store`
and classified one by one with `invocation_classify`, exactly as a worker would; the report
compares the stored diagnoses with the labels (traceview.classify.metrics). Everything runs in one
transaction that is rolled back at the end, so the scratch project leaves nothing behind (and
nothing is handed to the broker) unless --keep commits it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from ingest.formats.errors import FormatError
from ingest.formats.labelled import FORMATS, LabelledTrace, load_labelled
from ingest.store import invocations_store
from traceview.classify.diagnosis import invocation_classify
from traceview.classify.metrics import Outcome, render, score
from traceview.models import Invocation, Project, Step


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

    def handle(self, path, fmt, project=None, keep=False, cases=False, **options):
        try:
            labelled = load_labelled(fmt, path)
        except FormatError as exc:
            raise CommandError(f"cannot read {path}: {exc.errors}") from None
        if not labelled:
            raise CommandError(f"no labelled traces in {path}")
        name = project or f"eval-{fmt}-{timezone.now():%Y%m%d-%H%M%S}"
        if Project.objects.filter(name=name).exists():
            raise CommandError(f"project {name!r} exists; name a new scratch project")
        try:
            with transaction.atomic():
                outcomes, lines = self._evaluate(Project.objects.create(name=name), labelled)
                if not keep:
                    raise _Discard
        except _Discard:
            pass
        if cases:
            for line in lines:
                self.stdout.write(line)
        self.stdout.write(f"{fmt}: {path}")
        self.stdout.write(render(score(outcomes)))
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
            inv_id = ids[case.invocation.trace_id[:128]]
            diagnosis = invocation_classify(inv_id)
            if diagnosis is None:
                raise CommandError(f"{case.key}: the invocation changed while being classified")
            category = diagnosis.category or None
            root = diagnosis.root_span_id or None
            agent = None
            if root is not None:
                agent = (
                    Step.objects.filter(invocation_id=inv_id, span_id=root)
                    .values_list("agent_name", flat=True)
                    .first()
                ) or None
            outcomes.append(
                Outcome(case.category, category, case.root_step, root, case.agent, agent)
            )
            rule = diagnosis.evidence[0]["rule"] if diagnosis.evidence else "-"
            lines.append(
                f"{case.key}: expected {case.category} at {case.root_step}"
                + (f" ({case.source_label})" if case.source_label else "")
                + f"; got {category} at {root} by {rule}"
            )
        return outcomes, lines
