"""Re-run the current rules over stored invocations.

    python manage.py reclassify [--project NAME] [--since DATE] [--batch 500]

Each complete invocation (and any already classified) is classified again with
`invocations_classify`, the same function the worker runs, as many at a time as a sweep task,
so its diagnosis, denormalized category and ruleset version are replaced. Invocations are read
in id order, a batch at a time, so a large table is never held in memory; the command prints
the count per category and how many verdicts (category or root step) changed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from traceview.classify.diagnosis import invocations_classify
from traceview.classify.engine import RULESET_VERSION
from traceview.classify.tasks import SWEEP_BATCH
from traceview.core.models import Diagnosis, Invocation, Project


def _since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r}: expected a date (2026-03-01) or a date-time")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


class Command(BaseCommand):
    help = "Re-run the current classifier rules over stored invocations."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="only this project (by name)")
        parser.add_argument("--since", help="only invocations received on or after this date")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, project=None, since=None, batch=500, **options):
        qs = Invocation.objects.filter(
            Q(completed_at__isnull=False) | Q(classified_version__gt=0)
        )
        if project:
            try:
                qs = qs.filter(project=Project.objects.get(name=project))
            except Project.DoesNotExist:
                raise CommandError(f"no project named {project!r}") from None
        if since:
            qs = qs.filter(created_at__gte=_since(since))
        counts: Counter = Counter()
        changed = skipped = total = 0
        last_id = 0
        while True:
            ids = list(
                qs.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[:batch]
            )
            if not ids:
                break
            last_id = ids[-1]
            before = {
                d["invocation_id"]: (d["category"], d["root_span_id"])
                for d in Diagnosis.objects.filter(invocation_id__in=ids).values(
                    "invocation_id", "category", "root_span_id"
                )
            }
            for start in range(0, len(ids), SWEEP_BATCH):
                chunk = ids[start : start + SWEEP_BATCH]
                stored = invocations_classify(chunk)
                total += len(chunk)
                # Not stored: new data arrived meanwhile; ingest made it due, the worker will
                # take it.
                skipped += len(chunk) - len(stored)
                for inv_id, diagnosis in stored.items():
                    counts[diagnosis.category or "none"] += 1
                    if before.get(inv_id) != (diagnosis.category, diagnosis.root_span_id):
                        changed += 1
            self.stdout.write(f"  {total} invocations reclassified ...")
        summary = ", ".join(f"{c} {counts[c]}" for c in sorted(counts)) or "nothing"
        self.stdout.write(f"reclassified {total} invocations with ruleset {RULESET_VERSION}: "
                          f"{summary}")
        self.stdout.write(f"changed: {changed}" + (f"; skipped (new data): {skipped}"
                                                  if skipped else ""))
