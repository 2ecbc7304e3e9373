"""The beat tick: which organizations are due, and a claim that never hands a slot out twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls import tasks
from calls.models import OrganizationStatus
from calls.services import polls_claim_due
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[dict] = []

    def record(args=(), kwargs=None, **options):
        sent.append({"org": args[0], "slot": (kwargs or {}).get("slot"), **options})

    monkeypatch.setattr(tasks.organization_poll, "apply_async", record)
    return sent


def test_only_due_enabled_and_authorised_organizations_are_enqueued(enqueued):
    now = timezone.now()
    past = OrganizationFactory.create(
        next_poll_at=now - timedelta(seconds=1), poll_interval_seconds=7
    )
    never = OrganizationFactory.create(next_poll_at=None)
    OrganizationFactory.create(next_poll_at=now + timedelta(seconds=30))  # not due yet
    OrganizationFactory.create(next_poll_at=now - timedelta(seconds=1), enabled=False)
    OrganizationFactory.create(
        next_poll_at=now - timedelta(seconds=1), status=OrganizationStatus.AUTH_FAILED
    )
    assert tasks.polls_dispatch() == 2
    assert {item["org"] for item in enqueued} == {past.pk, never.pk}
    by_org = {item["org"]: item for item in enqueued}
    assert by_org[past.pk]["expires"] == 7  # a poll queued longer than its interval is dropped
    # The claim moved both slots forward: the next tick finds nothing due.
    assert tasks.polls_dispatch() == 0
    assert len(enqueued) == 2
    past.refresh_from_db()
    assert past.next_poll_at is not None and past.next_poll_at > now


def test_a_slot_is_claimed_once_even_by_two_beats():
    now = timezone.now()
    org = OrganizationFactory.create(
        next_poll_at=now - timedelta(seconds=1), poll_interval_seconds=5
    )
    first = polls_claim_due(now=now)
    second = polls_claim_due(now=now)
    assert [slot.organization_id for slot in first] == [org.pk] and second == []


def test_the_schedule_keeps_its_rhythm_and_does_not_catch_up():
    now = timezone.now()
    on_time = OrganizationFactory.create(
        next_poll_at=now - timedelta(seconds=1), poll_interval_seconds=5
    )
    behind = OrganizationFactory.create(
        next_poll_at=now - timedelta(minutes=10), poll_interval_seconds=5
    )
    polls_claim_due(now=now)
    on_time.refresh_from_db()
    behind.refresh_from_db()
    assert on_time.next_poll_at == now + timedelta(seconds=4)
    assert behind.next_poll_at == now + timedelta(seconds=5)
