"""First-run set-up for `make run`: project `default`, an admin user, an ingest key, demo data.

Safe to run on every start: it creates only what is missing, and prints the admin password and a
fresh key only when it creates them.
"""

import secrets
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from ingest.demo import DEMO_AGENTS, demo_bodies, demo_long_run, demo_regression, demo_week
from ingest.formats.native import parse_native
from ingest.store import invocations_store
from traceview.classify.diagnosis import invocations_classify
from traceview.core.partitions import invocation_redate, partitions_ensure
from traceview.dashboards.rollups import rollups_refresh
from traceview.devserver import DEFAULT_ADDRPORT, dev_url
from traceview.models import Agent, ApiKey, Invocation, Project
from traceview.triage.models import Issue
from traceview.triage.services import issue_resolve


class Command(BaseCommand):
    help = "Create the default project, an admin user, an API key and demo invocations."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--addrport", default=DEFAULT_ADDRPORT,
            help="the address run_dev will be given (make run passes the same ADDR to both)",
        )
        parser.add_argument("--no-demo", action="store_true", help="load no demo data")

    def handle(self, username, addrport, no_demo=False, **options):
        project, _ = Project.objects.get_or_create(name="default")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        lines = []
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username, "", password)
            lines.append(f"  login:    {username} / {password}")
        else:
            lines.append(
                f"  login:    {username} (password printed at first run; "
                f"reset with: .venv/bin/python manage.py changepassword {username})"
            )
        project.members.add(user)
        if not ApiKey.objects.filter(project=project, name="make run").exists():
            _, raw = ApiKey.issue(project, name="make run")
            lines.append(f"  API key:  {raw}")
        else:
            lines.append(
                "  API key:  issued at first run; a new one: "
                ".venv/bin/python manage.py create_api_key default"
            )
        if not no_demo and not Invocation.objects.filter(
            project=project, trace_id__startswith="demo-"
        ).exists():
            lines.append(self._demo(project, user))
        self.stdout.write(f"TraceView is set up at {dev_url(addrport)}")
        for line in lines:
            self.stdout.write(line)

    def _demo(self, project, user) -> str:
        """A week of five agents' runs through the native format's parser and the store, as
        a client's would go; then classified (as the worker would, so that the first open shows
        every verdict), one issue resolved and failing again (regressed), and the dashboards'
        rollups built."""
        started = time.perf_counter()
        now = timezone.now()
        for name, (category, _versions, budgets, allowed, confirm) in DEMO_AGENTS.items():
            Agent.objects.update_or_create(project=project, name=name, defaults={
                "category": category, "owner": user, "allowed_tools": allowed,
                "confirm_tools": confirm, **budgets,
            })
        ids, steps = set(), 0
        partitions_ensure(now - timedelta(days=8))  # the week's runs are dated back below
        for body in (demo_bodies(now), demo_week(now), *demo_long_run(now)):
            result = invocations_store(project, parse_native(body))
            ids.update(result.invocation_ids)
            steps += result.steps
        ids = sorted(ids)
        # Received when they ran, so that the dashboards (which count by time received) show
        # the week rather than one busy minute.
        for inv in Invocation.objects.filter(id__in=ids).only("id", "started_at"):
            invocation_redate(inv.id, inv.started_at, last_data_at=inv.started_at)
        for i in range(0, len(ids), 50):
            invocations_classify(ids[i:i + 50])
        issue = Issue.objects.filter(project=project, agent__name="support-bot",
                                     category="tool").first()
        if issue is not None:
            issue_resolve(issue, user, in_version="2.0.1")
            again = parse_native({"invocations": [demo_regression(now)]})
            invocations_classify(invocations_store(project, again).invocation_ids)
        rollups_refresh()
        return (f"  demo:     {len(ids) + 1} invocations, {steps:,} steps loaded and classified "
                f"in {time.perf_counter() - started:.1f} s")
