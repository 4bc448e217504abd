"""`manage.py bench_redaction`: what redaction at ingest costs the store, in one process.

bench_ingest --redact builtin/off compares two server runs, which a shared machine's load moves
by more than the difference; this decodes and stores the same kind of workload in this process,
alternating rounds without and with every built-in detector, and prints the CPU microseconds a
span of each (decode, map, redact, store; the database's side is not counted, and redaction adds
nothing there).
"""

from __future__ import annotations

import statistics
import time

from django.core.management.base import BaseCommand

from ingest.formats.otlp import otlp_to_invocations
from ingest.management.commands.bench_ingest import Workload
from ingest.store import invocations_store
from traceview.core.redaction import DETECTORS
from traceview.models import Project


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--spans", type=int, default=3000, help="spans per round")
        parser.add_argument("--rounds", type=int, default=6, help="rounds of each")

    def handle(self, spans, rounds, **options):
        off, _ = Project.objects.get_or_create(name="bench-redaction-off")
        on, _ = Project.objects.get_or_create(name="bench-redaction-on")
        off.redact_detectors, on.redact_detectors = [], list(DETECTORS)
        off.save(update_fields=["redact_detectors"])
        on.save(update_fields=["redact_detectors"])
        results: dict[str, list[float]] = {"off": [], "on": []}
        warm = Workload(500, 0).bodies(500)[0][1]
        for project in (off, on):
            invocations_store(project, otlp_to_invocations(warm, "application/x-protobuf")[0])
        for i in range(rounds * 2):
            # Alternate which goes first, so drift in the machine's load falls on both.
            name = ("off", "on")[(i + i // 2) % 2]
            bodies = Workload(spans, 1000 + i).bodies(500)
            started = time.process_time()
            for _, body in bodies:
                invocations, _, _ = otlp_to_invocations(body, "application/x-protobuf")
                invocations_store(on if name == "on" else off, invocations)
            results[name].append((time.process_time() - started) / spans * 1e6)
        for name, values in results.items():
            self.stdout.write(f"redaction {name:3}: median {statistics.median(values):,.0f} µs "
                              f"a span ({', '.join(f'{v:,.0f}' for v in values)})")
        more = statistics.median(results["on"]) - statistics.median(results["off"])
        self.stdout.write(f"built-in detectors cost {more:,.1f} µs a span in the web process "
                          f"({more / statistics.median(results['off']):.1%} of its work)")
