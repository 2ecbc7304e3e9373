"""Thin Celery tasks: each claims what it needs and calls one service."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from calls import services
from calls.models import Organization, OrganizationStatus

log = logging.getLogger("calls.tasks")

HEARTBEAT_KEY = "cipdash:beat:last-tick"


def poll_lock_key(organization_id: int) -> str:
    return f"cipdash:poll-lock:{organization_id}"


def poll_lock_seconds() -> int:
    # Longer than the longest possible poll (the client's total timeout) plus the ingest, so
    # the lock is never lost mid-poll, yet a killed worker's lock frees itself soon after.
    return int(settings.POLL_TOTAL_TIMEOUT + 30)


@shared_task(name="calls.tasks.polls_dispatch", ignore_result=True)
def polls_dispatch() -> int:
    """Beat tick: enqueue one poll for each organization whose slot has come."""
    now = timezone.now()
    try:
        cache.set(HEARTBEAT_KEY, now.isoformat(), timeout=3600)
    except Exception:  # a cache outage must not stop polling; /healthz reports it
        log.warning("beat heartbeat could not be written to the cache")
    claimed = services.polls_claim_due(now=now)
    for organization_id, slot in claimed:
        interval = Organization.objects.values_list("poll_interval_seconds", flat=True).get(
            pk=organization_id
        )
        # A poll still queued after its interval has passed is obsolete: the next slot's
        # task replaces it, so a backlog never turns into a burst of requests.
        organization_poll.apply_async(
            args=[organization_id], kwargs={"slot": slot.isoformat()}, expires=interval
        )
    return len(claimed)


@shared_task(name="calls.tasks.organization_poll", ignore_result=True)
def organization_poll(organization_id: int, slot: str = "") -> str:
    """Poll one organization, holding its lock so polls never overlap."""
    key = poll_lock_key(organization_id)
    owner = uuid.uuid4().hex
    if not cache.add(key, owner, timeout=poll_lock_seconds()):
        log.info("poll org=%s skipped: another poll holds the lock", organization_id)
        return "locked"
    try:
        organization = Organization.objects.filter(pk=organization_id, enabled=True).first()
        if organization is None or organization.status == OrganizationStatus.AUTH_FAILED:
            return "not-polled"
        attempt = services.organization_poll(organization=organization)
        return str(attempt.run.outcome)
    finally:
        if cache.get(key) == owner:
            cache.delete(key)


@shared_task(name="calls.tasks.calls_purge", ignore_result=True)
def calls_purge() -> int:
    report = services.calls_purge(now=timezone.now())
    return sum(counts.calls for counts in report.values())
