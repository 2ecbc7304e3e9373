from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import services
from calls.models import Organization, PollKind, PollRun


class Command(BaseCommand):
    help = (
        "Poll every enabled organization (or one) once, now. Ignores the schedule, back-off "
        "and a refused token (to check whether it works again), and applies the answer "
        "exactly as a scheduled poll would. Exit status 0 only when every poll was clean."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="organization id (default: all enabled)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["org"] is not None:
            organizations = list(Organization.objects.filter(pk=options["org"]))
            if not organizations:
                raise CommandError(f"no organization with id {options['org']}")
        else:
            organizations = list(Organization.objects.filter(enabled=True).order_by("name", "pk"))
            if not organizations:
                raise CommandError("no enabled organization to poll")
        all_clean = True
        for organization in organizations:
            try:
                # Wait for a scheduled poll in flight rather than overlap it.
                attempt = services.organization_poll(
                    organization=organization,
                    kind=PollKind.MANUAL,
                    wait_seconds=settings.POLL_TOTAL_TIMEOUT,
                )
            except services.PollInProgress:
                self.stdout.write(f"{_name(organization)}: locked by a poll that never ended")
                all_clean = False
                continue
            all_clean &= attempt.clean
            self.stdout.write(_line(organization, attempt.run))
        if not all_clean:
            raise CommandError("not every poll was clean", returncode=1)


def _name(organization: Organization) -> str:
    return f"org {organization.pk} {organization.name}"


def _line(organization: Organization, run: PollRun) -> str:
    line = (
        f"{_name(organization)}: {run.outcome}"
        f" http={run.http_status or '-'} seen={run.calls_seen} new={run.calls_new}"
        f" changed={run.calls_changed} ended={run.calls_ended}"
        f" rejected={run.calls_rejected} {run.duration_ms}ms"
    )
    return f"{line} — {run.error}" if run.error else line
