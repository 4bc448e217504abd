"""Indexes for the invocation list: keyset sorts, the model filter, and search by name.

The search indexes are PostgreSQL expression GIN indexes over what ingest already writes, so no
column has to be kept up to date on write. Each expression must stay identical to the one in
traceview/queries.py (SEARCH_SQL), or the planner will not use the index. Text is cut to 100,000
characters first: a tsvector is limited to 1 MB, and a longer payload would make its insert fail.
On SQLite the list falls back to substring matching and these indexes are not created.
"""

import django.db.models.expressions
from django.db import migrations, models

SEARCH_INDEXES = {
    "inv_search": (
        "traceview_invocation",
        "to_tsvector('simple'::regconfig, left(\"name\" || ' ' || \"trace_id\", 100000))",
    ),
}


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in SEARCH_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (({expression}))'
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEARCH_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):

    dependencies = [
        ('traceview', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='invocation',
            index=models.Index(fields=['-created_at', '-id'], name='inv_recent'),
        ),
        migrations.AddIndex(
            model_name='invocation',
            index=models.Index(fields=['agent', '-created_at', '-id'], name='inv_agent_recent'),
        ),
        migrations.AddIndex(
            model_name='invocation',
            index=models.Index(fields=['project', '-cost_usd', '-id'], name='inv_project_cost'),
        ),
        migrations.AddIndex(
            model_name='invocation',
            index=models.Index(
                models.F('project'),
                models.OrderBy(
                    django.db.models.expressions.CombinedExpression(
                        models.F('input_tokens'), '+', models.F('output_tokens')
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F('id'), descending=True),
                name='inv_project_tokens',
            ),
        ),
        migrations.AddIndex(
            model_name='step',
            index=models.Index(
                condition=models.Q(('model', ''), _negated=True),
                fields=['model', 'invocation'],
                name='step_model',
            ),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes),
    ]
