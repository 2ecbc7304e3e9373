"""The live list in-process (Django's test client): a full render against Django admin's
changelist of the same calls, and the no-change refresh against the full render.

Goals: render ≤ 0.5x the admin changelist; queries constant in N; the no-change refresh ≥ 20x
cheaper than a full render, with an empty body and no template rendered.

    .venv/bin/python bench/live_list.py [--postgres] [--calls 500]
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from harness import (
    bench_arguments,
    django_environment,
    interleaved_medians,
    live_version,
    milliseconds,
    table_print,
    verdict,
)

RENDER_GOAL = 0.5
REFRESH_GOAL = 20.0


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=500, help="live calls on the list")


def _organization_with_calls(*, number: int, calls: int) -> Any:
    """An organization with `calls` live calls, written by the real ingest a moment ago."""
    from django.utils import timezone

    from calls.invoca import current_calls_parse
    from calls.models import Organization
    from calls.sandbox.population import bulk_payload
    from calls.services import poll_result_ingest

    # Polled once here and never again: a long interval keeps its feed healthy (not stale)
    # for the whole run, so the list's version changes only when its calls do.
    organization = Organization.objects.create(
        name=f"Live {number}",
        organization_type="Network",
        invoca_id=str(number),
        poll_interval_seconds=3600,
    )
    now = timezone.now() - timedelta(seconds=1)
    result = current_calls_parse(json.loads(json.dumps(bulk_payload(calls, seed=number))))
    poll_result_ingest(organization=organization, result=result, started_at=now, finished_at=now)
    return organization


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    calls = 20 if arguments.tiny else arguments.calls
    with django_environment(postgres=arguments.postgres) as environment:
        from django.contrib import admin
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, setup_test_environment

        from calls.models import Call
        from calls.selectors import live as live_selectors

        setup_test_environment()  # records the templates each response rendered
        large = _organization_with_calls(number=1, calls=calls)
        shown = min(calls, getattr(live_selectors, "LIST_LIMIT", calls))
        # The admin's page shows as many calls as the live list does.
        admin.site._registry[Call].list_per_page = shown  # type: ignore[misc]

        user = User.objects.create_superuser("bench-admin", "bench@example.com", None)
        client = Client()
        client.force_login(user)
        page = client.get("/")
        if page.status_code != 200:
            raise RuntimeError(f"the live list answered {page.status_code}")
        version = live_version(page.content.decode()) or ""
        poll_headers = {"HX-Request": "true", "X-Feed-Version": version}

        refresh = client.get("/", headers=poll_headers)
        changelist = client.get("/admin/calls/call/")
        if changelist.status_code != 200:
            raise RuntimeError(f"the admin changelist answered {changelist.status_code}")

        medians = interleaved_medians(
            {
                "render": lambda: client.get("/"),
                "admin": lambda: client.get("/admin/calls/call/"),
                "refresh": lambda: client.get("/", headers=poll_headers),
            },
            runs=max(arguments.runs, 3) if not arguments.tiny else 1,
        )

        small = _organization_with_calls(number=2, calls=max(1, calls // 10))
        queries = []
        for organization in (small, large):
            with CaptureQueriesContext(connection) as captured:
                client.get("/", {"org": organization.pk})
            queries.append(len(captured.captured_queries))

    tiny = arguments.tiny
    render_ratio = medians["render"] / medians["admin"]
    refresh_ratio = medians["render"] / medians["refresh"]
    refresh_clean = (
        refresh.status_code == 204 and not refresh.content and not list(refresh.templates)
    )
    table_print(
        f"Live list with {calls} live calls ({shown} shown), {environment.database}",
        ["figure", "ratio", "goal", "holds", "time", "yardstick"],
        [
            [
                "full render ÷ admin changelist (same calls)",
                f"{render_ratio:.2f}x",
                f"≤ {RENDER_GOAL:g}x",
                verdict(render_ratio <= RENDER_GOAL, tiny=tiny),
                milliseconds(medians["render"]),
                milliseconds(medians["admin"]),
            ],
            [
                "full render ÷ no-change refresh",
                f"{refresh_ratio:.0f}x",
                f"≥ {REFRESH_GOAL:g}x",
                verdict(refresh_ratio >= REFRESH_GOAL, tiny=tiny),
                milliseconds(medians["refresh"]),
                milliseconds(medians["render"]),
            ],
            [
                "no-change refresh: status, body, templates",
                f"{refresh.status_code}, {len(refresh.content)} bytes, "
                f"{len(list(refresh.templates))} templates",
                "204, empty, none",
                verdict(refresh_clean, tiny=tiny),
                "",
                "",
            ],
            [
                f"queries for {max(1, calls // 10)} → {calls} calls",
                f"{queries[0]} → {queries[1]}",
                "constant",
                verdict(queries[0] == queries[1], tiny=tiny),
                "",
                "",
            ],
        ],
    )


if __name__ == "__main__":
    main()
