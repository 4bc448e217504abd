"""Steps and payloads partitioned by their invocation's creation time on PostgreSQL
(traceview.core.partitions): the key column on both, the payload's foreign key to its step kept
in Django only, then, on PostgreSQL, each table copied into a partitioned one and swapped in.

The copy-and-swap, per table: the old table is renamed aside, a partitioned table made LIKE it
(columns, defaults, identity, storage and compression), partitions created for every period the
rows fall in plus the current one and those ahead and a default, the rows moved with their key
(the invocation's created_at, or the step's for a payload), the old table dropped, and its
constraints and indexes created again under their own names: primary and unique keys with the
partition key added, as PostgreSQL requires. The identity sequence carries on from the old one.
Backwards, the same copy into a plain table, keys without the partition key. Elsewhere (SQLite)
the key column is filled and the schema is otherwise unchanged.
"""

import django.db.models.deletion
from django.db import migrations, models

import traceview.core.models

KEY = "invocation_created_at"


def _columns(cursor, table):
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum", [table])
    return [r[0] for r in cursor.fetchall()]


def _constraints(cursor, table):
    """(name, type, definition, columns) of the table's keys, foreign keys and checks."""
    cursor.execute(
        "SELECT c.conname, c.contype, pg_get_constraintdef(c.oid), ARRAY("
        "  SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o) "
        "  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) "
        "FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u', 'f', 'c') "
        "AND c.conparentid = 0 ORDER BY c.contype DESC, c.conname", [table])
    return cursor.fetchall()


def _indexes(cursor, table):
    """CREATE INDEX statements of the table's indexes that no constraint owns."""
    cursor.execute(
        "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid "
        "AND c.conrelid = x.indrelid)", [table])
    # A partitioned table's index reads "ON ONLY t": created so it would not reach the partitions.
    return [r[0].replace(" ON ONLY ", " ON ") for r in cursor.fetchall()]


def _swap(schema_editor, table, partitioned, select):
    """Copy `table` into a new table (partitioned by KEY or plain) and swap it in. `select` is
    the query that reads the rows, in the table's column order, from `old` (the table renamed)."""
    from traceview.core import partitions

    qn = schema_editor.connection.ops.quote_name
    old = f"{table}__old"
    with schema_editor.connection.cursor() as cursor:
        columns = _columns(cursor, table)
        constraints = _constraints(cursor, table)
        indexes = _indexes(cursor, table)
        sequence = None
        if "id" in columns:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(old)}")
        cursor.execute(
            f"CREATE TABLE {qn(table)} (LIKE {qn(old)} INCLUDING DEFAULTS INCLUDING IDENTITY "
            f"INCLUDING STORAGE INCLUDING COMPRESSION)"
            + (f" PARTITION BY RANGE ({qn(KEY)})" if partitioned else ""))
        if partitioned:
            cursor.execute(f"SELECT min({qn(KEY)}), max({qn(KEY)}) FROM ({select}) AS rows")
            lo, hi = cursor.fetchone()
            partitions.partitions_ensure(tables=[table])
            if lo is not None:
                partitions.partitions_ensure(lo, hi, tables=[table])
        listed = ", ".join(qn(c) for c in columns)
        cursor.execute(f"INSERT INTO {qn(table)} ({listed}) {select}")
        if sequence:
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
            value, called = cursor.fetchone()
        cursor.execute(f"DROP TABLE {qn(old)}")
        if sequence:
            # The new identity's sequence was named beside the old one's: take its name back.
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RENAME TO {qn(table + '_id_seq')}")
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
                           [table, value, called])
        for name, kind, definition, keyed in constraints:
            if kind in ("p", "u"):
                keyed = [c for c in keyed if c != KEY] + ([KEY] if partitioned else [])
                definition = ("PRIMARY KEY" if kind == "p" else "UNIQUE") + \
                    f" ({', '.join(qn(c) for c in keyed)})"
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
        for statement in indexes:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {qn(table)}")


def partition(apps, schema_editor):
    qn = schema_editor.connection.ops.quote_name
    step = apps.get_model("traceview", "Step")._meta.db_table
    payload = apps.get_model("traceview", "StepPayload")._meta.db_table
    invocation = apps.get_model("traceview", "Invocation")._meta.db_table
    if schema_editor.connection.vendor != "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"UPDATE {qn(step)} SET {KEY} = (SELECT created_at FROM "
                           f"{qn(invocation)} i WHERE i.id = {qn(step)}.invocation_id)")
            cursor.execute(f"UPDATE {qn(payload)} SET {KEY} = (SELECT s.{KEY} FROM {qn(step)} s "
                           f"WHERE s.id = {qn(payload)}.step_id)")
        return

    # Each row's key from its invocation (a step) or its step (a payload, once the steps moved).
    for table, key, source in (
        (step, "i.created_at", f"JOIN {qn(invocation)} i ON i.id = o.invocation_id"),
        (payload, f"s.{KEY}", f"JOIN {qn(step)} s ON s.id = o.step_id"),
    ):
        with schema_editor.connection.cursor() as cursor:
            listed = ", ".join(f"{key} AS {KEY}" if c == KEY else f"o.{qn(c)}"
                               for c in _columns(cursor, table))
        _swap(schema_editor, table, True, f"SELECT {listed} FROM {qn(table + '__old')} o {source}")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    qn = schema_editor.connection.ops.quote_name
    for model in ("Step", "StepPayload"):
        table = apps.get_model("traceview", model)._meta.db_table
        with schema_editor.connection.cursor() as cursor:
            listed = ", ".join(f"o.{qn(c)}" for c in _columns(cursor, table))
        _swap(schema_editor, table, False, f"SELECT {listed} FROM {qn(table + '__old')} o")


class Migration(migrations.Migration):

    dependencies = [
        ('traceview', '0014_search_vector_list_stats'),
    ]

    operations = [
        migrations.AddField(
            model_name='step',
            name='invocation_created_at',
            field=traceview.core.models.CopiedDateTimeField(editable=False, null=True, source='invocation.created_at'),
        ),
        migrations.AddField(
            model_name='steppayload',
            name='invocation_created_at',
            field=traceview.core.models.CopiedDateTimeField(editable=False, null=True, source='step.invocation_created_at'),
        ),
        migrations.AlterField(
            model_name='steppayload',
            name='step',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='payload', serialize=False, to='traceview.step'),
        ),
        migrations.RunPython(partition, unpartition),
        # Not null in the models. In PostgreSQL's tables the primary keys made it so; SQLite's
        # column stays nullable rather than copying both tables to say so.
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='step',
                name='invocation_created_at',
                field=traceview.core.models.CopiedDateTimeField(editable=False, source='invocation.created_at'),
            ),
            migrations.AlterField(
                model_name='steppayload',
                name='invocation_created_at',
                field=traceview.core.models.CopiedDateTimeField(editable=False, source='step.invocation_created_at'),
            ),
        ]),
    ]
