"""A database built by the migrations of the last release upgrades with `migrate` alone, and the
models read its rows: where a model's module lives never moves its table (one app label,
default table names), and the models never drift from the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from traceview.models import (
    Agent,
    ApiKey,
    Diagnosis,
    Invocation,
    InvocationRollup,
    Issue,
    IssueInvocation,
    ModelPrice,
    Project,
    ScopeViolation,
    Step,
    StepPayload,
)

# The last migration of the release before the regrouping into packages (issue 13).
RELEASED = ("traceview", "0008_scope_rollups")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _released_rows(old) -> dict[str, int]:
    """Rows written through the models as migration 0008 left them (the historical models)."""
    project = old.get_model("traceview", "Project").objects.create(name="acme")
    old.get_model("traceview", "ApiKey").objects.create(
        project=project, prefix="tv_abc", hashed_key="0" * 64
    )
    agent = old.get_model("traceview", "Agent").objects.create(
        project=project, name="support-bot", allowed_tools=["lookup_*"]
    )
    invocation = old.get_model("traceview", "Invocation").objects.create(
        project=project, agent=agent, trace_id="t1", status="error", category="tool",
        cost_usd=Decimal("0.25"), created_at=T0,
    )
    step = old.get_model("traceview", "Step").objects.create(
        invocation=invocation, span_id="lookup-1", kind="tool", tool_name="lookup_order",
        status="error",
    )
    old.get_model("traceview", "StepPayload").objects.create(step=step)
    old.get_model("traceview", "Diagnosis").objects.create(
        invocation=invocation, category="tool", root_span_id="lookup-1", confidence=0.9,
        evidence=[{"rule": "tool.error_status", "step": "lookup-1", "detail": "503"}],
        ruleset="0.2.0",
    )
    issue = old.get_model("traceview", "Issue").objects.create(
        project=project, agent=agent, category="tool", fingerprint="f" * 64,
        title="lookup_order: HTTPError", first_seen=T0, last_seen=T0, times_seen=1,
    )
    old.get_model("traceview", "IssueInvocation").objects.create(
        invocation=invocation, issue=issue, seen_at=T0
    )
    old.get_model("traceview", "ScopeViolation").objects.create(
        project=project, invocation=invocation, agent=agent, span_id="lookup-1",
        tool_name="lookup_order", kind="unconfirmed", occurred_at=T0,
    )
    old.get_model("traceview", "InvocationRollup").objects.create(
        project=project, agent=agent, hour=T0, status="error", category="tool", invocations=1,
        cost_usd=Decimal("0.25"), input_tokens=10, output_tokens=5,
    )
    old.get_model("traceview", "ModelPrice").objects.create(
        pattern="acme-model*", input_per_mtok=Decimal("1.5"), output_per_mtok=Decimal("6"),
        effective_from=T0.date(),
    )
    return {"project": project.id, "invocation": invocation.id, "issue": issue.id}


@pytest.mark.django_db(transaction=True)
def test_it_upgrades_a_released_database_with_migrate_alone():
    call_command("migrate", *RELEASED, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(RELEASED).apps
        ids = _released_rows(old)
    finally:
        call_command("migrate", verbosity=0)

    invocation = Invocation.objects.select_related("project", "agent", "diagnosis").get(
        id=ids["invocation"]
    )
    assert invocation.project.name == "acme" and invocation.agent.allowed_tools == ["lookup_*"]
    assert invocation.diagnosis.root_span_id == "lookup-1"
    assert ApiKey.objects.get(project_id=ids["project"]).prefix == "tv_abc"
    assert Agent.objects.get(project_id=ids["project"]).name == "support-bot"
    assert Step.objects.get(invocation=invocation).tool_name == "lookup_order"
    assert StepPayload.objects.filter(step__invocation=invocation).count() == 1
    assert Diagnosis.objects.get(invocation=invocation).evidence[0]["detail"] == "503"
    assert IssueInvocation.objects.get(invocation=invocation).issue_id == ids["issue"]
    assert Issue.objects.get(id=ids["issue"]).title == "lookup_order: HTTPError"
    assert ScopeViolation.objects.get(invocation=invocation).kind == "unconfirmed"
    assert InvocationRollup.objects.get(project_id=ids["project"]).cost_usd == Decimal("0.25")
    assert ModelPrice.objects.get(pattern="acme-model*").output_per_mtok == Decimal("6")
    assert Project.objects.filter(id=ids["project"]).exists()


def test_it_keeps_every_table_where_the_migrations_put_it():
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    for model in apps.get_app_config("traceview").get_models():
        migrated = state.apps.get_model("traceview", model._meta.model_name)
        table = f"traceview_{model._meta.model_name}"
        assert model._meta.db_table == migrated._meta.db_table == table


@pytest.mark.django_db
def test_it_needs_no_new_migration():
    # Exits non-zero (SystemExit) when the models and the migrations disagree.
    call_command("makemigrations", "traceview", check=True, dry_run=True, verbosity=0)
