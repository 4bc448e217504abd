"""How much a project stores: invocations and steps counted, bytes estimated on PostgreSQL."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Min, Sum

from traceview.core.models import Invocation, Project, Step
from traceview.retention.purge import dependents


def _tables_under(model) -> list:
    found = [model]
    for child, _column in dependents(model):
        found.extend(_tables_under(child))
    return found


def _table_bytes(models_) -> int:
    """Tables, their indexes and TOAST together (pg_total_relation_size), a partitioned table's
    as the sum of its partitions' (its own is nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(p.relid)), 0) "
            "FROM unnest(%s::text[]) AS t, pg_partition_tree(t::regclass) AS p",
            [[m._meta.db_table for m in models_]],
        )
        return int(cursor.fetchone()[0])


def project_storage(project: Project) -> dict:
    """The project's invocations, their steps (the invocations' own counts), its oldest data and,
    on PostgreSQL, an estimate of its bytes: each table's total size shared out by the project's
    part of the invocations (invocation-level tables) or of the steps (steps and payloads)."""
    mine = Invocation.objects.filter(project=project).aggregate(
        invocations=Count("id"), steps=Sum("step_count"), oldest=Min("created_at")
    )
    out = {
        "invocations": mine["invocations"],
        "steps": mine["steps"] or 0,
        "oldest": mine["oldest"],
        "bytes": None,
    }
    if connection.vendor != "postgresql" or not out["invocations"]:
        return out
    everyone = Invocation.objects.aggregate(invocations=Count("id"), steps=Sum("step_count"))
    step_tables = _tables_under(Step)
    invocation_tables = [m for m in _tables_under(Invocation) if m not in step_tables]
    share_inv = out["invocations"] / max(everyone["invocations"], 1)
    share_steps = out["steps"] / max(everyone["steps"] or 0, 1)
    out["bytes"] = round(
        _table_bytes(invocation_tables) * share_inv + _table_bytes(step_tables) * share_steps
    )
    return out
