"""PII retention: the daily task deletes ended calls and their snapshots once they are older
than their organization's retention period; `purge_calls --dry-run` only reports."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import F

from calls import tasks
from calls.models import Call, CallSnapshot, PollRun
from cipdash.celery import app
from tests.faults.support import poll

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def age(calls, days: float) -> None:  # type: ignore[no-untyped-def]
    """Move calls (and what belongs to them) `days` into the past, as if time had passed."""
    shift = timedelta(days=days)
    calls.update(
        first_seen_at=F("first_seen_at") - shift,
        last_seen_at=F("last_seen_at") - shift,
        ended_at=F("ended_at") - shift,
    )
    CallSnapshot.objects.filter(call__in=calls).update(observed_at=F("observed_at") - shift)


def end_all_but_one(feed, org) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    poll(org)
    live = [call["transaction_id"] for call in feed.live_calls(org.invoca_id)]
    for transaction_id in live[1:]:
        feed.end_call(org.invoca_id, transaction_id)
    poll(org)  # K = 1: ended at their last sighting
    return live[1:], live[0]


def test_daily_purge_follows_each_organizations_retention(feed, make_org):
    default = make_org(clean_misses_to_end=1)  # 30 days
    short = make_org(clean_misses_to_end=1, retention_days=7)
    default_ended, default_live = end_all_but_one(feed, default)
    short_ended, short_live = end_all_but_one(feed, short)
    old_ended = default_ended[:1] + short_ended[:1]
    recent_short = short_ended[1:]
    age(Call.objects.filter(transaction_id__in=old_ended), days=31)
    age(Call.objects.filter(transaction_id__in=recent_short), days=6)
    # A call live for a long time (a stuck line) is never purged, however old its first sighting.
    age(Call.objects.filter(transaction_id__in=[default_live, short_live]), days=90)
    Call.objects.filter(transaction_id__in=[default_live, short_live]).update(ended_at=None)
    PollRun.objects.filter(organization=short.organization).update(
        started_at=F("started_at") - timedelta(days=8)
    )
    calls_before, snapshots_before = Call.objects.count(), CallSnapshot.objects.count()

    out = StringIO()
    call_command("purge_calls", "--dry-run", stdout=out)
    assert "would delete 1 calls, 1 snapshots" in out.getvalue()
    assert (
        "total: would end 0 unconfirmed live calls; would delete 2 calls, 2 snapshots, 2 poll runs"
        in out.getvalue()
    )
    assert (Call.objects.count(), CallSnapshot.objects.count()) == (calls_before, snapshots_before)

    assert tasks.calls_purge_task() == 2
    remaining = set(Call.objects.values_list("transaction_id", flat=True))
    assert remaining.isdisjoint(old_ended)
    assert set(recent_short) <= remaining
    assert {default_live, short_live} <= remaining
    assert not CallSnapshot.objects.filter(call__transaction_id__in=old_ended).exists()
    assert CallSnapshot.objects.count() == snapshots_before - 2
    assert not PollRun.objects.filter(organization=short.organization).exists()
    assert PollRun.objects.filter(organization=default.organization).count() == 2

    assert tasks.calls_purge_task() == 0  # nothing left to do: idempotent


def test_purge_runs_daily_from_beat():
    app.finalize()  # beat's schedule is built then (cipdash.celery)
    entry = app.conf.beat_schedule["purge-old-calls"]
    assert entry["task"] == tasks.calls_purge_task.name
    schedule = entry["schedule"]
    assert schedule.hour == {settings.PURGE_HOUR_UTC}
    assert len(schedule.minute) == 1 and len(schedule.day_of_week) == 7
