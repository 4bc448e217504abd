"""Create an ingest API key for a project (creating the project if needed).

The key is printed once, as the last line of the output; only its hash is stored.
"""

from django.core.management.base import BaseCommand

from traceview.core.models import ApiKey, Project


class Command(BaseCommand):
    help = "Create an API key for PROJECT (created if missing) and print it as the last line."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--name", default="", help="a label for the key")

    def handle(self, project, name, **options):
        proj, created = Project.objects.get_or_create(name=project)
        if created:
            self.stdout.write(f"Created project {proj.name!r}.")
        key, raw = ApiKey.issue(proj, name=name)
        self.stdout.write(
            f"New API key {key.prefix}… for project {proj.name!r} "
            "(shown once; only its hash is kept):"
        )
        self.stdout.write(
            f"Langfuse clients: public key {key.public_key}, secret key = the API key."
        )
        self.stdout.write(
            "Pages: superusers see every project; add other users as members in /admin/ "
            f"(Projects → {proj.name} → members)."
        )
        self.stdout.write(raw)
