"""The Celery app; its configuration lives in settings (CELERY_*)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery, Task, signals
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cipdash.settings")

app = Celery("cipdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

POLL_TICK_TASK = "calls.tasks.polls_dispatch"

log = logging.getLogger("calls.tasks")


def unconfirmed_check_period(end_seconds: float) -> timedelta:
    """How often beat ends the calls past confirmation: a tenth of the limit, at least 5 s
    and at most 5 min, so that a call ends soon after the limit (within 5 min of the default
    6 h, not at the next daily purge) and a short limit does not keep a worker busy."""
    return timedelta(seconds=min(max(end_seconds / 10, 5.0), 300.0))


@app.on_after_finalize.connect
def _schedule(sender: Celery, **_: object) -> None:
    from django.conf import settings
    from django.db import connection

    unconfirmed_check = unconfirmed_check_period(settings.CALL_UNCONFIRMED_END_SECONDS)
    sender.conf.beat_schedule = {
        "poll-tick": {
            "task": POLL_TICK_TASK,
            "schedule": timedelta(seconds=settings.POLL_TICK_SECONDS),
            # Only with another scheduler, which sends the tick to a worker: a tick that waited
            # longer than its period is stale, the next one replaces it.
            "options": {"expires": max(settings.POLL_TICK_SECONDS * 2, 1.0)},
        },
        "purge-old-calls": {
            "task": "calls.tasks.calls_purge",
            "schedule": crontab(minute=17, hour=settings.PURGE_HOUR_UTC),
        },
        "end-unconfirmed-calls": {
            "task": "calls.tasks.calls_end_unconfirmed",
            "schedule": unconfirmed_check,
            # A check that waited a whole period is replaced by the next one.
            "options": {"expires": unconfirmed_check.total_seconds()},
        },
    }
    if connection.vendor == "sqlite":  # PostgreSQL's own checkpointer does this
        # Run by a worker thread: its fsyncs must not hold up beat's claims.
        sender.conf.beat_schedule["sqlite-checkpoint"] = {
            "task": "calls.tasks.database_checkpoint",
            "schedule": timedelta(seconds=settings.SQLITE_CHECKPOINT_SECONDS),
            "options": {"expires": settings.SQLITE_CHECKPOINT_SECONDS},
        }


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_check(sender: Task[Any, Any] | None = None, **_: object) -> None:
    """Around each task, as Django does around each request: close this thread's database
    connection only once broken or older than CONN_MAX_AGE. (Celery's own default reconnects
    for every task, which cost a poll more than its work; settings turn that off.)"""
    if sender is None or getattr(sender.request, "is_eager", False):
        return  # run inline by its caller, whose connection (and transaction) it shares
    from django.db import close_old_connections

    close_old_connections()


class PollingScheduler(PersistentScheduler):
    """Celery beat's scheduler, except that the poll tick runs here, in the beat process,
    instead of being sent to a worker. A tick queued among hundreds of polls would wait for a
    free worker exactly when the polls need it most, so slots would be claimed late; run here,
    it claims every slot ahead of time and the workers get each poll before it is due."""

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        if entry.task != POLL_TICK_TASK:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        if advance:
            self.reserve(entry)
        from django.db import close_old_connections

        from calls.tasks import polls_dispatch_task

        # Beat lives for weeks: drop a connection the database closed (a restart, a failover)
        # or one past CONN_MAX_AGE, as Django does around each web request.
        close_old_connections()
        try:
            polls_dispatch_task()
        except Exception:  # one failed tick (database down) must not stop the clock
            log.exception("poll tick failed")
        finally:
            close_old_connections()
        return None
