"""`make run`: the web server, a real Celery worker (with the periodic sweep) and the OTLP/gRPC
server in one command, plus a worker for the judge's queue when the judge is configured.

The worker is a separate process on the configured broker (the filesystem transport by default),
so tasks run exactly as in production, never eagerly inside the request. The OTLP/gRPC server
(`serve_otlp_grpc`, TRACEVIEW_OTLP_GRPC_BIND) is its own process too, as in production. Ctrl-C
stops them all.
"""

import os
import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.management.commands.runserver import Command as RunserverCommand

from traceview.devserver import DEFAULT_ADDRPORT, DevWSGIServer
from traceview.judge.services import judge_config


class DevRunserver(RunserverCommand):
    """Django's runserver, reading chunked request bodies as gunicorn does."""

    server_cls = DevWSGIServer


class Command(BaseCommand):
    help = ("Run the development web server together with a Celery worker and beat, and the "
            "OTLP/gRPC server.")

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default=DEFAULT_ADDRPORT)

    def handle(self, addrport, **options):
        # Stop on Ctrl-C and on `kill` alike, even when started from a shell that ignores
        # SIGINT for background jobs (Python then leaves SIGINT ignored too).
        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        celery = [sys.executable, "-m", "celery", "-A", "traceview", "worker", "--pool=solo",
                  "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        workers = [subprocess.Popen([*celery, "-B"])]
        self.stdout.write(f"Celery worker started (pid {workers[0].pid}).")
        if judge_config() is not None:
            # The judge's queue gets a worker of its own, so that waiting on a model never
            # holds up classification.
            workers.append(subprocess.Popen([*celery, "-Q", "judge", "-n", "judge@%h"]))
            self.stdout.write(f"Celery worker for the judge's queue started "
                              f"(pid {workers[-1].pid}).")
        # By command name, in a process of its own: traceview/ never imports ingest/.
        workers.append(subprocess.Popen([sys.executable, "-m", "django", "serve_otlp_grpc"],
                                        env={"DJANGO_SETTINGS_MODULE": "traceview.settings",
                                             **os.environ}))
        self.stdout.write(f"OTLP/gRPC server started (pid {workers[-1].pid}).")
        try:
            call_command(DevRunserver(), addrport, use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
            self.stdout.write("Stopped.")
