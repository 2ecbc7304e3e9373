"""`manage.py demo_setup`: the demo installation `make run` starts with: organizations polling
the local sandbox feed, a highlight rule, pinned fields and two logins. Applying it twice changes
nothing more."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.utils import reset as login_lockouts_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from calls.crypto import SecretUndecryptable
from calls.invoca import url_origin
from calls.models import (
    HighlightOperator,
    HighlightRule,
    Membership,
    Organization,
    OrganizationPollState,
    Role,
)
from calls.services import api_token_add, organization_create, organization_set_enabled
from cipdash.env import persisted_secret

# The Procfile starts `sandbox_feed` on this port (SANDBOX_PORT) serving exactly these
# organizations.
DEMO_FEED_PORT = settings.SANDBOX_PORT
# Loopback: only an exact INVOCA_ALLOWED_HOSTS entry lets a token go there (`make run` adds it).
DEMO_FEED_HOST = f"127.0.0.1:{DEMO_FEED_PORT}"
DEMO_FEED_URL = f"http://{DEMO_FEED_HOST}/api/2022-08-01"
DEMO_POLL_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class DemoHighlight:
    """A custom data field equal to a value earns a label, e.g. lead_type = hot → HOT LEAD."""

    field: str
    value: str
    label: str


@dataclass(frozen=True)
class DemoOrganization:
    name: str
    organization_type: str
    invoca_id: str
    token: str
    slim: bool = False
    pinned_fields: tuple[str, ...] = ()
    highlights: tuple[DemoHighlight, ...] = ()

    @property
    def feed_spec(self) -> str:
        """This organization as `sandbox_feed --org` takes it."""
        return ":".join(
            [self.invoca_id, self.token, self.organization_type] + (["slim"] if self.slim else [])
        )


DEMO_ORGANIZATIONS = (
    DemoOrganization(
        name="Demo Network",
        organization_type="Network",
        invoca_id="1001",
        token="sandbox-demo-token",  # noqa: S106 (the sandbox feed's demo account)
        pinned_fields=("utm_source", "lead_type"),
        highlights=(DemoHighlight(field="lead_type", value="hot", label="HOT LEAD"),),
    ),
    # Attribution-only calls (no custom data): what a slim Invoca account sends.
    DemoOrganization(
        name="Demo Attribution",
        organization_type="Advertiser",
        invoca_id="1002",
        token="sandbox-slim-demo-token",  # noqa: S106
        slim=True,
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    is_staff: bool
    organizations: tuple[str, ...]  # invoca ids the login is an agent of; staff see all


DEMO_LOGINS = (
    DemoLogin(username="demo-admin", is_staff=True, organizations=()),
    DemoLogin(username="demo-agent", is_staff=False, organizations=("1001",)),
)


@transaction.atomic
def demo_install(
    *, passwords: Mapping[str, str], now: datetime, feed_url: str = DEMO_FEED_URL
) -> list[Organization]:
    """Create or repair the demo organizations and logins; `passwords` by username.

    Poll state is reset so a demo restarted after the feed was down polls at once instead of
    waiting out the back-off it earned while stopped."""
    organizations = {
        demo.invoca_id: _demo_organization_apply(demo=demo, feed_url=feed_url, now=now)
        for demo in DEMO_ORGANIZATIONS
    }
    for login in DEMO_LOGINS:
        _demo_login_apply(
            login=login,
            password=passwords[login.username],
            organizations=[organizations[invoca_id] for invoca_id in login.organizations],
        )
    return list(organizations.values())


def _demo_organization_apply(
    *, demo: DemoOrganization, feed_url: str, now: datetime
) -> Organization:
    organization = (
        Organization.objects.filter(invoca_id=demo.invoca_id, api_base_url=feed_url)
        .order_by("pk")  # the first one made, should someone have added another alike
        .first()
    )
    if organization is None:
        organization = organization_create(
            name=demo.name,
            organization_type=demo.organization_type,
            invoca_id=demo.invoca_id,
            token=demo.token,
            api_base_url=feed_url,
            poll_interval_seconds=DEMO_POLL_INTERVAL_SECONDS,
        )
    elif not _has_active_token(organization=organization, secret=demo.token):
        api_token_add(organization=organization, secret=demo.token, label="demo")
    if not organization.enabled:
        organization_set_enabled(organization=organization, enabled=True)
    Organization.objects.filter(pk=organization.pk).update(
        poll_interval_seconds=DEMO_POLL_INTERVAL_SECONDS,
        pinned_fields=list(demo.pinned_fields),
    )
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        next_poll_at=now, consecutive_failures=0
    )
    for highlight in demo.highlights:
        HighlightRule.objects.get_or_create(
            organization=organization,
            scope=HighlightRule.Scope.CUSTOM,
            field=highlight.field,
            operator=HighlightOperator.EQUALS,
            value=highlight.value,
            defaults={"label": highlight.label, "colour": HighlightRule.Colour.RED},
        )
    organization.refresh_from_db()
    return organization


def _has_active_token(*, organization: Organization, secret: str) -> bool:
    bound = url_origin(organization.api_base_url)
    for token in organization.tokens.filter(active=True, origin=bound):
        try:
            if token.reveal_secret() == secret:
                return True
        except SecretUndecryptable:  # written under a key since removed: replace it
            continue
    return False


def _demo_login_apply(
    *, login: DemoLogin, password: str, organizations: list[Organization]
) -> AbstractUser:
    user, _ = get_user_model().objects.get_or_create(username=login.username)
    user.is_staff = user.is_superuser = login.is_staff
    user.is_active = True
    # The printed password always works, even after someone changed it in the admin or got
    # the login locked out by mistyping it.
    user.set_password(password)
    user.save()
    login_lockouts_reset(username=login.username)
    for organization in organizations:
        Membership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": Role.AGENT}
        )
    return user


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
            default=f"http://127.0.0.1:{settings.PORT}/",
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
