"""Every door to Invoca takes the organization's poll lock: Poll now, Test connection, a
lookup and `manage.py poll` wait for a poll in flight and ask after it, or say that a poll is
in progress; never two requests at once. And an old answer arriving after a newer one (its
poll outlived its lock) ends no call the newer one saw."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from calls import services, tasks
from calls.invoca import current_calls_fetch
from calls.models import Call, PollOutcome, PollRun
from calls.services import polling
from calls.services.lookups import call_refresh
from calls.services.poll_lock import organization_poll_lock
from tests.export.data import HttpsClient
from tests.factories import UserFactory, call_payload
from tests.faults.locks import poll_lock_expire
from tests.faults.processes import wait_until
from tests.faults.support import FeedOrganization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

IN_PROGRESS = "A poll of this organization is in progress; try again in a moment."


def admin_action(action: str) -> Callable[[FeedOrganization], str]:
    def run(org: FeedOrganization) -> str:
        client = HttpsClient()
        client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
        response = client.post(
            reverse("admin:calls_organization_changelist"),
            {"action": action, "_selected_action": [str(org.organization.pk)]},
            follow=True,
        )
        assert response.status_code == 200
        return " ".join(str(message) for message in get_messages(response.wsgi_request))

    return run


def lookup(org: FeedOrganization) -> str:
    call = Call.objects.filter(organization=org.organization).first()
    assert call is not None
    return call_refresh(call=call).message


def poll_command(org: FeedOrganization) -> str:
    out = StringIO()
    try:
        call_command("poll", "--org", str(org.organization.pk), stdout=out)
    except CommandError as exc:
        out.write(str(exc))
    return out.getvalue()


DOORS = {
    "poll-now": admin_action("poll_now"),
    "test-connection": admin_action("test_connection"),
    "lookup": lookup,
    "poll-command": poll_command,
}


@pytest.fixture(autouse=True)
def no_throttle_left() -> None:
    """The lookups' throttle lives in the cache, which outlasts each test's database rows."""
    cache.clear()


@pytest.fixture
def polled_org(make_org: Callable[..., FeedOrganization]) -> FeedOrganization:
    """An organization polled once, so that a lookup has a call to ask about."""
    org = make_org()
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    return org


@pytest.fixture
def arrivals(feed) -> Iterator[list[float]]:  # type: ignore[no-untyped-def]
    """When each request reached the feed (wall clock), in order."""
    seen: list[float] = []
    record = feed.record_request

    def recording(invoca_id: str | None) -> None:
        seen.append(time.time())
        record(invoca_id)

    feed.record_request = recording
    try:
        yield seen
    finally:
        feed.record_request = record


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
@override_settings(POLL_INTERACTIVE_LOCK_WAIT_SECONDS=0.2)
def test_a_door_says_a_poll_is_in_progress_while_the_lock_is_held(feed, polled_org, door):
    requests, runs = feed.request_count(), PollRun.objects.count()
    with organization_poll_lock(organization_id=polled_org.organization.pk) as lease:
        assert lease is not None
        said = door(polled_org)
    expected = "locked by a poll that never ended" if door is poll_command else IN_PROGRESS
    assert expected in said
    assert feed.request_count() == requests
    assert PollRun.objects.count() == runs


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
# Time enough for the slow answer to arrive whole, and for the doors to wait for it.
@override_settings(
    POLL_INTERACTIVE_LOCK_WAIT_SECONDS=30, POLL_READ_TIMEOUT=10, POLL_TOTAL_TIMEOUT=20
)
def test_a_door_waits_for_the_poll_in_flight_and_asks_after_its_answer(
    feed, polled_org, arrivals, door
):
    feed.set_fault("slow", invoca_id=polled_org.invoca_id, count=1, delay=1.0)
    outcomes: list[str] = []

    def scheduled() -> None:
        try:
            outcomes.append(
                tasks.organization_poll_task(organization_id=polled_org.organization.pk)
            )
        finally:
            connection.close()

    in_flight = threading.Thread(target=scheduled)
    in_flight.start()
    try:
        wait_until(lambda: len(arrivals) == 1, timeout=30)  # the scheduled request is out
        said = door(polled_org)
    finally:
        in_flight.join(30)
    assert outcomes == [PollOutcome.CLEAN]
    assert IN_PROGRESS not in said and "locked" not in said
    assert len(arrivals) == 2
    scheduled_run = PollRun.objects.order_by("started_at")[1]
    # The door's request left only once the scheduled poll had its whole answer.
    assert scheduled_run.finished_at.timestamp() <= arrivals[1]


def test_an_old_answer_arriving_after_a_newer_one_ends_no_call_it_saw(feed, make_org, monkeypatch):
    org = make_org(clean_misses_to_end=1)
    fetched, release = threading.Event(), threading.Event()
    held_back: list[bool] = []

    def fetch_held_back_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = current_calls_fetch(*args, **kwargs)
        if not held_back:  # the first poll's answer is held back until told
            held_back.append(True)
            fetched.set()
            assert release.wait(30)
        return result

    monkeypatch.setattr(polling, "current_calls_fetch", fetch_held_back_once)
    old: list[services.PollAttempt] = []

    def old_poll() -> None:
        try:
            old.append(services.organization_poll(organization=org.fresh()))
        finally:
            connection.close()

    slow = threading.Thread(target=old_poll)
    slow.start()
    try:
        assert fetched.wait(30)
        # A call comes on the line after the old answer was taken, and the old poll outlives
        # its lock: a newer poll takes it and sees the call.
        newcomer = feed.add_call(org.invoca_id, call_payload("NEWCOMER-1"))
        poll_lock_expire(org.organization.pk)
        assert (
            tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
        )
        assert Call.objects.filter(transaction_id=newcomer, ended_at__isnull=True).exists()
    finally:
        release.set()
        slow.join(30)

    (attempt,) = old
    assert attempt.run.outcome == PollOutcome.SUPERSEDED
    stored = Call.objects.get(transaction_id=newcomer)
    assert stored.ended_at is None and stored.missed_polls == 0
    assert Call.objects.filter(ended_at__isnull=False).count() == 0
    # The next poll, newer than both, keeps it live.
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    assert Call.objects.get(transaction_id=newcomer).ended_at is None
