"""Personal data retention: ended calls (and their snapshots) and old poll runs go away after
their organization's retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from calls.models import Call, CallSnapshot, Organization, PollRun


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    calls: int = 0
    snapshots: int = 0
    poll_runs: int = 0


def calls_purge(*, now: datetime, dry_run: bool = False) -> dict[Organization, PurgeCounts]:
    report: dict[Organization, PurgeCounts] = {}
    for organization in Organization.objects.all():
        cutoff = now - timedelta(days=organization.retention_days)
        calls = Call.objects.filter(organization=organization, ended_at__lt=cutoff)
        runs = PollRun.objects.filter(organization=organization, started_at__lt=cutoff)
        counts = PurgeCounts(
            calls=calls.count(),
            snapshots=CallSnapshot.objects.filter(call__in=calls).count(),
            poll_runs=runs.count(),
        )
        if not dry_run and (counts.calls or counts.poll_runs):
            with transaction.atomic():
                CallSnapshot.objects.filter(call__in=calls).delete()
                calls.delete()
                runs.delete()
        report[organization] = counts
    return report
