"""`manage.py fuzz_ingest --url http://127.0.0.1:8000 --requests 20000`: the long run of the fuzz
suite. Posts mutated bodies (ingest.fuzz) to every ingest route of a running server, in every
encoding, and prints how many requests each route got, the statuses, and every 5xx (route,
encoding, mutation and the first bytes of the answer). Exits 1 if any answer was a 5xx.

Not a test: run it against a server of its own database, for as long as you like. With no --key it
issues one for project "fuzz" in the configured database (which must be the server's).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import requests
from django.core.management.base import BaseCommand, CommandError

from ingest.fuzz import fuzz_case
from traceview.models import ApiKey, Project


class Command(BaseCommand):
    help = "Post mutated bodies to every ingest route of a running server; count statuses and 5xx."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--requests", type=int, default=5000, dest="count")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--key", help="an API key of the server; by default one is issued "
                                          "for project 'fuzz' in the configured database")
        parser.add_argument("--timeout", type=float, default=60, help="seconds per request")

    def handle(self, url, count, seed, key, timeout, **options):
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise CommandError("--url must be http(s)://host[:port]")
        if not key:
            project, _ = Project.objects.get_or_create(name="fuzz")
            _, key = ApiKey.issue(project, name="fuzz_ingest")
        session = requests.Session()
        # Bearer works on every ingest route, Langfuse's included.
        session.headers["Authorization"] = f"Bearer {key}"
        rng = random.Random(seed)
        by_route: Counter = Counter()
        statuses: dict[str, Counter] = defaultdict(Counter)
        errors: list[str] = []
        started = time.monotonic()
        for _ in range(count):
            case = fuzz_case(rng)
            headers = {"Content-Type": case.content_type}
            if case.encoding:
                headers["Content-Encoding"] = case.encoding
            by_route[case.route] += 1
            try:
                r = session.post(url.rstrip("/") + case.path, data=case.body, headers=headers,
                                 timeout=timeout)
                status, text = r.status_code, r.content[:200]
            except requests.RequestException as exc:
                status, text = "no answer", str(exc)[:200].encode()
            statuses[case.route][status] += 1
            if status == "no answer" or status >= 500:
                errors.append(f"{status} {case.route} {case.encoding or 'identity'} "
                              f"[{case.mutation}] {text!r}")
        elapsed = time.monotonic() - started
        total = sum(by_route.values())
        self.stdout.write(f"{total} requests in {elapsed:.0f} s (seed {seed})")
        for route in sorted(by_route):
            counts = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[route].items(),
                                                               key=lambda i: str(i[0])))
            fives = sum(n for s, n in statuses[route].items() if s == "no answer" or s >= 500)
            self.stdout.write(f"  {route:<16} {by_route[route]:>6} requests, 5xx: {fives}  "
                              f"({counts})")
        self.stdout.write(f"5xx: {len(errors)}")
        for line in errors[:50]:
            self.stdout.write(f"  {line}")
        if errors:
            raise SystemExit(1)

