"""Thin Celery tasks: each takes keyword arguments only and calls one service.

A task is named after what it runs, with `_task`, apart from the service it calls. The names
the broker knows (`name=`) stay as they are, without it: a renamed one would leave the
messages already queued, and beat's schedule in a running process, with no task to run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from calls import services
from calls.heartbeat import HEARTBEAT_KEY
from calls.services.poll_batches import Slots
from calls.services.poll_lock import poll_task_time_limits

log = logging.getLogger("calls.tasks")


@shared_task(name="calls.tasks.polls_dispatch", ignore_result=True)
def polls_dispatch_task() -> int:
    """Beat tick (run in the beat process itself, see cipdash.celery.PollingScheduler): hand
    the workers one poll for each organization whose slot comes before the next tick, in
    batches of slots due together (calls.services.poll_batches). Returns the polls sent."""
    now = timezone.now()
    try:
        cache.set(HEARTBEAT_KEY, now.isoformat(), timeout=3600)
    except Exception:  # a cache outage must not stop polling; /healthz reports it
        log.warning("beat heartbeat could not be written to the cache")
    # Two periods ahead, so a tick that runs up to one period late still claims every slot
    # before it falls due: the scheduling lag is then the worker's, not the tick's phase.
    ahead = timedelta(seconds=2 * settings.POLL_TICK_SECONDS)
    batches = services.poll_batches_claim(now=now, ahead=ahead)
    for batch in batches:
        _slots_send(
            batch.slots,
            # The worker holds the task until its first slot: polls start on time, not at
            # the tick.
            eta=batch.starts_at,
            # A batch still waiting once its interval has passed is obsolete: the next slots'
            # batches replace it, so a backlog never turns into a burst of requests.
            expires=batch.expires_at,
        )
    return sum(len(batch.slots) for batch in batches)


_POLL_SOFT_TIME_LIMIT, _POLL_TIME_LIMIT = poll_task_time_limits()


# Both limits fall inside the lock's life (calls.services.poll_lock); the prefork pool
# enforces them, the threads pool relies on the poll's own deadlines.
@shared_task(
    name="calls.tasks.organization_poll",
    ignore_result=True,
    soft_time_limit=_POLL_SOFT_TIME_LIMIT,
    time_limit=_POLL_TIME_LIMIT,
)
def organization_poll_task(*, organization_id: int, slot: str = "") -> str:
    """Poll one organization for its slot (ISO 8601; empty: due now); the service decides
    whether the slot is still to be polled."""
    return services.organization_poll_slot(
        organization_id=organization_id, slot_at=_slot_time(slot)
    )


# A batch's polls run one after the other: its hard limit is that of its longest possible
# run. There is no soft limit, which would interrupt whichever poll was running; each poll's
# own deadlines bound it, and one that outlives its lock does not apply its answer.
@shared_task(
    name="calls.tasks.organization_polls",
    ignore_result=True,
    time_limit=settings.POLL_BATCH_SIZE * _POLL_TIME_LIMIT,
)
def organization_polls_task(*, slots: list[list[Any]]) -> list[str]:
    """Poll each [organization id, slot (ISO 8601)] in turn, each at its slot (see
    calls.services.poll_batches)."""
    # The slots a late batch did not get to go back as a batch of their own, for a free
    # thread (each poll still skips a slot that passed a whole interval ago, as expired).
    return services.poll_batch_run(
        slots=[(int(pk), _slot_time(slot)) for pk, slot in slots], hand_back=_slots_send
    )


def _slots_send(slots: Slots, **options: Any) -> None:
    """One organization_polls_task for `slots`, each [organization id, slot as ISO 8601 ("":
    due now)], with Celery's `options`."""
    organization_polls_task.apply_async(
        kwargs={"slots": [[pk, "" if at is None else at.isoformat()] for pk, at in slots]},
        **options,
    )


def _slot_time(slot: str) -> datetime | None:
    try:
        return datetime.fromisoformat(slot) if slot else None
    except ValueError:
        return None


@shared_task(name="calls.tasks.calls_purge", ignore_result=True)
def calls_purge_task() -> int:
    """The daily retention purge (it ends unconfirmed calls first, so none waits for it)."""
    return services.calls_purge(now=timezone.now()).total.calls


@shared_task(name="calls.tasks.calls_end_unconfirmed", ignore_result=True)
def calls_end_unconfirmed_task() -> int:
    """Beat's frequent check (cipdash.celery): live calls past confirmation end soon after
    CALL_UNCONFIRMED_END_SECONDS, not at the next daily purge."""
    return sum(services.calls_end_unconfirmed(now=timezone.now()).values())


@shared_task(name="calls.tasks.database_checkpoint", ignore_result=True)
def database_checkpoint_task() -> None:
    """Beat's periodic SQLite checkpoint (cipdash.celery), so that no poll's commit runs one."""
    services.database_checkpoint()
