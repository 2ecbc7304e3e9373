"""`manage.py demo_setup`: the demo organizations and logins that `make run` starts with."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.services.demo import (
    DEMO_FEED_HOST,
    DEMO_FEED_URL,
    DEMO_LOGINS,
    DEMO_ORGANIZATIONS,
    DEMO_POLL_INTERVAL_SECONDS,
    demo_install,
)
from cipdash.env import persisted_secret

PASSWORD_ALPHABET = string.ascii_letters + string.digits  # double-click selects it whole


def demo_password(username: str) -> str:
    """Random per installation, kept in the data directory so every run prints the same one."""
    return persisted_secret(
        settings.DATA_DIR / f"demo-password-{username}",
        lambda: "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16)),
    )


class Command(BaseCommand):
    help = (
        "Create (or repair) the demo: organizations polling the sandbox feed on "
        f"{DEMO_FEED_URL}, a HOT LEAD highlight, pinned fields, and two logins whose passwords "
        "are printed. Safe to run again; refuses a production database unless asked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--web-url",
            default="http://127.0.0.1:8000/",
            help="where the dashboard is served, for the printed summary (default: %(default)s)",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even though DATABASE_URL or REDIS_URL is set (creates a staff login)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "DATABASE_URL or REDIS_URL is set, so this looks like a production deployment; "
                "the demo adds a staff login with a printed password. Use --allow-production "
                "to add it anyway."
            )
        passwords = {login.username: demo_password(login.username) for login in DEMO_LOGINS}
        try:
            organizations = demo_install(passwords=passwords, now=timezone.now())
        except ValidationError as exc:  # the sandbox's address is not an allowed host
            raise CommandError(
                f"{' '.join(exc.messages)}. `make run` lists the sandbox feed's "
                f"{DEMO_FEED_HOST} in INVOCA_ALLOWED_HOSTS; set it likewise to run this by hand."
            ) from None
        names = {organization.invoca_id: organization.name for organization in organizations}

        write = self.stdout.write
        write(self.style.SUCCESS("Demo ready."))
        write(f"  Open   {options['web_url']}")
        for login in DEMO_LOGINS:
            if login.is_staff:
                scope = "staff: every organization, and the admin at /admin/"
            else:
                scope = "agent of " + ", ".join(names[i] for i in login.organizations)
            write(f"  Log in {login.username} / {passwords[login.username]}   ({scope})")
        write(f"  Polling the sandbox feed {DEMO_FEED_URL} every {DEMO_POLL_INTERVAL_SECONDS:g} s:")
        for demo in DEMO_ORGANIZATIONS:
            kind = ", attribution only" if demo.slim else ""
            write(f"    {demo.name} ({demo.organization_type} {demo.invoca_id}{kind})")
