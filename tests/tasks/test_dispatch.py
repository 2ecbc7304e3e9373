"""The beat tick: which organizations are due, and a claim that never hands a slot out twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import django.db
import pytest
from celery.beat import PersistentScheduler
from celery.fixups.django import DjangoFixup
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

from calls import services, tasks
from calls.heartbeat import HEARTBEAT_KEY
from calls.models import OrganizationStatus
from calls.services import polls_claim_due
from cipdash.celery import PollingScheduler, _database_connections_check, app
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connections_checked(monkeypatch) -> list[None]:
    """Beat's connection check, recorded rather than run: it would close the test's
    connection, which holds the test's transaction."""
    calls: list[None] = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: calls.append(None))
    return calls


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[dict] = []

    def record(args=(), kwargs=None, **options):
        """One entry per slot, with its batch's options and number."""
        assert not args, "tasks take keyword arguments only"
        batch = len({item["batch"] for item in sent})
        for organization_id, slot in kwargs["slots"]:
            sent.append({"org": organization_id, "slot": slot, "batch": batch, **options})

    monkeypatch.setattr(tasks.organization_polls_task, "apply_async", record)
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
    assert tasks.polls_dispatch_task() == 2
    assert {item["org"] for item in enqueued} == {past.pk, never.pk}
    by_org = {item["org"]: item for item in enqueued}
    # Due already: sent to start at once, and dropped if still queued once its interval passed.
    assert now <= by_org[past.pk]["eta"] <= timezone.now()
    assert now < by_org[past.pk]["expires"] <= timezone.now() + timedelta(seconds=7)
    # The claim moved both slots forward: the next tick finds nothing due.
    assert tasks.polls_dispatch_task() == 0
    assert len(enqueued) == 2
    past.refresh_from_db()
    assert past.poll_state.next_poll_at is not None and past.poll_state.next_poll_at > now


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
    assert on_time.poll_state.next_poll_at == now + timedelta(seconds=4)
    assert behind.poll_state.next_poll_at == now + timedelta(seconds=5)


def test_a_slot_before_the_next_tick_is_claimed_ahead_and_held_until_it_comes(enqueued, settings):
    settings.POLL_TICK_SECONDS = 1.0
    now = timezone.now()
    soon = OrganizationFactory.create(
        next_poll_at=now + timedelta(seconds=1.5), poll_interval_seconds=5
    )
    OrganizationFactory.create(next_poll_at=now + timedelta(seconds=2.5))  # a later tick's
    assert tasks.polls_dispatch_task() == 1
    (sent,) = enqueued
    assert sent["org"] == soon.pk
    assert sent["eta"] == now + timedelta(seconds=1.5) == datetime.fromisoformat(sent["slot"])
    assert sent["expires"] == sent["eta"] + timedelta(seconds=5)
    soon.refresh_from_db()
    assert soon.poll_state.next_poll_at == now + timedelta(seconds=6.5)  # the rhythm is kept


def test_a_slot_missed_in_downtime_is_served_now_not_expired(enqueued):
    now = timezone.now()
    OrganizationFactory.create(next_poll_at=now - timedelta(minutes=10), poll_interval_seconds=5)
    assert tasks.polls_dispatch_task() == 1
    (sent,) = enqueued
    assert now <= sent["eta"] <= timezone.now()
    assert sent["expires"] >= now + timedelta(seconds=5)  # not already past


