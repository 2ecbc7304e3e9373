"""The poll state moves from Organization to a row of its own (OrganizationPollState), so
that saving an organization's settings never writes it. Each organization's state is copied
over (and back, when the migration is reversed)."""

import django.db.models.deletion
from django.db import migrations, models

_STATE_FIELDS = (
    "status",
    "next_poll_at",
    "last_attempt_at",
    "last_success_at",
    "sighted_at",
    "answer_started_at",
    "last_error",
    "last_error_at",
    "consecutive_failures",
    "feed_version",
)


def _state_copy(apps, schema_editor) -> None:
    Organization = apps.get_model("calls", "Organization")
    OrganizationPollState = apps.get_model("calls", "OrganizationPollState")
    OrganizationPollState.objects.bulk_create(
        OrganizationPollState(organization_id=row["pk"], **{f: row[f] for f in _STATE_FIELDS})
        for row in Organization.objects.order_by("pk").values("pk", *_STATE_FIELDS)
    )


def _state_copy_back(apps, schema_editor) -> None:
    Organization = apps.get_model("calls", "Organization")
    OrganizationPollState = apps.get_model("calls", "OrganizationPollState")
    for row in OrganizationPollState.objects.order_by("pk").values("pk", *_STATE_FIELDS):
        Organization.objects.filter(pk=row.pop("pk")).update(**row)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0011_no_default_ordering"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrganizationPollState",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="poll_state",
                        serialize=False,
                        to="calls.organization",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("ok", "Ok"),
                            ("degraded", "Degraded"),
                            ("auth_failed", "Auth Failed"),
                            ("disabled", "Disabled"),
                        ],
                        default="ok",
                        max_length=12,
                    ),
                ),
                ("next_poll_at", models.DateTimeField(blank=True, null=True)),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_success_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last clean poll"),
                ),
                ("sighted_at", models.DateTimeField(blank=True, null=True)),
                ("answer_started_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=500)),
                ("last_error_at", models.DateTimeField(blank=True, null=True)),
                ("consecutive_failures", models.PositiveIntegerField(default=0)),
                ("feed_version", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "poll state",
            },
        ),
        migrations.RunPython(_state_copy, _state_copy_back),
        migrations.RemoveIndex(
            model_name="organization",
            name="calls_organ_enabled_58c923_idx",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="answer_started_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="consecutive_failures",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="feed_version",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="last_attempt_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="last_error",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="last_error_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="last_success_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="next_poll_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="sighted_at",
        ),
        migrations.RemoveField(
            model_name="organization",
            name="status",
        ),
        migrations.AddIndex(
            model_name="organizationpollstate",
            index=models.Index(fields=["next_poll_at"], name="calls_organ_next_po_673db3_idx"),
        ),
    ]
