"""The Activity page in-process (Django's test client) over 30 days of one organization's
history at 20,000 calls a day (600,000 calls, a poll every 30 s), against a naive peer that
loads the calls of the page's windows and bins them in Python; and its minute refresh with
nothing changed against the live list's.

Goals: the page (query, render, response) ≥ 10x faster than the naive peer's binning alone;
statements constant in the number of calls; the no-change refresh 204 with an empty body,
costing ≤ 1.25x the list's no-change refresh.

    .venv/bin/python bench/activity.py [--postgres] [--days 30] [--per-day 20000]
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from harness import (
    bench_arguments,
    django_environment,
    interleaved_medians,
    live_version,
    milliseconds,
    repeated,
    statements_row,
    table_print,
    timed,
    verdict,
)

_ACTIVITY_VERSION = re.compile(r'id="activity-region"[^>]*data-version="([^"]*)"')
PAGE_GOAL = 10.0
EVENING_HOUR = 20
REFRESH_GOAL = 1.25
POLL_EVERY = timedelta(seconds=30)
BATCH = 5_000
CAMPAIGNS = [f"Campaign {n:02}" for n in range(25)]
SOURCES = ["google", "bing", "facebook", "tv", "radio", "email", "direct", "partner"]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=30, help="days of history")
    parser.add_argument("--per-day", type=int, default=20_000, help="calls a day")


def history_create(*, name: str, days: int, per_day: int, now: datetime) -> Any:
    """An organization with `days` of calls (spread evenly, 30 s to 15 min long; those still
    on the line at `now` live) and a clean poll every POLL_EVERY."""
    from calls.models import Call, HighlightRule, Organization, PollOutcome, PollRun

    organization = Organization.objects.create(
        name=name,
        organization_type="Network",
        invoca_id=str(abs(hash(name)) % 10**8),
        # Polled by nobody: a long interval keeps its feed healthy for the whole run.
        poll_interval_seconds=3600,
        pinned_fields=["utm_source", "lead_type"],
    )
    Organization.objects.filter(pk=organization.pk).update(created_at=now - timedelta(days=days))
    HighlightRule.objects.create(
        organization=organization, field="lead_type", value="hot", label="HOT LEAD"
    )
    rng = random.Random(days * per_day)
    start, total = now - timedelta(days=days), days * per_day
    step = timedelta(days=days) / total
    batch: list[Call] = []
    for index in range(total):
        seen = start + step * index
        ended = seen + timedelta(seconds=rng.randint(30, 900))
        batch.append(
            Call(
                organization=organization,
                transaction_id=f"T{index}",
                content_hash="h",
                first_seen_at=seen,
                last_seen_at=min(ended, now),
                bridge_start_time=seen,
                ended_at=None if ended >= now else ended,
                general={"advertiser_campaign_name": rng.choice(CAMPAIGNS)},
                custom_data={
                    "utm_source": {"value": rng.choice(SOURCES), "source": "Api"},
                    "lead_type": {"value": rng.choice(("hot", "warm", "cold")), "source": "Api"},
                },
            )
        )
        if len(batch) == BATCH:
            Call.objects.bulk_create(batch)
            batch = []
    Call.objects.bulk_create(batch)
    polls = int(timedelta(days=days) / POLL_EVERY)
    PollRun.objects.bulk_create(
        (
            PollRun(
                organization=organization,
                started_at=start + POLL_EVERY * index,
                finished_at=start + POLL_EVERY * index,
                outcome=PollOutcome.CLEAN,
                http_status=200,
                duration_ms=80,
            )
            for index in range(polls)
        ),
        batch_size=BATCH,
    )
    return organization


def _naive_window(calls: list[Any], *, start: datetime, rules: list[Any]) -> dict[str, Any]:
    """Every chart's numbers for one day's window, one call at a time."""
    from calls.presentation import custom_value, highlight_matches

    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    live = [0] * 1440
    hours: Counter[int] = Counter()
    groups: dict[str, Counter[str]] = {}
    hot: dict[str, Counter[str]] = {}
    durations: list[float] = []
    for call in calls:
        first = max(0, int((call.first_seen_at - start) / minute))
        ended = call.ended_at
        last = 1439 if ended is None else min(1439, int((ended - start) / minute))
        for index in range(first, last + 1):
            live[index] += 1
        if call.first_seen_at >= start:
            hours[int((call.first_seen_at - start) / hour)] += 1
            highlighted = any(highlight_matches(rule=rule, call=call) for rule in rules)
            labels = {
                "campaign": call.general.get("advertiser_campaign_name", ""),
                "advertiser": call.general.get("advertiser_name", ""),
                "utm_source": custom_value(call, "utm_source"),
                "lead_type": custom_value(call, "lead_type"),
            }
            for name, label in labels.items():
                groups.setdefault(name, Counter())[label] += 1
                hot.setdefault(name, Counter())[label] += highlighted
        if ended is not None and call.bridge_start_time is not None:
            durations.append((ended - call.bridge_start_time).total_seconds())
    durations.sort()
    return {
        "live": live,
        "hours": hours,
        "groups": {name: counts.most_common(10) for name, counts in groups.items()},
        "highlighted": hot,
        "median": durations[len(durations) // 2] if durations else None,
        "p90": durations[int(len(durations) * 0.9)] if durations else None,
    }


def naive_activity(*, organization_id: int, now: datetime) -> dict[str, Any]:
    """What the page shows, the naive way: load the calls of its windows (the last 24 hours
    and the same hours a week earlier) and the day's poll runs, then count every call and
    poll in Python: live per minute, started per hour, the groups with their highlights,
    the durations, the polls per hour."""
    from django.db.models import Q

    from calls.models import Call, HighlightRule, PollRun

    day = timedelta(days=1)
    rules = list(HighlightRule.objects.filter(organization_id=organization_id).order_by("pk"))
    result: dict[str, Any] = {}
    for name, start in {"today": now - day, "week": now - timedelta(days=8)}.items():
        calls = list(
            Call.objects.filter(organization_id=organization_id, first_seen_at__lt=start + day)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
            .order_by("pk")
        )
        result[name] = _naive_window(calls, start=start, rules=rules)
    runs = PollRun.objects.filter(organization_id=organization_id, started_at__gte=now - day)
    polls: Counter[int] = Counter()
    clean: Counter[int] = Counter()
    for run in runs.order_by("pk"):
        hour = int((now - run.started_at) / timedelta(hours=1))
        polls[hour] += 1
        clean[hour] += run.outcome == "clean"
    result["feed"] = (polls, clean)
    return result


def evening_time_zone(now: datetime) -> str:
    """A fixed-offset zone in which `now` is 20:00 or so (Etc/GMT-N is N hours east)."""
    offset = (EVENING_HOUR - now.hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}"


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    tiny = arguments.tiny
    days, per_day = (2, 500) if tiny else (arguments.days, arguments.per_day)
    runs = 1 if tiny else max(arguments.runs, 3)
    with django_environment(postgres=arguments.postgres) as environment:
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from calls.models import UserPreference

        now = timezone.now()
        load, large = timed(
            lambda: history_create(name="Large", days=days, per_day=per_day, now=now)
        )
        small = history_create(name="Small", days=days, per_day=max(1, per_day // 10), now=now)
        if environment.database == "PostgreSQL":
            # As autovacuum leaves a month-old table: statistics, and a visibility map that
            # lets counts read the indexes alone.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        user = User.objects.create_superuser("bench-admin", "bench@example.com", None)
        # The viewer's day is 20 hours old whenever the bench runs: "today" holds as many
        # calls at midnight UTC as in the evening.
        UserPreference.objects.create(user=user, time_zone=evening_time_zone(now))
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        page_url = f"/activity/?org={large.pk}"
        page = client.get(page_url)
        if page.status_code != 200:
            raise RuntimeError(f"the Activity page answered {page.status_code}")
        listed = client.get(f"/?org={large.pk}")
        htmx = {"HX-Request": "true"}
        found = _ACTIVITY_VERSION.search(page.content.decode())
        assert found is not None, "the Activity page shows no version"
        activity_version = found.group(1)
        list_version = live_version(listed.content.decode()) or ""
        activity_refresh = client.get(
            page_url, headers={**htmx, "X-Feed-Version": activity_version}
        )
        list_refresh = client.get(
            f"/?org={large.pk}", headers={**htmx, "X-Feed-Version": list_version}
        )

        pages = interleaved_medians(
            {
                "page": lambda: client.get(page_url),
                "naive": lambda: naive_activity(organization_id=large.pk, now=timezone.now()),
            },
            runs=runs,
        )
        batch = 100
        refreshes = {
            name: total / batch
            for name, total in interleaved_medians(
                {
                    "activity": repeated(
                        lambda: client.get(
                            page_url, headers={**htmx, "X-Feed-Version": activity_version}
                        ),
                        batch,
                    ),
                    "list": repeated(
                        lambda: client.get(
                            f"/?org={large.pk}", headers={**htmx, "X-Feed-Version": list_version}
                        ),
                        batch,
                    ),
                },
                runs=runs,
            ).items()
        }
        queries = []
        for organization in (small, large):
            with CaptureQueriesContext(connection) as captured:
                client.get(f"/activity/?org={organization.pk}")
            queries.append(len(captured.captured_queries))

    total = days * per_day
    refresh_clean = all(
        response.status_code == 204 and not response.content
        for response in (activity_refresh, list_refresh)
    )
    page_ratio = pages["naive"] / pages["page"]
    refresh_ratio = refreshes["activity"] / refreshes["list"]
    table_print(
        f"Activity page over {days} days at {per_day:,} calls a day ({total:,} calls, loaded in "
        f"{load:.0f} s), {environment.database}",
        ["figure", "ratio", "goal", "holds", "time", "yardstick"],
        [
            [
                "naive peer (load the windows' calls, bin in Python) ÷ page",
                f"{page_ratio:.1f}x",
                f"≥ {PAGE_GOAL:g}x",
                verdict(page_ratio >= PAGE_GOAL, tiny=tiny),
                milliseconds(pages["page"]),
                milliseconds(pages["naive"]),
            ],
            [
                "no-change refresh ÷ the list's no-change refresh",
                f"{refresh_ratio:.2f}x",
                f"≤ {REFRESH_GOAL:g}x",
                verdict(refresh_ratio <= REFRESH_GOAL, tiny=tiny),
                milliseconds(refreshes["activity"]),
                milliseconds(refreshes["list"]),
            ],
            [
                "no-change refresh: status, body (Activity, list)",
                f"{activity_refresh.status_code} {len(activity_refresh.content)} B, "
                f"{list_refresh.status_code} {len(list_refresh.content)} B",
                "204, empty",
                verdict(refresh_clean, tiny=tiny),
                "",
                "",
            ],
            statements_row(f"statements for {total // 10:,} → {total:,} calls", queries, tiny=tiny),
        ],
    )


if __name__ == "__main__":
    main()
