"""One organization's poll task against the sandbox feed over HTTP, with its lock in a real
redis-server: no overlap, back-off, Retry-After, and the stop and resume around a refused
token."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calls import tasks
from calls.models import Organization, OrganizationPollState, OrganizationStatus, PollRun
from calls.services import api_token_add
from calls.services.poll_lock import organization_poll_lock, poll_lock_key, poll_lock_seconds
from tests.factories import call_payload
from tests.invoca.conftest import FEED_ORG, FEED_TOKEN


@pytest.mark.django_db
def test_a_held_lock_means_no_request(redis_cache, feed, feed_org):
    with organization_poll_lock(organization_id=feed_org.pk) as held:
        assert held
        assert tasks.organization_poll_task(organization_id=feed_org.pk) == "locked"
    assert feed.request_count(FEED_ORG) == 0
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "clean"  # released on exit
    assert feed.request_count(FEED_ORG) == 1


@pytest.mark.django_db
def test_the_lock_lives_in_redis_with_an_expiry(redis_cache, redis_client, feed_org):
    with organization_poll_lock(organization_id=feed_org.pk):
        keys = [k.decode() for k in redis_client.keys("*")]
        (key,) = [k for k in keys if k.endswith(poll_lock_key(feed_org.pk))]
        assert 0 < redis_client.ttl(key) <= poll_lock_seconds()
    assert not redis_client.keys(f"*{poll_lock_key(feed_org.pk)}")


@pytest.mark.django_db
def test_an_expired_lock_frees_the_organization(redis_cache, redis_client, feed, feed_org):
    with organization_poll_lock(organization_id=feed_org.pk):
        (key,) = redis_client.keys(f"*{poll_lock_key(feed_org.pk)}")
        redis_client.pexpire(key, 1)  # as if the worker holding it had been killed
        time.sleep(0.05)
        assert tasks.organization_poll_task(organization_id=feed_org.pk) == "clean"


@pytest.mark.django_db(transaction=True)
def test_concurrent_polls_of_one_organization_never_overlap(redis_cache, feed, feed_org):
    feed.set_fault("slow", delay=1.0)  # each answer takes a second: plenty of time to overlap
    outcomes: list[str] = []

    def worker() -> None:
        try:
            outcomes.append(tasks.organization_poll_task(organization_id=feed_org.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["clean", "locked", "locked", "locked"]
    assert feed.request_count(FEED_ORG) == 1
    assert PollRun.objects.count() == 1


@pytest.mark.django_db
def test_a_slot_already_covered_by_a_later_poll_is_skipped(redis_cache, feed, feed_org):
    due_at = timezone.now() - timedelta(seconds=1)
    assert (
        tasks.organization_poll_task(organization_id=feed_org.pk, slot=due_at.isoformat())
        == "clean"
    )
    assert (
        tasks.organization_poll_task(organization_id=feed_org.pk, slot=due_at.isoformat())
        == "already-polled"
    )
    assert feed.request_count(FEED_ORG) == 1


@pytest.mark.django_db
def test_a_poll_that_waited_a_whole_interval_is_dropped(redis_cache, feed, feed_org):
    """The interval is 5 s: a task that only starts 6 s after its slot is obsolete (the next
    slot's task polls), one that starts 4 s late still polls."""
    stale = timezone.now() - timedelta(seconds=6)
    assert (
        tasks.organization_poll_task(organization_id=feed_org.pk, slot=stale.isoformat())
        == "expired"
    )
    assert feed.request_count(FEED_ORG) == 0 and not PollRun.objects.exists()
    late = timezone.now() - timedelta(seconds=4)
    assert (
        tasks.organization_poll_task(organization_id=feed_org.pk, slot=late.isoformat()) == "clean"
    )
    assert feed.request_count(FEED_ORG) == 1


@pytest.mark.django_db
def test_failures_back_off_exponentially_with_a_cap(redis_cache, feed, feed_org, settings):
    settings.POLL_BACKOFF_MAX_SECONDS = 30
    feed.set_fault("503")
    waits = []
    for _ in range(4):
        before = timezone.now()
        assert tasks.organization_poll_task(organization_id=feed_org.pk) == "unavailable"
        feed_org.refresh_from_db()
        waits.append((feed_org.poll_state.next_poll_at - before).total_seconds())
    # interval 5 s: about 10, 20, then capped at 30 (jitter ±20 %, never past the cap)
    assert 8 <= waits[0] <= 12.5
    assert 16 <= waits[1] <= 24.5
    assert 24 <= waits[2] <= 30.5 and 24 <= waits[3] <= 30.5
    assert feed_org.poll_state.consecutive_failures == 4
    assert feed_org.poll_state.status == OrganizationStatus.DEGRADED


@pytest.mark.django_db
@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
def test_429_waits_as_long_as_retry_after_says(redis_cache, feed, feed_org, as_date):
    feed.set_fault("429", retry_after=120, retry_after_date=as_date)
    before = timezone.now()
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "rate_limited"
    feed_org.refresh_from_db()
    wait = (feed_org.poll_state.next_poll_at - before).total_seconds()
    assert 118 <= wait <= 122
    run = PollRun.objects.get()
    assert (run.outcome, run.http_status) == ("rate_limited", 429)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["401", "403"])
