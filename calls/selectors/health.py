"""Is the product able to do its job? Database, cache, broker, beat and each organization's feed.

`system_health()` backs `/healthz` and the pages' "live updates are delayed" banner. It reads
nothing personal: organizations appear by id, name, status and the age of their last clean poll.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu import Connection

from calls.heartbeat import HEARTBEAT_KEY
from calls.memo import RecentMemo
from calls.models import Organization, OrganizationStatus
from calls.selectors.viewer import feed_overdue

_PROBE_KEY = "cipdash:health:probe"
# Brokers that live inside the web/worker processes' own storage: nothing to reach.
_EMBEDDED_BROKERS = ("memory://", "filesystem://")
_BROKER_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str = ""
    age_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class OrganizationHealth:
    id: int
    name: str
    status: str
    last_clean_poll_age_seconds: float | None
    stale: bool


@dataclass(frozen=True, slots=True)
class SystemHealth:
    database: CheckResult
    cache: CheckResult
    broker: CheckResult
    beat: CheckResult
    organizations: tuple[OrganizationHealth, ...] = field(default=())

    @property
    def serving(self) -> bool:
        """Pages can be served: everything they show comes from the database."""
        return self.database.ok

    @property
    def stale_organizations(self) -> tuple[OrganizationHealth, ...]:
        return tuple(org for org in self.organizations if org.stale)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the product is not fully healthy, in words fit for a banner (no PII)."""
        found = [
            f"{name}: {check.detail}"
            for name, check in (
                ("database", self.database),
                ("cache", self.cache),
                ("broker", self.broker),
                ("beat", self.beat),
            )
            if not check.ok
        ]
        stale = len(self.stale_organizations)
        if stale:
            found.append(f"{stale} organization(s) without a recent clean poll")
        return tuple(found)

    @property
    def status(self) -> str:
        if not self.database.ok:
            return "down"
        return "degraded" if self.reasons else "ok"


def database_health() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return CheckResult(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return CheckResult(ok=True)


def cache_reachable() -> CheckResult:
    """A read only: does the cache answer? What /healthz tells anyone who asks."""
    try:
        cache.has_key(_PROBE_KEY)
    except Exception as exc:  # every backend raises its own errors; any of them means down
        return CheckResult(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return CheckResult(ok=True)


def cache_health() -> CheckResult:
    """A real write and read: the cache holds the poll locks and the beat heartbeat."""
    token = uuid.uuid4().hex
    try:
        cache.set(_PROBE_KEY, token, timeout=30)
        if cache.get(_PROBE_KEY) != token:
            return CheckResult(ok=False, detail="does not keep what is written")
    except Exception as exc:  # every backend raises its own errors; any of them means down
        return CheckResult(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return CheckResult(ok=True)


def broker_health() -> CheckResult:
    url = settings.CELERY_BROKER_URL
    if url.startswith(_EMBEDDED_BROKERS):
        return CheckResult(ok=True, detail="embedded")
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=_BROKER_TIMEOUT_SECONDS,
                socket_timeout=_BROKER_TIMEOUT_SECONDS,
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            with Connection(url, connect_timeout=_BROKER_TIMEOUT_SECONDS) as broker:
                broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:  # redis, AMQP and kombu errors alike mean unreachable
        return CheckResult(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return CheckResult(ok=True)


def beat_stale_after_seconds() -> float:
    # Generous: a tick can be late under load without anything being wrong.
    return max(settings.POLL_TICK_SECONDS * 10, 30.0)


def beat_health(*, now: datetime) -> CheckResult:
    try:
        # has_key first: the database cache deletes an expired entry it is asked to get,
        # and reading the health must write nothing.
        raw = cache.get(HEARTBEAT_KEY) if cache.has_key(HEARTBEAT_KEY) else None
    except Exception as exc:  # a cache outage hides the heartbeat; cache_health says why
        return CheckResult(ok=False, detail=f"heartbeat unreadable ({type(exc).__name__})")
    if not raw:
        return CheckResult(ok=False, detail="no tick seen")
    try:
        last_tick = datetime.fromisoformat(str(raw))
    except ValueError:
        return CheckResult(ok=False, detail="heartbeat unreadable")
    age = max(0.0, (now - last_tick).total_seconds())
    if age > beat_stale_after_seconds():
        return CheckResult(ok=False, detail=f"last tick {age:.0f} s ago", age_seconds=age)
    return CheckResult(ok=True, age_seconds=age)


def organizations_health(*, now: datetime) -> tuple[OrganizationHealth, ...]:
    """Enabled organizations and how long ago each was last polled cleanly."""
    rows = (
        Organization.objects.filter(enabled=True)
        .exclude(poll_state__status=OrganizationStatus.DISABLED)
        .order_by("name", "pk")
        .values_list(
            "pk",
            "name",
            "poll_state__status",
            "poll_interval_seconds",
            "poll_state__last_success_at",
            "created_at",
        )
    )
    found = []
    for pk, name, status, interval, last_success_at, created_at in rows:
        age = (now - last_success_at).total_seconds() if last_success_at else None
        stale = feed_overdue(
            last_success_at=last_success_at,
            created_at=created_at,
            interval_seconds=interval,
            now=now,
        )
        found.append(
            OrganizationHealth(
                id=pk,
                name=name,
                status=status,
                last_clean_poll_age_seconds=None if age is None else max(0.0, age),
                stale=stale,
            )
        )
    return tuple(found)


def system_health(*, now: datetime | None = None, writes: bool = True) -> SystemHealth:
    """Every check, each bounded in time. Costs a few queries and cache round trips.
    `writes=False` reads only: the cache is asked whether it answers, not written to."""
    now = now or timezone.now()
    database = database_health()
    return SystemHealth(
        database=database,
        cache=cache_health() if writes else cache_reachable(),
        broker=broker_health(),
        beat=beat_health(now=now),
        organizations=organizations_health(now=now) if database.ok else (),
    )


# /healthz answers anyone, so a flood of requests must not become a flood of checks: the
# first request of each second computes, the others wait and share its result.
RECENT_HEALTH = RecentMemo(compute=lambda: system_health(writes=False))


def system_health_recent() -> SystemHealth:
    """The read-only health as of at most a second ago (RecentMemo)."""
    return RECENT_HEALTH.get()
