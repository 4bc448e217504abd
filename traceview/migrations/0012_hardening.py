"""Rollup state per project, so that one project's refresh can fail without stopping another's.

The one global state row is dropped: each project's first refresh after this rebuilds its
rollups whole (what the first refresh ever did), then goes on incrementally.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_global_state(apps, schema_editor):
    apps.get_model("traceview", "RollupState").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("traceview", "0011_retention"),
    ]

    operations = [
        migrations.RunPython(drop_global_state, migrations.RunPython.noop),
        migrations.AddField(
            model_name="rollupstate",
            name="project",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="traceview.project",
            ),
            preserve_default=False,
        ),
    ]
