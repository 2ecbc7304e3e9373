"""A worker process killed with SIGKILL in the middle of an ingest: its transaction rolls back
whole, its lock keeps other polls off until it runs out, and the next poll applies the answer
once: nothing lost, nothing duplicated, no call ended twice."""

from __future__ import annotations

import pytest
from django.db.models import Count

from calls import tasks
from calls.models import Call, CallSnapshot, PollOutcome, PollRun
from calls.sandbox import bulk_payload, bulk_payload_mutate
from tests.faults.locks import poll_lock_expire
from tests.faults.processes import killed_inside_an_ingest
from tests.faults.support import ended_count

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _ids(payload: dict) -> set[str]:  # type: ignore[type-arg]
    return {call["transaction_id"] for call in payload["current_calls"]}


def _state() -> tuple[int, int, int, int]:
    return (
        Call.objects.count(),
        CallSnapshot.objects.count(),
        PollRun.objects.count(),
        ended_count(),
    )


def test_a_worker_killed_before_its_ingest_commits_changes_nothing_and_the_next_poll_applies(
    feed, make_org
):
    org = make_org(target_live=0, clean_misses_to_end=1)
    first = bulk_payload(300, seed=3)
    feed.serve_static(org.invoca_id, first)
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    second = bulk_payload_mutate(
        first, changed_fraction=0.1, new_fraction=0.05, ended_fraction=0.05
    )
    feed.serve_static(org.invoca_id, second)
    gone, new = _ids(first) - _ids(second), _ids(second) - _ids(first)
    assert len(gone) == len(new) == 15
    before = _state()
    state = org.fresh().poll_state
    poll_state_before = (state.feed_version, state.answer_started_at, state.sighted_at)

    with killed_inside_an_ingest("tests.faults.killed_ingest", org.organization.pk):
        # The ended calls, the new ones and the run are all written, and none is visible.
        assert _state() == before

    assert _state() == before
    after_kill = org.fresh().poll_state
    assert (
        after_kill.feed_version,
        after_kill.answer_started_at,
        after_kill.sighted_at,
    ) == poll_state_before
    # The dead worker's lock stays until it runs out: no poll overlaps one that may be alive.
    requests = feed.request_count(org.invoca_id)
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == "locked"
    assert feed.request_count(org.invoca_id) == requests

    poll_lock_expire(org.organization.pk)
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    run = PollRun.objects.order_by("-started_at").first()
    assert run is not None and (run.calls_new, run.calls_changed, run.calls_ended) == (15, 30, 15)
    ended = set(
        Call.objects.filter(ended_at__isnull=False).values_list("transaction_id", flat=True)
    )
    assert ended == gone
    assert Call.objects.count() == 315
    # One snapshot per version: the first poll's, the changed calls' and the new calls'.
    assert CallSnapshot.objects.count() == 300 + 30 + 15
    assert (
        not CallSnapshot.objects.values("call", "content_hash")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )

    # The same answer again changes nothing and ends nothing twice.
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    latest = PollRun.objects.order_by("-started_at").first()
    assert latest is not None and (latest.calls_new, latest.calls_changed, latest.calls_ended) == (
        0,
        0,
        0,
    )
    assert ended_count() == 15 and CallSnapshot.objects.count() == 345
