"""The Activity page's index: an organization's calls by when they were first seen, with
their end, so that counting the calls started or live in a window reads the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0013_poll_and_export_tallies"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="call",
            index=models.Index(
                fields=["organization", "first_seen_at", "ended_at"],
                name="calls_call_organiz_c82355_idx",
            ),
        ),
    ]
