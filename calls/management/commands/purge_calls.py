from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from calls import services


class Command(BaseCommand):
    help = (
        "Delete ended calls (with their snapshots) and poll runs older than each "
        "organization's retention period. Live calls are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        report = services.calls_purge(now=timezone.now(), dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        totals = [0, 0, 0]
        for organization, counts in report.items():
            self.stdout.write(
                f"org {organization.pk} {organization.name} "
                f"(retention {organization.retention_days} days): {verb} "
                f"{counts.calls} calls, {counts.snapshots} snapshots, "
                f"{counts.poll_runs} poll runs"
            )
            totals = [
                totals[0] + counts.calls,
                totals[1] + counts.snapshots,
                totals[2] + counts.poll_runs,
            ]
        self.stdout.write(
            f"total: {verb} {totals[0]} calls, {totals[1]} snapshots, {totals[2]} poll runs"
        )
