"""A scrape of /metrics with many organizations, against the live list's no-change htmx
refresh in the same run.

The database holds 500 organizations with their poll states (a last clean poll each), poll
tallies in several outcomes and duration and lag buckets each, some live calls, and export
tallies. A scrape is timed with its cached text dropped first (what a scrape costs when it
does the work; the cache only makes the others free), through the view as Prometheus asks
for it; for information, what prometheus_client's text format alone costs of it.

Goals: a scrape ≤ 5x the no-change refresh; its statements the same at 50 and at 500
organizations.

    .venv/bin/python bench/metrics.py [--postgres] [--organizations 500]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from harness import (
    bench_arguments,
    django_environment,
    interleaved_medians,
    live_version,
    milliseconds,
    ratio_row,
    repeated,
    statements_row,
    table_print,
)
from live_list import LiveOrganization

SCRAPE_GOAL = 5.0
_TOKEN = "bench-metrics-token-0123456789"  # a throwaway database's token
# Per organization: outcomes with their HTTP status, and the buckets their polls fell in.
_OUTCOMES = (("clean", 200), ("partial", 200), ("unavailable", 503), ("error", 0))
_DURATION_BUCKETS = (1, 2, 3, 5)
_LAG_BUCKETS = (0, 2)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organizations", type=int, default=500, help="organizations polled")


def _organizations_add(count: int, *, first_number: int) -> None:
    """`count` organizations with a last clean poll, tallies and two live calls every
    fifth one, written in bulk (the bench measures the scrape, not how they came)."""
    from django.utils import timezone

    from calls.models import Call, Organization, OrganizationPollState, PollTally

    now = timezone.now()
    organizations = [
        # A long interval, as LiveOrganization's: no feed turns stale during the run, which
        # would change what the refresh answers.
        Organization.objects.create(
            name=f"Scraped {number}",
            organization_type="Advertiser",
            invoca_id=str(number),
            poll_interval_seconds=3600,
        )
        for number in range(first_number, first_number + count)
    ]
    OrganizationPollState.objects.filter(pk__in=[org.pk for org in organizations]).update(
        last_success_at=now
    )
    PollTally.objects.bulk_create(
        PollTally(
            organization=organization,
            outcome=outcome,
            http_status=status,
            duration_bucket=duration_bucket,
            lag_bucket=lag_bucket,
            count=1000 + duration_bucket,
            duration_sum=300.0,
            lag_sum=40.0,
        )
        for organization in organizations
        for outcome, status in _OUTCOMES
        for duration_bucket in _DURATION_BUCKETS
        for lag_bucket in _LAG_BUCKETS
    )
    Call.objects.bulk_create(
        Call(
            organization=organization,
            transaction_id=f"{organization.pk}-{index}",
            content_hash="0" * 32,
            first_seen_at=now,
            last_seen_at=now,
        )
        for organization in organizations[::5]
        for index in range(2)
    )


class _Collected:
    """Families already collected, handed to the text format as they are."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def _statements(function: Callable[[], Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    tiny = arguments.tiny
    organizations = 20 if tiny else arguments.organizations
    fewer = max(1, organizations // 10)
    runs = max(arguments.runs, 3) if not tiny else 1
    os.environ["METRICS_TOKEN"] = _TOKEN
    with django_environment(postgres=arguments.postgres) as environment:
        from django.test import Client
        from prometheus_client import CollectorRegistry, generate_latest

        from calls.models import ExportTally, Role
        from calls.selectors.metrics import RECENT_METRICS, CipdashCollector, metrics_text_build
        from calls.services.members import member_add

        ExportTally.objects.bulk_create(
            ExportTally(door=door, count=12, rows=3400) for door in ("web", "admin", "cli")
        )
        # The list the refresh is asked of: one organization's 50 live calls, as an agent has.
        listed = LiveOrganization(number=1, calls=50)
        _organizations_add(fewer - 1, first_number=2)
        statements = [_statements(metrics_text_build)]
        _organizations_add(organizations - fewer, first_number=fewer + 1)
        statements.append(_statements(metrics_text_build))

        # An agent of the listed organization: a superuser's list would stand for every
        # organization of the database, which is not the refresh an agent's screen makes.
        agent = member_add(
            organization_id=listed.organization.pk, username="bench-agent", role=Role.AGENT
        ).membership.user
        client = Client(SERVER_NAME="localhost")
        client.force_login(agent)
        page = client.get("/", {"org": listed.organization.pk})
        if page.status_code != 200:
            raise RuntimeError(f"the live list answered {page.status_code}")
        refresh_headers = {
            "HX-Request": "true",
            "X-Feed-Version": live_version(page.content.decode()) or "",
        }
        scraper = Client(SERVER_NAME="localhost", headers={"Authorization": f"Bearer {_TOKEN}"})

        def refresh() -> Any:
            answer = client.get("/", {"org": listed.organization.pk}, headers=refresh_headers)
            if answer.status_code != 204:
                raise RuntimeError(f"the no-change refresh answered {answer.status_code}")

        def scrape() -> Any:
            RECENT_METRICS.clear()  # the scrape that does the work
            answer = scraper.get("/metrics")
            if answer.status_code != 200:
                raise RuntimeError(f"/metrics answered {answer.status_code}")
            return answer

        size = len(scrape().content)
        # The text format alone: prometheus_client writing families already read.
        collected = CollectorRegistry(auto_describe=False)
        collected.register(_Collected(list(CipdashCollector().collect())))
        batches = {"scrape": 5, "refresh": 100, "format": 5}
        medians = {
            name: total / batches[name]
            for name, total in interleaved_medians(
                {
                    "scrape": repeated(scrape, batches["scrape"]),
                    "refresh": repeated(refresh, batches["refresh"]),
                    "format": repeated(lambda: generate_latest(collected), batches["format"]),
                },
                runs=runs,
            ).items()
        }

    table_print(
        f"/metrics with {organizations} organizations ({size:,} bytes), {environment.database}",
        ["figure", "ratio", "goal", "holds", "time", "yardstick"],
        [
            ratio_row(
                "scrape, cache empty ÷ no-change list refresh",
                medians["scrape"],
                medians["refresh"],
                goal=SCRAPE_GOAL,
                at_most=True,
                tiny=tiny,
            ),
            [
                "of which the text format (generate_latest) ÷ refresh",
                f"{medians['format'] / medians['refresh']:.2f}x",
                "(information)",
                "",
                milliseconds(medians["format"]),
                milliseconds(medians["refresh"]),
            ],
            statements_row(
                f"statements for {fewer} → {organizations} organizations", statements, tiny=tiny
            ),
        ],
    )


if __name__ == "__main__":
    main()
