"""Compress step payloads with lz4 instead of pglz on PostgreSQL.

A payload row (messages, tool arguments and results, raw attributes) is a few kilobytes, so
PostgreSQL compresses nearly every one on insert. With pglz that compression is about a third of
the database's work per ingested span; lz4 does it in a fraction of the time at a similar size
(measured with bench_ingest). Only rows written afterwards are affected, and reads handle both.
Servers built without lz4 keep pglz; SQLite has nothing to change.
"""

from django.db import migrations

COLUMNS = ("tool_arguments", "tool_result", "input", "output", "attributes", "events",
           "error_traceback")


def set_compression(method):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or connection.pg_version < 140000:
            return
        table = apps.get_model("traceview", "StepPayload")._meta.db_table
        alter = ", ".join(f'ALTER COLUMN "{c}" SET COMPRESSION {method}' for c in COLUMNS)
        schema_editor.execute(
            f'DO $$ BEGIN ALTER TABLE "{table}" {alter}; '
            "EXCEPTION WHEN feature_not_supported THEN "
            "RAISE NOTICE 'lz4 is not available: step payloads stay compressed with pglz'; "
            "END $$"
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("traceview", "0003_triage")]

    operations = [
        migrations.RunPython(set_compression("lz4"), set_compression("pglz"), elidable=True),
    ]
