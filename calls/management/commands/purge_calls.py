from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from calls import services


class Command(BaseCommand):
    help = (
        "End live calls that no poll has confirmed for CALL_UNCONFIRMED_END_SECONDS (at their "
        "last sighting), then delete ended calls (with their snapshots) and poll runs older "
        "than each organization's retention period, and audit events older than "
        "AUDIT_RETENTION_DAYS. Live calls are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be ended and deleted, change nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        report = services.calls_purge(now=timezone.now(), dry_run=dry_run)
        verbs = _Verbs(dry_run=dry_run)
        for organization, counts in report.organizations.items():
            self.stdout.write(
                f"org {organization.pk} {organization.name} "
                f"(retention {organization.retention_days} days): {verbs.counted(counts)}"
            )
        self.stdout.write(
            f"audit events (retention {settings.AUDIT_RETENTION_DAYS} days): "
            f"{verbs.delete} {report.audit_events}"
        )
        self.stdout.write(f"total: {verbs.counted(report.total)}")


class _Verbs:
    def __init__(self, *, dry_run: bool) -> None:
        self.end = "would end" if dry_run else "ended"
        self.delete = "would delete" if dry_run else "deleted"

    def counted(self, counts: services.PurgeCounts) -> str:
        return (
            f"{self.end} {counts.ended} unconfirmed live calls; {self.delete} {counts.calls} "
            f"calls, {counts.snapshots} snapshots, {counts.poll_runs} poll runs"
        )
