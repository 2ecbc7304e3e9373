"""A poll run whose answer was not applied, being older than one already applied."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0009_token_origin_end_reason_answer_start"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pollrun",
            name="outcome",
            field=models.CharField(
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
    ]