def test_beat_runs_the_tick_itself_and_sends_only_the_polls(
    enqueued, connections_checked, tmp_path, monkeypatch
):
    due = OrganizationFactory.create(next_poll_at=timezone.now() - timedelta(seconds=1))
    sent_by_beat: list[str] = []
    monkeypatch.setattr(
        PersistentScheduler,
        "apply_async",
        lambda self, entry, *args, **kwargs: sent_by_beat.append(entry.task),
    )
    scheduler = PollingScheduler(app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    scheduler.apply_async(scheduler.schedule["poll-tick"])
    assert [item["org"] for item in enqueued] == [due.pk]  # claimed and sent from here
    assert sent_by_beat == []  # the tick itself never went to the queue
    assert cache.get(HEARTBEAT_KEY)
    assert len(connections_checked) == 2  # a connection the database dropped is not reused
    scheduler.apply_async(scheduler.schedule["purge-old-calls"])
    assert sent_by_beat == ["calls.tasks.calls_purge"]  # every other entry is sent as usual


def test_a_failing_tick_does_not_stop_beat(
    enqueued, connections_checked, tmp_path, monkeypatch, caplog
):
    def broken(**_):
        raise DatabaseError("the database is down")

    monkeypatch.setattr(services, "poll_batches_claim", broken)
    scheduler = PollingScheduler(app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    assert scheduler.apply_async(scheduler.schedule["poll-tick"]) is None
    assert "poll tick failed" in caplog.text and enqueued == []


def test_worker_tasks_keep_their_database_connection(connections_checked, monkeypatch):
    """Celery's Django integration would reconnect around every task; settings turn that off
    and cipdash.celery closes a connection only once broken or past CONN_MAX_AGE."""
    fixup = DjangoFixup(app).worker_fixup
    reconnects: list[None] = []
    monkeypatch.setattr(fixup, "_close_database", lambda: reconnects.append(None))
    for _ in range(1000):  # 500 tasks: before and after each
        fixup.close_database()
    assert reconnects == []

    _database_connections_check(sender=tasks.calls_purge_task)  # as a worker runs it
    assert len(connections_checked) == 1  # Django's own check: broken or too old
    tasks.calls_purge_task.apply()  # inline: its prerun and postrun signals fire all the same
    assert len(connections_checked) == 1  # shares its caller's connection: left alone


def test_slots_due_together_travel_as_one_batch_in_the_order_they_fall_due(enqueued, settings):
    settings.POLL_TICK_SECONDS = 1.0
    settings.POLL_BATCH_SIZE = 3
    now = timezone.now()
    # Offsets in ms: four due within a quarter second (a batch of three, then one), two more
    # a second later; created out of order.
    offsets = [1300, 1000, 1100, 1200, 1240, 1000]
    intervals = [5, 5, 5, 4, 5, 5]
    orgs = [
        OrganizationFactory.create(
            next_poll_at=now + timedelta(milliseconds=offset),
            poll_interval_seconds=interval,
            last_duration_ms=10,
        )
        for offset, interval in zip(offsets, intervals, strict=True)
    ]
    assert tasks.polls_dispatch_task() == 6
    batches: dict[int, list[dict]] = {}
    for item in enqueued:
        batches.setdefault(item["batch"], []).append(item)
    slot_lists = [
        [datetime.fromisoformat(item["slot"]) for item in batch] for batch in batches.values()
    ]
    assert [len(batch) for batch in slot_lists] == [3, 3]
    for slots in slot_lists:
        assert slots == sorted(slots)
        assert slots[-1] - slots[0] <= timedelta(seconds=0.25)
    first, second = batches.values()
    # Each batch waits for its first slot and is dropped once its shortest interval passed.
    assert first[0]["eta"] == now + timedelta(milliseconds=1000)
    assert first[0]["expires"] == first[0]["eta"] + timedelta(seconds=5)
    assert second[0]["eta"] == now + timedelta(milliseconds=1200)
    assert second[0]["expires"] == second[0]["eta"] + timedelta(seconds=4)
    assert {item["org"] for item in enqueued} == {org.pk for org in orgs}


def test_a_batch_size_of_one_sends_each_poll_alone(enqueued, settings):
    settings.POLL_BATCH_SIZE = 1
    now = timezone.now()
    for _ in range(3):
        OrganizationFactory.create(next_poll_at=now - timedelta(seconds=1))
    assert tasks.polls_dispatch_task() == 3
    assert sorted(item["batch"] for item in enqueued) == [0, 1, 2]


def _batches_of(enqueued: list[dict], orgs: list) -> list[list[int]]:
    """The batches sent, each as the positions in `orgs` of its organizations."""
    position = {org.pk: number for number, org in enumerate(orgs)}
    batches: dict[int, list[int]] = {}
    for item in enqueued:
        batches.setdefault(item["batch"], []).append(position[item["org"]])
    return list(batches.values())


def _due_in(now, offsets_ms: list[int], durations_ms: list[int | None]) -> list:
    return [
        OrganizationFactory.create(
            next_poll_at=now + timedelta(milliseconds=offset), last_duration_ms=duration
        )
        for offset, duration in zip(offsets_ms, durations_ms, strict=True)
    ]


def test_a_slot_joins_a_batch_only_if_the_polls_ahead_leave_it_on_time(enqueued, settings):
    # Invoca answering in 200 ms: the second poll of a batch starts 170 ms after its slot,
    # a third would start 340 ms after its own, past the quarter second, so it opens a batch.
    settings.POLL_TICK_SECONDS = 1.0
    now = timezone.now()
    orgs = _due_in(now, [1000, 1030, 1060, 1090], [200, 200, 200, 200])
    assert tasks.polls_dispatch_task() == 4
    assert _batches_of(enqueued, orgs) == [[0, 1], [2, 3]]


def test_a_poll_never_made_or_that_took_long_has_nobody_waiting_behind_it(enqueued, settings):
    settings.POLL_TICK_SECONDS = 1.0
    now = timezone.now()
    # Never polled (its first answer holds every call as new), then a poll that timed out
    # after 20 s, then two answering in 10 ms.
    orgs = _due_in(now, [1000, 1010, 1020, 1030], [None, 20_000, 10, 10])
    assert tasks.polls_dispatch_task() == 4
    assert _batches_of(enqueued, orgs) == [[0], [1], [2, 3]]
