"""A batch of scheduled polls run by one worker thread, against the sandbox feed over HTTP with
the locks in a real redis-server: each organization polled once, at its own slot, and one
organization's failure never costs the others their poll."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from calls import tasks
from calls.models import Organization, PollRun
from calls.sandbox.server import SandboxFeed
from calls.services import organization_poll_slot, poll_batches
from tests.factories import ApiTokenFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def _organizations(feed: SandboxFeed, count: int) -> list[Organization]:
    organizations = []
    for number in range(count):
        invoca_id, token = f"77{number}", f"batch-token-{number}"
        feed.add_organization(invoca_id, token, target_live=2)
        organization = OrganizationFactory.create(
            invoca_id=invoca_id, api_base_url=feed.url, poll_interval_seconds=5.0
        )
        ApiTokenFactory.create(organization=organization, secret=token)
        organizations.append(organization)
    return organizations


def test_each_organization_of_a_batch_is_polled_once_at_its_own_slot(
    redis_cache, feed, monkeypatch
):
    # However slowly a loaded machine runs them, these polls stay in their batch.
    monkeypatch.setattr(poll_batches, "BATCH_HAND_BACK_LATE", timedelta(minutes=5))
    organizations = _organizations(feed, 3)
    now = timezone.now()
    slots = [now + timedelta(seconds=0.2 * (number + 1)) for number in range(3)]
    outcomes = tasks.organization_polls_task(
        slots=[
            [organization.pk, slot.isoformat()]
            for organization, slot in zip(organizations, slots, strict=True)
        ]
    )
    assert outcomes == ["clean", "clean", "clean"]
    for organization, slot in zip(organizations, slots, strict=True):
        (run,) = PollRun.objects.filter(organization=organization)
        assert run.started_at >= slot  # never before its slot
        assert feed.request_count(organization.invoca_id) == 1
    started = [
        PollRun.objects.get(organization=organization).started_at for organization in organizations
    ]
    assert started == sorted(started)


def test_a_slot_already_served_is_skipped_and_the_rest_are_polled(redis_cache, feed):
    served, due = _organizations(feed, 2)
    past = timezone.now() - timedelta(seconds=1)
    assert tasks.organization_poll_task(organization_id=served.pk) == "clean"  # after `past`
    outcomes = tasks.organization_polls_task(
        slots=[[served.pk, past.isoformat()], [due.pk, past.isoformat()]]
    )
    assert outcomes == ["already-polled", "clean"]
    assert feed.request_count(served.invoca_id) == 1


def test_one_failing_poll_does_not_cost_the_others_theirs(redis_cache, feed, monkeypatch, caplog):
    broken, healthy = _organizations(feed, 2)
    real_poll = organization_poll_slot
    private_words = "row for caller +1 555 0100 is locked"

    def poll(*, organization_id, slot_at):
        if organization_id == broken.pk:
            raise DatabaseError(private_words)
        return real_poll(organization_id=organization_id, slot_at=slot_at)

    monkeypatch.setattr(poll_batches, "organization_poll_slot", poll)
    now = timezone.now().isoformat()
    with caplog.at_level(logging.ERROR, logger="calls.poll"):
        outcomes = tasks.organization_polls_task(slots=[[broken.pk, now], [healthy.pk, now]])
    assert outcomes == ["error", "clean"]
    assert feed.request_count(healthy.invoca_id) == 1
    assert f"poll org={broken.pk} failed unexpectedly: DatabaseError" in caplog.text
    assert "555" not in caplog.text  # the error's own words may hold personal data


def test_a_batch_that_falls_behind_hands_the_rest_back_to_the_queue(redis_cache, feed, monkeypatch):
    slow, second, third = _organizations(feed, 3)
    real_poll = organization_poll_slot

    def poll(*, organization_id, slot_at):
        outcome = real_poll(organization_id=organization_id, slot_at=slot_at)
        if organization_id == slow.pk:
            time.sleep(0.8)  # a large answer, say: the next slots are now late
        return outcome

    sent: list[dict] = []
    monkeypatch.setattr(poll_batches, "organization_poll_slot", poll)
    monkeypatch.setattr(
        tasks.organization_polls_task, "apply_async", lambda kwargs, **_: sent.append(kwargs)
    )
    now = timezone.now()
    slots = [now, now + timedelta(seconds=0.1), now + timedelta(seconds=0.2)]
    outcomes = tasks.organization_polls_task(
        slots=[
            [organization.pk, slot.isoformat()]
            for organization, slot in zip((slow, second, third), slots, strict=True)
        ]
    )
    assert outcomes == ["clean", "handed-back", "handed-back"]
    (handed,) = sent
    assert handed == {
        "slots": [[second.pk, slots[1].isoformat()], [third.pk, slots[2].isoformat()]]
    }
    # A free thread takes them: each polled once, for its own slot.
    assert tasks.organization_polls_task(**handed) == ["clean", "clean"]
    for organization in (slow, second, third):
        assert feed.request_count(organization.invoca_id) == 1
