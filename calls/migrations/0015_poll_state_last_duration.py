"""How long each organization's latest poll waited for its answer, which the scheduler reads
to batch only polls that leave each other on time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0014_activity_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="organizationpollstate",
            name="last_duration_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
