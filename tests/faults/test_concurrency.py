"""Fault matrix rows about concurrency: two beats, two workers, one hanging organization
among many."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from calls import tasks
from calls.models import Call, CallSnapshot, PollOutcome, PollRun
from tests.faults.processes import (
    CeleryWorker,
    redis_worker_environment,
    wait_until,
)
from tests.servers import RedisServer

T = TypeVar("T")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def run_together(count: int, work: Callable[[], T]) -> list[T]:
    """Start `count` threads at the same instant; each gets its own database connection."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_two_workers_on_one_organization_make_one_request(feed, make_org):
    org = make_org()
    feed.set_fault("slow", invoca_id=org.invoca_id, delay=0.3)  # the first poll stays in flight
    outcomes = run_together(
        2, lambda: tasks.organization_poll_task(organization_id=org.organization.pk)
    )
    assert sorted(map(str, outcomes)) == ["clean", "locked"]
    assert feed.request_count(org.invoca_id) == 1
    live = len(feed.live_calls(org.invoca_id))
    assert Call.objects.count() == CallSnapshot.objects.count() == live > 0
    assert PollRun.objects.count() == 1


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """A tick runs its polls inline, in the thread of the beat that claimed them. (Set in
    Django's settings, where the app reads its CELERY_ configuration.)"""
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        yield


@pytest.mark.usefixtures("eager_tasks")
def test_two_beats_dispatch_each_slot_once(feed, make_org):
    orgs = [make_org(poll_interval_seconds=30) for _ in range(3)]
    feed.set_fault("slow", delay=0.2)  # overlapping ticks
    claimed = run_together(2, tasks.polls_dispatch_task)
    assert sum(claimed) == 3  # each slot claimed by exactly one of them
    for org in orgs:
        assert feed.request_count(org.invoca_id) == 1
    assert PollRun.objects.count() == 3
    for org in orgs:
        live = {call["transaction_id"] for call in feed.live_calls(org.invoca_id)}
        stored = Call.objects.filter(organization=org.organization)
        assert set(stored.values_list("transaction_id", flat=True)) == live
    assert CallSnapshot.objects.count() == Call.objects.count()

    # Within the interval, further ticks (from either beat) poll nothing.
    assert run_together(2, tasks.polls_dispatch_task) == [0, 0]
    assert feed.request_count() == 3

    # A task for a slot that a later poll already covered does not ask again.
    due_at = timezone.now() - timedelta(seconds=10)
    outcome = tasks.organization_poll_task(
        organization_id=orgs[0].organization.pk, slot=due_at.isoformat()
    )
    assert outcome == "already-polled"
    assert feed.request_count() == 3


def test_one_hanging_organization_does_not_slow_the_others(feed, make_org):
    interval = 2.0
    orgs = [make_org(target_live=1, poll_interval_seconds=interval) for _ in range(50)]
    hanging = orgs[0]
    feed.set_fault("hang", invoca_id=hanging.invoca_id)
    redis = RedisServer().start()
    # Long enough that the hanging organization holds a worker thread for a while.
    env = redis_worker_environment(redis.url, timeout="3")
    try:
        with CeleryWorker(env, concurrency=6) as worker:
            wait_until(
                lambda: PollRun.objects.values("organization").distinct().count() == 50,
                timeout=60,
                explain=lambda: worker.log()[-3000:],
            )
            window_start = timezone.now()
            time.sleep(3 * interval)
            runs = list(
                PollRun.objects.filter(started_at__gte=window_start).values_list(
                    "organization_id", "outcome"
                )
            )
    finally:
        redis.stop()
    clean = Counter(org_id for org_id, outcome in runs if outcome == PollOutcome.CLEAN)
    healthy = [org.organization.pk for org in orgs[1:]]
    slow = [pk for pk in healthy if clean[pk] < 2]
    assert not slow, f"{len(slow)} organizations missed their interval: {clean}"
    assert all(clean[pk] <= 4 for pk in healthy)  # one request per interval, no bursts
    failures = [outcome for org_id, outcome in runs if org_id == hanging.organization.pk]
    assert set(failures) <= {PollOutcome.UNAVAILABLE}
    assert len(failures) <= 2  # backing off, not hammering