def test_a_refused_token_stops_polling_until_a_new_one(redis_cache, feed, feed_org, mode):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    feed.set_fault(mode, count=1)
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "auth_failed"
    feed_org.refresh_from_db()
    assert feed_org.poll_state.status == OrganizationStatus.AUTH_FAILED
    assert FEED_TOKEN not in feed_org.poll_state.last_error

    # Due by the clock, but not polled: neither claimed by the tick nor run by a stray task.
    OrganizationPollState.objects.filter(pk=feed_org.pk).update(
        next_poll_at=timezone.now() - timedelta(minutes=5)
    )
    assert tasks.polls_dispatch_task() == 0
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "not-polled"
    assert feed.request_count(FEED_ORG) == 1

    api_token_add(organization=feed_org, secret=FEED_TOKEN, label="rotated")
    feed_org.refresh_from_db()
    assert feed_org.poll_state.status == OrganizationStatus.OK
    assert feed_org.poll_state.next_poll_at <= timezone.now()
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "clean"
    feed_org.refresh_from_db()
    assert feed_org.poll_state.consecutive_failures == 0 and feed_org.calls.count() == 1


@pytest.mark.django_db
def test_one_request_per_interval_however_often_the_beat_ticks(
    redis_cache, feed, feed_org, monkeypatch, settings
):
    """The tick runs ten times a second; the organization's interval is one second."""
    settings.POLL_TICK_SECONDS = 0.1
    Organization.objects.filter(pk=feed_org.pk).update(poll_interval_seconds=1.0)
    polled_at: list[float] = []

    def run_at_eta(args=(), kwargs=None, eta=None, **_):
        # As a worker does: a batch claimed ahead of its first slot waits for it.
        if eta is not None:
            time.sleep(max(0.0, (eta - timezone.now()).total_seconds()))
        polled_at.append(time.monotonic())
        tasks.organization_polls_task(**(kwargs or {}))

    monkeypatch.setattr(tasks.organization_polls_task, "apply_async", run_at_eta)
    started = time.monotonic()
    while time.monotonic() - started < 3.2:
        tasks.polls_dispatch_task()
        time.sleep(0.1)
    assert 3 <= feed.request_count(FEED_ORG) <= 5  # slots at 0, 1, 2, 3 (and 4) s
    gaps = [later - earlier for earlier, later in itertools.pairwise(polled_at)]
    assert all(0.9 <= gap <= 1.2 for gap in gaps), gaps  # one interval apart, never sooner


@pytest.mark.django_db
def test_a_503_that_says_when_to_come_back_is_believed(redis_cache, feed, feed_org):
    feed.set_fault("503", retry_after=90)
    before = timezone.now()
    assert tasks.organization_poll_task(organization_id=feed_org.pk) == "unavailable"
    feed_org.refresh_from_db()
    assert 88 <= (feed_org.poll_state.next_poll_at - before).total_seconds() <= 92


@pytest.mark.django_db
@pytest.mark.parametrize("failing", [False, True], ids=["answered", "timed-out"])
def test_a_poll_records_how_long_it_waited_for_the_batching(
    redis_cache, feed, feed_org, settings, failing
):
    if failing:
        settings.POLL_TOTAL_TIMEOUT = 0.4
        feed.set_fault("hang")
    else:
        feed.set_fault("slow", delay=0.4)
    outcome = tasks.organization_poll_task(organization_id=feed_org.pk)
    assert outcome == ("unavailable" if failing else "clean")
    feed_org.refresh_from_db()
    run = PollRun.objects.get()
    assert run.duration_ms >= 400
    assert feed_org.poll_state.last_duration_ms == run.duration_ms
