# Sessions (runs sharing a conversation id) and model calls without a known price.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('traceview', '0009_judge'),
    ]

    operations = [
        migrations.AddField(
            model_name='invocation',
            name='session_id',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='invocation',
            name='unpriced_calls',
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name='invocationrollup',
            name='unpriced',
            field=models.IntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name='invocation',
            index=models.Index(condition=models.Q(('session_id', ''), _negated=True), fields=['project', 'session_id', 'created_at'], name='inv_session'),
        ),
    ]
