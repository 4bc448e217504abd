"""`manage.py serve_otlp_grpc`: the OTLP/gRPC server, a process of its own beside the web server
and the workers (see ingest/otlp_grpc.py). `make run` starts it; in production run one (or more,
behind a gRPC-aware load balancer) like the web processes."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ingest.otlp_grpc import SERVICES, otlp_grpc_server


class Command(BaseCommand):
    help = "Serve OTLP over gRPC (TraceService, LogsService, MetricsService Export)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind", default=settings.TRACEVIEW_OTLP_GRPC_BIND,
            help="host:port to listen on (TRACEVIEW_OTLP_GRPC_BIND, default 127.0.0.1:4317; "
                 "port 0 picks a free one)",
        )
        parser.add_argument(
            "--threads", type=int, default=settings.TRACEVIEW_OTLP_GRPC_THREADS,
            help="requests served at once (TRACEVIEW_OTLP_GRPC_THREADS, default 8)",
        )

    def handle(self, bind, threads, **options):
        try:
            server, port = otlp_grpc_server(bind, threads)
        except RuntimeError as exc:  # grpc's "Failed to bind"
            raise CommandError(f"cannot listen on {bind}: {exc}") from None
        host = bind.rpartition(":")[0]
        services = ", ".join(s.rsplit(".", 1)[-1] for s in SERVICES)
        self.stdout.write(f"OTLP/gRPC listening on {host}:{port} ({services})", ending="\n")
        self.stdout.flush()
        stopped = threading.Event()

        def stop(signum, frame):
            stopped.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopped.wait(1):
            pass
        # Requests in flight get a few seconds to commit and answer; new ones are refused.
        server.stop(grace=5).wait()
        self.stdout.write("OTLP/gRPC server stopped.")
