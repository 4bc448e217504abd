"""`import_traces PATH... --project P`: load trace files into a project.

Each file is parsed by the format module it belongs to (trajectories.py for SWE-agent, OpenHands and
message logs; otlp.py for OTLP exports and OpenTelemetry ReadableSpan dumps; openai_agents.py;
langfuse.py for ingestion batches and trace exports) and stored through `invocations_store`, the
same upsert the HTTP endpoints use, so importing a file twice changes nothing.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ingest.formats.errors import FormatError
from ingest.formats.otlp import (
    OtlpDecodeError,
    otlp_to_invocations,
    readable_spans_to_invocations,
)
from ingest.formats.trajectories import detect_format, parse_trace_data, read_trace_file
from ingest.store import invocations_store
from traceview.core.trace import InvocationData
from traceview.models import Project

FORMATS = ("auto", "otlp-json", "openai-agents", "langfuse", "swe-agent", "openhands", "messages")
JSON_SUFFIXES = (".json", ".jsonl", ".traj")
PROTOBUF_SUFFIXES = (".pb", ".pb.gz")

HELP = """Import trace files into a project (created when missing).

PATH is a file or a folder (searched recursively; files whose names start with "." are
ignored). Read: .json/.traj (JSON) and .jsonl (one JSON value per line) in any supported format,
and .pb/.pb.gz (an OTLP ExportTraceServiceRequest in protobuf, gzip-compressed or not).
With --format auto the format of each file is detected from its content; OTLP/JSON files
(resourceSpans) and OpenTelemetry ReadableSpan dumps (span.to_json(), as any-agent saves them)
are both "otlp-json".

One line is printed per file: what it imported, or why it was skipped. Importing the same file
again updates the same invocations and adds nothing.

Exit status: 0 when at least one file was imported, or when every file found was skipped only
because it is not a trace file (an unknown format or an unsupported extension); 1 when a PATH
does not exist, or when no file was imported and at least one failed (invalid JSON or a format
error in a file that looked like a trace).
"""


class Skipped(Exception):
    """A file that was not imported; `error` says whether it looked like a trace and failed."""

    def __init__(self, reason: str, error: bool):
        super().__init__(reason)
        self.reason, self.error = reason, error


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--project", required=True, help="project name (created if missing)")
        parser.add_argument("--format", default="auto", choices=FORMATS, dest="fmt")

    def handle(self, paths, project, fmt, **options):
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise CommandError("no such file or folder: " + ", ".join(missing))
        target, _ = Project.objects.get_or_create(name=project)
        imported = failed = 0
        for path in _files(paths):
            try:
                invocations, detected = file_invocations(path, fmt)
            except Skipped as exc:
                failed += exc.error
                self.stdout.write(f"skipped {path}: {exc.reason}")
                continue
            result = invocations_store(target, invocations)
            imported += 1
            self.stdout.write(
                f"imported {path}: {result.invocations} invocation"
                f"{'s' if result.invocations != 1 else ''}, {result.steps} steps ({detected})"
            )
        if failed and not imported:
            raise CommandError(f"nothing imported: {failed} file(s) could not be read")


def _files(paths: list[str]):
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            yield p


def file_invocations(path: Path, fmt: str = "auto") -> tuple[list[InvocationData], str]:
    """Parse one file into invocations and the format it was read as; Skipped when it cannot."""
    name = path.name.lower()
    if name.endswith(PROTOBUF_SUFFIXES):
        return _protobuf(path, fmt), "otlp-protobuf"
    if not name.endswith(JSON_SUFFIXES):
        raise Skipped("not a trace file (expected .json, .jsonl, .traj, .pb or .pb.gz)", False)
    try:
        data = read_trace_file(path)
    except FormatError as exc:
        raise Skipped(str(exc), True) from None
    except OSError as exc:
        raise Skipped(f"cannot read: {exc.strerror or exc}", True) from None
    if fmt == "auto":
        fmt = _detect(path, data)
    try:
        if fmt == "otlp-json":
            invocations = _otlp_json(path, data)
        else:
            invocations = parse_trace_data(fmt, data)
    except FormatError as exc:
        raise Skipped(f"{fmt}: {exc}", True) from None
    except OtlpDecodeError as exc:
        raise Skipped(f"{fmt}: {exc.reason}", True) from None
    if not invocations:
        raise Skipped(f"{fmt}: the file holds no trace", False)
    return invocations, fmt


def _detect(path: Path, data) -> str:
    try:
        return detect_format(path, data)
    except FormatError as exc:
        if _looks_like_readable_spans(data):
            return "otlp-json"
        raise Skipped(f"unknown format ({exc})", False) from None


def _looks_like_readable_spans(data) -> bool:
    spans = data.get("spans") if isinstance(data, dict) else data
    return (
        isinstance(spans, list)
        and bool(spans)
        and all(
            isinstance(s, dict) and isinstance(s.get("context") or s.get("spanContext"), dict)
            for s in spans
        )
    )


def _otlp_json(path: Path, data) -> list[InvocationData]:
    if isinstance(data, dict) and ("resourceSpans" in data or "resource_spans" in data):
        # The OTLP entry point takes the body as the endpoint receives it, so a file and a
        # request with the same bytes give the same invocations.
        invocations, rejected, messages = otlp_to_invocations(path.read_bytes(), "application/json")
        if rejected and not invocations:
            raise OtlpDecodeError("; ".join(messages))
        return invocations
    return readable_spans_to_invocations(data)


def _protobuf(path: Path, fmt: str) -> list[InvocationData]:
    if fmt not in ("auto", "otlp-json"):
        raise Skipped(f"a protobuf file cannot be read as {fmt}", True)
    body = path.read_bytes()
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise Skipped(f"not valid gzip: {exc}", True) from None
    try:
        invocations, rejected, messages = otlp_to_invocations(body, "application/x-protobuf")
    except OtlpDecodeError as exc:
        raise Skipped(f"otlp-protobuf: {exc.reason}", True) from None
    if not invocations:
        raise Skipped("otlp-protobuf: " + ("; ".join(messages) or "no spans"), True)
    return invocations
