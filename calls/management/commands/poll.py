from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import services
from calls.models import Organization, PollKind


class Command(BaseCommand):
    help = (
        "Poll every enabled organization (or one) once, now. Ignores the schedule, back-off "
        "and a refused token (to check whether it works again), and applies the answer "
        "exactly as a scheduled poll would. Exit status 0 when every poll was clean."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="organization id (default: all enabled)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["org"] is not None:
            organizations = list(Organization.objects.filter(pk=options["org"]))
            if not organizations:
                raise CommandError(f"no organization with id {options['org']}")
        else:
            organizations = list(Organization.objects.filter(enabled=True))
            if not organizations:
                raise CommandError("no enabled organization to poll")
        all_clean = True
        for organization in organizations:
            attempt = services.organization_poll(organization=organization, kind=PollKind.MANUAL)
            run = attempt.run
            all_clean &= attempt.clean
            line = (
                f"org {organization.pk} {organization.name}: {run.outcome}"
                f" http={run.http_status or '-'} seen={run.calls_seen} new={run.calls_new}"
                f" changed={run.calls_changed} ended={run.calls_ended}"
                f" rejected={run.calls_rejected} {run.duration_ms}ms"
            )
            if run.error:
                line += f" — {run.error}"
            self.stdout.write(line)
        if not all_clean:
            raise SystemExit(1)
