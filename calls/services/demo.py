"""The demo installation `make run` starts: organizations polling the local sandbox feed, a
highlight rule, pinned fields and two logins. Applying it twice changes nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from axes.utils import reset as login_lockouts_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from calls.crypto import SecretUndecryptable
from calls.invoca import url_origin
from calls.models import (
    HighlightOperator,
    HighlightRule,
    Membership,
    Organization,
    Role,
)
from calls.services import api_token_add, organization_create, organization_set_enabled

# The Procfile starts `sandbox_feed` on this port serving exactly these organizations.
DEMO_FEED_PORT = 8765
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
    organization = Organization.objects.filter(
        invoca_id=demo.invoca_id, api_base_url=feed_url
    ).first()
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
        next_poll_at=now,
        consecutive_failures=0,
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
