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
        for organization, counts in report.items():
            self.stdout.write(
                f"org {organization.pk} {organization.name} "
                f"(retention {organization.retention_days} days): {verb} {_counted(counts)}"
            )
        total = services.PurgeCounts(
            calls=sum(counts.calls for counts in report.values()),
            snapshots=sum(counts.snapshots for counts in report.values()),
            poll_runs=sum(counts.poll_runs for counts in report.values()),
        )
        self.stdout.write(f"total: {verb} {_counted(total)}")


def _counted(counts: services.PurgeCounts) -> str:
    return f"{counts.calls} calls, {counts.snapshots} snapshots, {counts.poll_runs} poll runs"
