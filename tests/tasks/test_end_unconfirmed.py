"""Beat ends the calls past confirmation every few minutes, not only at the daily purge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from calls import tasks
from calls.invoca.decoding import current_calls_read
from calls.models import Call, CallEndReason
from calls.selectors.polling import live_calls_stored
from calls.services import poll_result_ingest
from cipdash.celery import _schedule, app, unconfirmed_check_period
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
ENTRY = "end-unconfirmed-calls"


@pytest.fixture
def schedule_rebuilt(settings) -> Iterator[None]:
    """Beat's schedule rebuilt from the test's settings, and from the usual ones afterwards."""
    app.finalize()
    usual = settings.CALL_UNCONFIRMED_END_SECONDS
    yield
    settings.CALL_UNCONFIRMED_END_SECONDS = usual
    _schedule(app)


@pytest.mark.parametrize(
    ("end_seconds", "period"), [(21600, 300), (86400, 300), (600, 60), (60, 6), (10, 5)]
)
def test_the_check_runs_at_a_tenth_of_the_limit_within_bounds(end_seconds, period):
    assert unconfirmed_check_period(end_seconds) == timedelta(seconds=period)


def test_beat_schedules_the_check_from_the_setting(settings, schedule_rebuilt):
    settings.CALL_UNCONFIRMED_END_SECONDS = 60
    _schedule(app)
    entry = app.conf.beat_schedule[ENTRY]
    assert entry["task"] == tasks.calls_end_unconfirmed_task.name
    assert entry["schedule"] == timedelta(seconds=6)
    assert entry["options"]["expires"] == 6
    # The retention purge stays daily.
    assert app.conf.beat_schedule["purge-old-calls"]["task"] == tasks.calls_purge_task.name


def test_the_task_ends_calls_past_confirmation(settings):
    settings.CALL_UNCONFIRMED_END_SECONDS = 60
    org = OrganizationFactory.create()
    seen_at = timezone.now() - timedelta(seconds=61)
    body = json.dumps({"current_calls": [call_payload("QUIET")]}).encode()
    result = current_calls_read(body, known=live_calls_stored(organization=org))
    poll_result_ingest(organization=org, result=result, started_at=seen_at, finished_at=seen_at)

    assert tasks.calls_end_unconfirmed_task() == 1
    call = Call.objects.get(transaction_id="QUIET")
    assert (call.ended_at, call.end_reason) == (seen_at, CallEndReason.UNCONFIRMED)
    assert tasks.calls_end_unconfirmed_task() == 0
