"""Thin Celery tasks: each claims what it needs and calls one service."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from calls import services
from calls.heartbeat import HEARTBEAT_KEY
from calls.models import Organization, OrganizationStatus
from calls.services.poll_lock import organization_poll_lock

log = logging.getLogger("calls.tasks")


@shared_task(name="calls.tasks.polls_dispatch", ignore_result=True)
def polls_dispatch() -> int:
    """Beat tick (run in the beat process itself, see cipdash.celery.PollingScheduler): hand
    the workers one poll for each organization whose slot comes before the next tick."""
    now = timezone.now()
    try:
        cache.set(HEARTBEAT_KEY, now.isoformat(), timeout=3600)
    except Exception:  # a cache outage must not stop polling; /healthz reports it
        log.warning("beat heartbeat could not be written to the cache")
    # Two periods ahead, so a tick that runs up to one period late still claims every slot
    # before it falls due: the scheduling lag is then the worker's, not the tick's phase.
    ahead = timedelta(seconds=2 * settings.POLL_TICK_SECONDS)
    claimed = services.polls_claim_due(now=now, ahead=ahead)
    for slot in claimed:
        # A slot missed in downtime is served now; the others when they come.
        starts_at = max(slot.due_at, now)
        organization_poll.apply_async(
            args=(slot.organization_id,),
            kwargs={"slot": starts_at.isoformat()},
            # The worker holds the task until its slot: polls start on time, not at the tick.
            eta=starts_at,
            # A poll still waiting once its interval has passed is obsolete: the next slot's
            # task replaces it, so a backlog never turns into a burst of requests.
            expires=starts_at + timedelta(seconds=slot.interval_seconds),
        )
    return len(claimed)


@shared_task(name="calls.tasks.organization_poll", ignore_result=True)
def organization_poll(organization_id: int, slot: str = "") -> str:
    """Poll one organization, holding its lock so polls never overlap."""
    with organization_poll_lock(organization_id=organization_id) as held:
        if not held:
            log.info("poll org=%s skipped: another poll holds the lock", organization_id)
            return "locked"
        organization = Organization.objects.filter(pk=organization_id, enabled=True).first()
        if organization is None or organization.status == OrganizationStatus.AUTH_FAILED:
            return "not-polled"
        due_at = _slot_time(slot)
        if due_at is not None:
            if organization.last_attempt_at is not None and organization.last_attempt_at > due_at:
                # A poll that started after this slot was due (a slow one, or `manage.py
                # poll`) already covers it: one request per interval.
                return "already-polled"
            if timezone.now() > due_at + timedelta(seconds=organization.poll_interval_seconds):
                # Celery checks `expires` when the worker takes a task, not when a pool thread
                # gets to it: a poll that waited a whole interval in the pool (an overloaded
                # worker) is obsolete too, and the next slot's poll replaces it.
                log.warning("poll org=%s skipped: its slot passed while it waited", organization_id)
                return "expired"
        attempt = services.organization_poll(organization=organization)
        return str(attempt.run.outcome)


def _slot_time(slot: str) -> datetime | None:
    try:
        return datetime.fromisoformat(slot) if slot else None
    except ValueError:
        return None


@shared_task(name="calls.tasks.calls_purge", ignore_result=True)
def calls_purge() -> int:
    report = services.calls_purge(now=timezone.now())
    return sum(counts.calls for counts in report.values())


@shared_task(name="calls.tasks.database_checkpoint", ignore_result=True)
def database_checkpoint() -> None:
    """Beat's periodic SQLite checkpoint (cipdash.celery), so that no poll's commit runs one."""
    services.database_checkpoint()
