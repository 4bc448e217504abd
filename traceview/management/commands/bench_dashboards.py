"""`manage.py bench_dashboards`: server time of the dashboards page at scale.

Reuses the data of `bench_pages` (project "bench-pages", 1,000,000 invocations on PostgreSQL by
default), creating it through that command when absent. Times the hourly rollups the
dashboards read (dashboards.rollups): a full rebuild, then the refresh the beat task runs each
minute, with a hundred invocations of the last hours reclassified. Then renders /dashboards/
with Django's test Client in this process for several time ranges and one agent, and prints the
minimum and median of --runs timings for each.
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from traceview.agents.evaluation import evaluation_range, version_evaluation
from traceview.core.models import Diagnosis, Invocation, Project
from traceview.dashboards.models import RollupState
from traceview.dashboards.rollups import rollups_refresh

PROJECT = "bench-pages"


class Command(BaseCommand):
    help = "Print server times of the dashboards page over bench_pages' data."

    def add_arguments(self, parser):
        parser.add_argument("--invocations", type=int, default=None,
                            help="passed to bench_pages when its data is absent")
        parser.add_argument("--runs", type=int, default=5, help="timed runs per view")

    def handle(self, *args, invocations, runs, **options):
        project = Project.objects.filter(name=PROJECT).first()
        if project is None:
            self.stdout.write("no bench_pages data yet: creating it with bench_pages …")
            kwargs = {"runs": 1}
            if invocations is not None:
                kwargs["invocations"] = invocations
            call_command("bench_pages", **kwargs)
            project = Project.objects.get(name=PROJECT)
        user = get_user_model().objects.get(username=PROJECT)
        client = Client()
        client.force_login(user)
        agent = project.agents.order_by("name").first()
        count = Invocation.objects.filter(project=project).count()
        self.stdout.write(f"{count:,} invocations in {PROJECT}")
        self._time_rollups(project)
        views = [
            ("dashboards, last day", "/dashboards/?range=1d"),
            ("dashboards, last 7 days", "/dashboards/?range=7d"),
            ("dashboards, last 30 days", "/dashboards/?range=30d"),
            (f"dashboards, 30 days, agent {agent.name}",
             f"/dashboards/?range=30d&agent={agent.name}"),
            *self._evaluation_urls(agent),
            *self._violation_urls(project, agent),
        ]
        for label, url in views:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
            self.stdout.write(
                f"{label:45} min {min(times):8.1f} ms   median {statistics.median(times):8.1f} ms"
            )

    def _time_rollups(self, project):
        RollupState.objects.all().delete()
        started = time.perf_counter()
        hours = rollups_refresh()
        self.stdout.write(f"{'rollups, full rebuild':45} {time.perf_counter() - started:8.1f} s"
                          f"   ({hours:,} project-hours)")
        # What the beat task meets each minute: new runs this hour, and late classifications
        # of invocations from earlier hours.
        recent = list(
            Diagnosis.objects.filter(invocation__project=project)
            .order_by("-invocation__created_at").values_list("invocation_id", flat=True)[:100]
        )
        Diagnosis.objects.filter(invocation_id__in=recent).update(classified_at=timezone.now())
        times = []
        for _ in range(3):
            started = time.perf_counter()
            hours = rollups_refresh()
            times.append((time.perf_counter() - started) * 1000)
        self.stdout.write(f"{'rollups, refresh (beat task)':45} min {min(times):8.1f} ms   "
                          f"median {statistics.median(times):8.1f} ms   ({hours} project-hours)")

    def _evaluation_urls(self, agent) -> list[tuple[str, str]]:
        """The agent page (every version evaluated) and the compare page of its two most recent
        versions, over 30 and 90 days."""
        _, start, end = evaluation_range("90d")
        versions = [s.version for s in version_evaluation(agent, start, end)][:2] or [""]
        query = urlencode({"a": versions[-1], "b": versions[0]})
        detail = reverse("agent-detail", args=[agent.pk])
        compare = reverse("agent-compare", args=[agent.pk])
        return [
            (f"agent page, 30 days, {agent.name}", f"{detail}?range=30d"),
            (f"agent page, 90 days, {agent.name}", f"{detail}?range=90d"),
            (f"compare {versions[-1]} / {versions[0]}, 30 days", f"{compare}?{query}&range=30d"),
            (f"compare {versions[-1]} / {versions[0]}, 90 days", f"{compare}?{query}&range=90d"),
        ]

    def _violation_urls(self, project, agent) -> list[tuple[str, str]]:
        """The scope-violations page over one violation per bench invocation (1,000,000 by
        default), inserted in one statement on first use: first page, the page after, one kind,
        one agent. Another process's rows are not touched."""
        from django.db import connection

        from traceview.agents.models import ScopeViolation
        from traceview.agents.scope_audit import PAGE_SIZE
        from traceview.agents.scope_views import _cursor_encode

        if not ScopeViolation.objects.filter(project=project).exists():
            if connection.vendor != "postgresql":
                return []
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO traceview_scopeviolation (project_id, invocation_id, agent_id, "
                    "span_id, tool_name, kind, occurred_at, detected_at) "
                    "SELECT project_id, id, agent_id, 'tool-1', 'tool-' || (id %% 7), "
                    "CASE WHEN id %% 3 = 0 THEN 'unconfirmed' ELSE 'not_allowed' END, "
                    "created_at, now() FROM traceview_invocation WHERE project_id = %s",
                    [project.id],
                )
                cursor.execute("ANALYZE traceview_scopeviolation")
            self.stdout.write(f"scope violations created in {time.perf_counter() - started:.1f} s")
        total = ScopeViolation.objects.filter(project=project).count()
        newest = ScopeViolation.objects.filter(project=project).order_by(
            "-occurred_at", "-id")[PAGE_SIZE - 1]
        after = _cursor_encode((newest.occurred_at, newest.id))
        label = f"scope violations ({total:,})"
        return [
            (f"{label}, first page", "/scope-violations/"),
            (f"{label}, next page", f"/scope-violations/?after={after}"),
            (f"{label}, kind unconfirmed", "/scope-violations/?kind=unconfirmed"),
            (f"{label}, agent {agent.name}", f"/scope-violations/?agent={agent.pk}"),
        ]
