"""The Celery app; its configuration lives in settings (CELERY_*)."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cipdash.settings")

app = Celery("cipdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "poll-tick": {
            "task": "calls.tasks.polls_dispatch",
            "schedule": timedelta(seconds=settings.POLL_TICK_SECONDS),
            # A tick that waited longer than its period is stale: the next one replaces it.
            "options": {"expires": max(settings.POLL_TICK_SECONDS * 2, 1.0)},
        },
        "purge-old-calls": {
            "task": "calls.tasks.calls_purge",
            "schedule": crontab(minute=17, hour=settings.PURGE_HOUR_UTC),
        },
    }
