"""First-run set-up for `make run`: project `default`, an admin user, an ingest key, demo data.

Safe to run on every start: it creates only what is missing, and prints the admin password and a
fresh key only when it creates them.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from ingest.demo import demo_invocations
from ingest.store import invocations_store
from traceview.devserver import DEFAULT_ADDRPORT, dev_url
from traceview.models import ApiKey, Invocation, Project


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
            result = invocations_store(project, demo_invocations())
            lines.append(
                f"  demo:     {result.invocations} invocations, {result.steps} steps loaded"
            )
        self.stdout.write(f"TraceView is set up at {dev_url(addrport)}")
        for line in lines:
            self.stdout.write(line)
