"""Scheduled polls handed to the workers in small batches rather than one task each.

A task costs its message, beat's send, the broker's bookkeeping and the worker's receipt, eta
timer and trace: at hundreds of polls a second that is a large share of a poll's CPU. Slots
falling due within a fraction of a second of each other therefore travel as one task, whose
worker thread polls them one after the other, each at its own slot and under its own lock, as
if each had come alone (calls.services.polling.organization_poll_slot)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from calls.services.polling import (
    PollSlot,
    organization_poll_slot,
    poll_unexpected_error_log,
    polls_claim_due,
)

# Slots this close share a batch, and a slot joins one only if the polls ahead of it in the
# batch, at their latest durations, let it start at most this late: the scheduling lag stays
# well under a second whether Invoca answers in milliseconds or in hundreds of them (slow
# answers leave a batch one or two polls, and the worker threads wait for them side by side).
BATCH_SPAN = timedelta(seconds=0.25)


@dataclass(frozen=True, slots=True)
class PollBatch:
    """Slots to poll in turn by one worker thread. Each starts at `max(its slot, now)`: a
    slot missed in downtime is served at once, the others when they come."""

    slots: tuple[tuple[int, datetime], ...]  # (organization id, when its poll starts)
    expires_at: datetime  # once the first slot's interval has passed, the batch is obsolete

    @property
    def starts_at(self) -> datetime:
        return self.slots[0][1]


def poll_batches_claim(*, now: datetime, ahead: timedelta = timedelta(0)) -> list[PollBatch]:
    """Claim the slots due by `now + ahead` (polls_claim_due) and group them, in the order they
    fall due, into batches of at most POLL_BATCH_SIZE slots within BATCH_SPAN of each other,
    each expected to start within BATCH_SPAN of its slot (see _joins)."""
    claimed = sorted(polls_claim_due(now=now, ahead=ahead), key=lambda slot: slot.due_at)
    groups: list[list[PollSlot]] = []
    busy_until: datetime | None = None  # when the last batch's polls should be done
    for slot in claimed:
        if groups and _joins(groups[-1], slot, busy_until):
            groups[-1].append(slot)
            starts = max(slot.due_at, busy_until or slot.due_at)
        else:
            groups.append([slot])
            starts = slot.due_at
        # An organization never polled yet (every call new, at an unknown pace) ends its batch.
        busy_until = None if slot.last_duration is None else starts + slot.last_duration
    return [_batch(group, now=now) for group in groups]


def _joins(group: list[PollSlot], slot: PollSlot, busy_until: datetime | None) -> bool:
    """Whether `slot` may follow `group`'s polls in one thread: the batch has room, the slot
    falls due within BATCH_SPAN of the batch's first and, the polls ahead of it taking as
    long as their latest did, would start within BATCH_SPAN of falling due."""
    return (
        busy_until is not None
        and len(group) < settings.POLL_BATCH_SIZE
        and slot.due_at - group[0].due_at <= BATCH_SPAN
        and busy_until - slot.due_at <= BATCH_SPAN
    )


def _batch(group: list[PollSlot], *, now: datetime) -> PollBatch:
    starts = tuple((slot.organization_id, max(slot.due_at, now)) for slot in group)
    shortest = min(slot.interval_seconds for slot in group)
    return PollBatch(starts, expires_at=starts[0][1] + timedelta(seconds=shortest))


# A batch whose next slot is this late hands the rest of its slots back to the queue, where
# free worker threads take them: one slow organization (a large answer, a slow Invoca) must
# not hold up the polls queued behind it in its batch.
BATCH_HAND_BACK_LATE = timedelta(seconds=0.5)

Slots = Sequence[tuple[int, datetime | None]]


def poll_batch_run(*, slots: Slots, hand_back: Callable[[Slots], None]) -> list[str]:
    """Poll each (organization id, slot) in turn, waiting for its slot to come; one outcome
    each (see organization_poll_slot), or "handed-back" for the slots given to `hand_back`
    once the batch's own polls made it fall behind (never before its first poll, so that
    every batch makes progress). A poll that fails unexpectedly (its database or cache
    unreachable) is logged and the batch goes on: one organization never costs the others
    their poll."""
    outcomes: list[str] = []
    started_at = timezone.now()
    for position, (organization_id, slot_at) in enumerate(slots):
        if slot_at is not None:
            now = timezone.now()
            # Late through this batch's own polls: a batch taken late from a backlog would
            # only go back to the end of it.
            if outcomes and now - max(slot_at, started_at) > BATCH_HAND_BACK_LATE:
                hand_back(slots[position:])
                return outcomes + ["handed-back"] * (len(slots) - position)
            time.sleep(max(0.0, (slot_at - now).total_seconds()))
        try:
            outcomes.append(
                organization_poll_slot(organization_id=organization_id, slot_at=slot_at)
            )
        except Exception as exc:
            poll_unexpected_error_log(organization_id=organization_id, error=exc)
            outcomes.append("error")
    return outcomes
