"""Thin Celery tasks: each claims what it needs and calls one service."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from calls import services
from calls.models import Organization, OrganizationStatus
from calls.services.poll_lock import organization_poll_lock

log = logging.getLogger("calls.tasks")

HEARTBEAT_KEY = "cipdash:beat:last-tick"


@shared_task(name="calls.tasks.polls_dispatch", ignore_result=True)
def polls_dispatch() -> int:
    """Beat tick: enqueue one poll for each organization whose slot has come."""
    now = timezone.now()
    try:
        cache.set(HEARTBEAT_KEY, now.isoformat(), timeout=3600)
    except Exception:  # a cache outage must not stop polling; /healthz reports it
        log.warning("beat heartbeat could not be written to the cache")
    claimed = services.polls_claim_due(now=now)
    for slot in claimed:
        # A poll still queued after its interval has passed is obsolete: the next slot's
        # task replaces it, so a backlog never turns into a burst of requests.
        organization_poll.apply_async(
            args=(slot.organization_id,),
            kwargs={"slot": slot.due_at.isoformat()},
            expires=slot.interval_seconds,
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
        if _already_polled(organization, slot):
            # A poll that started after this slot was due (a slow one, or `manage.py poll`)
            # already covers it: one request per interval.
            return "already-polled"
        attempt = services.organization_poll(organization=organization)
        return str(attempt.run.outcome)


def _already_polled(organization: Organization, slot: str) -> bool:
    if not slot or organization.last_attempt_at is None:
        return False
    try:
        due_at = datetime.fromisoformat(slot)
    except ValueError:
        return False
    return organization.last_attempt_at > due_at


@shared_task(name="calls.tasks.calls_purge", ignore_result=True)
def calls_purge() -> int:
    report = services.calls_purge(now=timezone.now())
    return sum(counts.calls for counts in report.values())
