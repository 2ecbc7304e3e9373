"""Cumulative poll and export tallies, the counters and histograms of /metrics."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0012_organization_poll_state"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("door", models.CharField(max_length=20, unique=True)),
                ("count", models.BigIntegerField(default=0)),
                ("rows", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="PollTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("clean", "Clean"),
                            ("filtered", "Filtered"),
                            ("partial", "Partial"),
                            ("auth_failed", "Auth Failed"),
                            ("rate_limited", "Rate Limited"),
                            ("unavailable", "Unavailable"),
                            ("bad_response", "Bad Response"),
                            ("rejected", "Rejected"),
                            ("error", "Error"),
                            ("superseded", "Superseded"),
                        ],
                        max_length=14,
                    ),
                ),
                ("http_status", models.PositiveSmallIntegerField()),
                ("duration_bucket", models.SmallIntegerField()),
                ("lag_bucket", models.SmallIntegerField()),
                ("count", models.BigIntegerField(default=0)),
                (
                    "duration_sum",
                    models.FloatField(default=0.0, verbose_name="duration sum (seconds)"),
                ),
                ("lag_sum", models.FloatField(default=0.0, verbose_name="lag sum (seconds)")),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="poll_tallies",
                        to="calls.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "organization",
                            "outcome",
                            "http_status",
                            "duration_bucket",
                            "lag_bucket",
                        ),
                        name="one_poll_tally_per_key",
                    )
                ],
            },
        ),
    ]
