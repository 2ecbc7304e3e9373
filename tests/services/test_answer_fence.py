"""Never an old answer: an answer whose request started before the one behind the latest
applied answer is recorded as superseded and changes nothing, whichever kind of poll brings
it (scheduled, manual or a lookup)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from calls.invoca.decoding import current_calls_read
from calls.models import Call, CallSnapshot, Organization, PollKind, PollOutcome, PollRun
from calls.selectors.polling import live_calls_stored
from calls.services import PollAttempt, poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answer(
    org: Organization,
    ids: list[str],
    *,
    started: float,
    finished: float,
    kind: str = PollKind.SCHEDULED,
    filtered: bool = False,
) -> PollAttempt:
    body = json.dumps({"current_calls": [call_payload(i) for i in ids]}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_stored(organization=org), filtered=filtered)
    return poll_result_ingest(
        organization=org,
        result=result,
        started_at=at(started),
        finished_at=at(finished),
        kind=kind,
    )


def live_ids() -> set[str]:
    return set(Call.objects.filter(ended_at__isnull=True).values_list("transaction_id", flat=True))


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory.create(clean_misses_to_end=1)


def test_an_applied_answer_records_when_its_request_started(org):
    assert answer(org, ["A"], started=0, finished=1).clean
    org.refresh_from_db()
    assert org.poll_state.answer_started_at == at(0)


def test_an_old_answer_arriving_late_ends_no_call_the_newer_one_saw(org):
    answer(org, ["A", "B"], started=0, finished=1)
    answer(org, ["A", "B", "X"], started=10, finished=11)
    org.refresh_from_db()
    state = (
        org.poll_state.feed_version,
        org.poll_state.last_success_at,
        org.poll_state.sighted_at,
        org.poll_state.status,
    )
    snapshots = CallSnapshot.objects.count()

    # Started before the newer one, arrives after it, without X and B: applied, it would end
    # them (one clean miss ends a call here) and count a poll that did not happen last.
    late = answer(org, ["A"], started=5, finished=20)

    assert late.run.outcome == PollOutcome.SUPERSEDED
    assert late.counts.anything_changed is False
    assert live_ids() == {"A", "B", "X"}
    assert not Call.objects.filter(missed_polls__gt=0).exists()
    assert CallSnapshot.objects.count() == snapshots
    org.refresh_from_db()
    assert (
        org.poll_state.feed_version,
        org.poll_state.last_success_at,
        org.poll_state.sighted_at,
        org.poll_state.status,
    ) == state
    assert org.poll_state.answer_started_at == at(10)
    assert list(PollRun.objects.order_by("started_at").values_list("outcome", flat=True)) == [
        PollOutcome.CLEAN,
        PollOutcome.SUPERSEDED,
        PollOutcome.CLEAN,
    ]
    # The next answer, newer than both, applies as usual.
    assert answer(org, ["A"], started=30, finished=31).counts.ended == 2


def test_an_answer_from_the_same_start_is_not_applied_twice(org):
    answer(org, ["A"], started=0, finished=1)
    assert answer(org, [], started=0, finished=2).run.outcome == PollOutcome.SUPERSEDED
    assert live_ids() == {"A"}


def test_lookups_follow_the_same_rule(org):
    answer(org, ["A"], started=0, finished=1)
    # A lookup newer than the poll: applied, and it becomes the answer to beat.
    lookup = answer(org, ["L"], started=10, finished=11, kind=PollKind.LOOKUP, filtered=True)
    assert lookup.run.outcome == PollOutcome.FILTERED
    assert live_ids() == {"A", "L"}
    # A scheduled answer that started before the lookup, without L: not applied.
    assert answer(org, ["A"], started=5, finished=12).run.outcome == PollOutcome.SUPERSEDED
    assert live_ids() == {"A", "L"}
    # A lookup older than the applied answer updates nothing either.
    old_lookup = answer(org, ["A"], started=8, finished=13, kind=PollKind.LOOKUP, filtered=True)
    assert old_lookup.run.outcome == PollOutcome.SUPERSEDED
