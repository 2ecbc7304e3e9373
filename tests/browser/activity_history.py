"""A day of believable history for the Activity page's browser tests and screenshots: calls
that rise and fall with the hours (today and a week earlier), a minute's poll runs, a spell
in which the feed failed and one in which nobody polled."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from calls.models import Call, Organization, PollOutcome, PollRun

CAMPAIGNS = ("Auto quote — spring", "Home insurance", "Life cover", "Pet plan", "Renters")
SOURCES = ("google", "bing", "facebook", "tv", "radio", "email")


def _calls(
    org: Organization, *, end: datetime, prefix: str, rng: random.Random, live: bool
) -> list[Call]:
    """A day of calls up to `end`; with `live`, those still on the line at `end` are live."""
    calls = []
    for minute in range(24 * 60):
        at = end - timedelta(minutes=24 * 60 - minute)
        rate = 1.2 + math.sin((at.hour - 9) / 24 * 2 * math.pi)  # busiest mid-afternoon
        for index in range(rng.randint(0, max(0, round(rate * 1.5)))):
            seen = at + timedelta(seconds=rng.randint(0, 59))
            ended = seen + timedelta(seconds=rng.randint(30, 900))
            calls.append(
                Call(
                    organization=org,
                    transaction_id=f"{prefix}{minute}-{index}",
                    content_hash="h",
                    first_seen_at=seen,
                    last_seen_at=min(ended, end) if live else ended,
                    bridge_start_time=seen,
                    ended_at=None if live and ended >= end else ended,
                    general={
                        "advertiser_campaign_name": rng.choice(CAMPAIGNS),
                        "advertiser_name": "Acme",
                    },
                    custom_data={
                        "utm_source": {"value": rng.choice(SOURCES), "source": "Api"},
                        "lead_type": {"value": rng.choice(("hot", "warm", "cold")), "source": ""},
                    },
                )
            )
    return calls


def _poll_runs(org: Organization, *, end: datetime) -> list[PollRun]:
    runs = []
    for minute in range(24 * 60):
        at = end - timedelta(minutes=24 * 60 - minute)
        ago = 24 * 60 - minute
        if 400 < ago <= 420:  # nobody polled for twenty minutes
            continue
        failing = 170 < ago <= 190
        runs.append(
            PollRun(
                organization=org,
                started_at=at,
                finished_at=at,
                outcome=PollOutcome.UNAVAILABLE if failing else PollOutcome.CLEAN,
                http_status=503 if failing else 200,
                duration_ms=60 + (minute * 37) % 90,
            )
        )
    return runs


def activity_history_create(org: Organization, *, now: datetime) -> None:
    """Calls of the last 24 hours and of the same hours a week earlier, and the poll runs of
    the last 24 hours; the organization has existed for a month."""
    rng = random.Random(7)
    Organization.objects.filter(pk=org.pk).update(created_at=now - timedelta(days=30))
    calls = _calls(org, end=now, prefix="TODAY", rng=rng, live=True)
    calls += _calls(org, end=now - timedelta(days=7), prefix="WEEK", rng=rng, live=False)
    Call.objects.bulk_create(calls, batch_size=500)
    PollRun.objects.bulk_create(_poll_runs(org, end=now), batch_size=500)
