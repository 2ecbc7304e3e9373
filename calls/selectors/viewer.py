"""What one signed-in user is looking at: their organizations, role in each, feed health.

All of it comes from one query, which is also what the live pages hash into their
"nothing changed" version, so answering an unchanged poll costs a single indexed read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from calls.models import Membership, Organization, OrganizationStatus, Role, UserPreference

STAFF = "staff"
# A feed is called stale after this many missed poll intervals without a clean poll.
STALE_AFTER_INTERVALS = 3
# OrganizationView's fields, and where each is read from the organization.
_ORG_COLUMNS = {
    "id": "id",
    "name": "name",
    "feed_version": "poll_state__feed_version",
    "status": "poll_state__status",
    "enabled": "enabled",
    "last_success_at": "poll_state__last_success_at",
    "last_error": "poll_state__last_error",
    "last_error_at": "poll_state__last_error_at",
    "poll_interval_seconds": "poll_interval_seconds",
    "time_zone": "time_zone",
    "created_at": "created_at",
}


@dataclass(frozen=True, slots=True)
class OrganizationView:
    id: int
    name: str
    role: str
    feed_version: int
    status: str
    enabled: bool
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    poll_interval_seconds: float
    time_zone: str
    created_at: datetime

    @property
    def sees_history(self) -> bool:
        return self.role in (Role.SUPERVISOR, STAFF)

    @property
    def restricted(self) -> bool:
        return self.role == Role.RESTRICTED


@dataclass(frozen=True, slots=True)
class FeedProblem:
    organization: OrganizationView
    reason: str
    since: datetime | None

    @property
    def sentence(self) -> str:
        """The reason as a sentence: stored errors ("connection refused") end without one."""
        reason = self.reason[:300].rstrip()
        return reason if reason.endswith((".", "!", "?", "…")) else f"{reason}."


@dataclass(frozen=True, slots=True)
class Viewer:
    """One signed-in user as the pages see them: every read of calls is scoped by this."""

    organizations: tuple[OrganizationView, ...]
    # Whose settings (the time zone) the pages follow; None for nobody signed in.
    user_id: int | None = None

    def role(self, organization_id: int) -> str | None:
        org = self.organization(organization_id)
        return None if org is None else org.role

    def organization(self, organization_id: int) -> OrganizationView | None:
        for org in self.organizations:
            if org.id == organization_id:
                return org
        return None

    @property
    def ids(self) -> list[int]:
        return [org.id for org in self.organizations]

    @property
    def sees_any_history(self) -> bool:
        return any(org.sees_history for org in self.organizations)


def viewer_get(*, user: AbstractBaseUser | AnonymousUser) -> Viewer:
    if not user.is_authenticated:
        return Viewer(organizations=())
    if getattr(user, "is_staff", False):
        rows = [
            (STAFF, *values)
            for values in Organization.objects.order_by("name", "id").values_list(
                *_ORG_COLUMNS.values()
            )
        ]
    else:
        rows = list(
            Membership.objects.filter(user_id=user.pk)
            .order_by("organization__name", "organization_id")
            .values_list("role", *(f"organization__{path}" for path in _ORG_COLUMNS.values()))
        )
    return Viewer(
        organizations=tuple(
            OrganizationView(role=row[0], **dict(zip(_ORG_COLUMNS, row[1:], strict=True)))
            for row in rows
        ),
        user_id=int(user.pk),
    )


def feed_overdue(
    *,
    last_success_at: datetime | None,
    created_at: datetime,
    interval_seconds: float,
    now: datetime,
) -> bool:
    """No clean poll for STALE_AFTER_INTERVALS intervals; a new organization gets as long to
    make its first (the live pages and /healthz agree on this)."""
    window = timedelta(seconds=interval_seconds * STALE_AFTER_INTERVALS)
    return now - (last_success_at or created_at) > window


def feed_problem(*, organization: OrganizationView, now: datetime) -> FeedProblem | None:
    """Why an organization's calls may not be current, or None when its feed is healthy."""
    since = organization.last_success_at
    if not organization.enabled or organization.status == OrganizationStatus.DISABLED:
        return FeedProblem(organization, "Polling is switched off for this organization.", since)
    if organization.status == OrganizationStatus.AUTH_FAILED:
        detail = organization.last_error or "the API token was refused"
        return FeedProblem(organization, f"Invoca refused the API token: {detail}", since)
    overdue = feed_overdue(
        last_success_at=since,
        created_at=organization.created_at,
        interval_seconds=organization.poll_interval_seconds,
        now=now,
    )
    if since is None and (overdue or organization.last_error):
        return FeedProblem(
            organization, organization.last_error or "No successful poll yet.", since
        )
    if overdue:
        return FeedProblem(
            organization, organization.last_error or "Invoca has not answered recently.", since
        )
    return None


def feed_problems(*, viewer: Viewer, now: datetime) -> list[FeedProblem]:
    problems = (feed_problem(organization=org, now=now) for org in viewer.organizations)
    return [problem for problem in problems if problem is not None]


def feed_version_token(*, viewer: Viewer, now: datetime, extra: str) -> str:
    """A short hash that changes whenever anything the live pages show may have changed:
    feed versions, roles, feed health (time-based), and the caller's own state (`extra`)."""
    parts = [extra]
    for org in viewer.organizations:
        stale = feed_problem(organization=org, now=now) is not None
        parts.append(f"{org.id}:{org.feed_version}:{org.role}:{org.status}:{int(stale)}")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=8).hexdigest()


def user_time_zone_setting(*, user: AbstractBaseUser | AnonymousUser) -> str:
    """The user's own time zone setting; "" when they follow their organization's."""
    return _time_zone_setting(user_id=int(user.pk)) if user.is_authenticated else ""


def _time_zone_setting(*, user_id: int | None) -> str:
    if user_id is None:
        return ""
    preference = UserPreference.objects.filter(user_id=user_id)
    return preference.values_list("time_zone", flat=True).first() or ""


def organization_time_zone(*, viewer: Viewer) -> str:
    """The viewer's first organization's time zone, else UTC."""
    for org in viewer.organizations:
        if org.time_zone:
            return org.time_zone
    return "UTC"


def viewer_time_zone(*, viewer: Viewer) -> str:
    """The user's own setting, else their first organization's, else UTC."""
    return _time_zone_setting(user_id=viewer.user_id) or organization_time_zone(viewer=viewer)
