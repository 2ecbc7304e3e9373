"""Personal data retention: live calls no poll has confirmed for CALL_UNCONFIRMED_END_SECONDS
are ended first; then ended calls (and their snapshots) and old poll runs go away after their
organization's retention period, and audit events after AUDIT_RETENTION_DAYS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from calls.models import Call, CallSnapshot, Organization, PollRun
from calls.services.audit import audit_events_purge
from calls.services.unconfirmed import calls_end_unconfirmed, calls_past_confirmation


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    calls: int = 0
    snapshots: int = 0
    poll_runs: int = 0
    # Live calls ended as not confirmed by the feed (before the deletions).
    ended: int = 0

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(
            calls=self.calls + other.calls,
            snapshots=self.snapshots + other.snapshots,
            poll_runs=self.poll_runs + other.poll_runs,
            ended=self.ended + other.ended,
        )


@dataclass(frozen=True, slots=True)
class PurgeReport:
    organizations: dict[Organization, PurgeCounts] = field(default_factory=dict)
    audit_events: int = 0

    @property
    def total(self) -> PurgeCounts:
        return sum(self.organizations.values(), PurgeCounts())


def calls_purge(*, now: datetime, dry_run: bool = False) -> PurgeReport:
    """End the calls past confirmation, then delete what is past retention; with `dry_run`,
    count what would be, including the calls the ending would have let go."""
    ended = calls_end_unconfirmed(now=now, dry_run=dry_run)
    report: dict[Organization, PurgeCounts] = {}
    for organization in Organization.objects.order_by("name", "pk"):
        cutoff = now - timedelta(days=organization.retention_days)
        calls = Call.objects.filter(organization=organization, ended_at__lt=cutoff)
        runs = PollRun.objects.filter(organization=organization, started_at__lt=cutoff)
        counts = PurgeCounts(
            calls=calls.count(),
            snapshots=CallSnapshot.objects.filter(call__in=calls).count(),
            poll_runs=runs.count(),
            ended=ended.get(organization.pk, 0),
        )
        if dry_run:
            counts += _counted(_ended_unconfirmed(organization, cutoff=cutoff, now=now))
        elif counts.calls or counts.poll_runs:
            with transaction.atomic():
                CallSnapshot.objects.filter(call__in=calls).delete()
                calls.delete()
                runs.delete()
        report[organization] = counts
    return PurgeReport(
        organizations=report, audit_events=audit_events_purge(now=now, dry_run=dry_run)
    )


def _ended_unconfirmed(
    organization: Organization, *, cutoff: datetime, now: datetime
) -> QuerySet[Call]:
    """The live calls that the ending would end at a sighting before `cutoff`."""
    return calls_past_confirmation(now=now, sighted_before=cutoff).filter(organization=organization)


def _counted(calls: QuerySet[Call]) -> PurgeCounts:
    return PurgeCounts(
        calls=calls.count(), snapshots=CallSnapshot.objects.filter(call__in=calls).count()
    )
