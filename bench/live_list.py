"""The live list in-process (Django's test client): a full render against Django admin's
changelist of the same calls, and the no-change refresh against the full render.

The list keeps each row's HTML in a per-process cache keyed by what the row shows, so a render
costs what changed since the last one: it is measured with nothing changed (every row cached),
right after a poll that changed 10 % of the calls, added 5 % and dropped 5 % (what an agent's
refresh renders), and with the row cache empty (a process's first render).

Goals: render ≤ 0.5x the admin changelist; queries constant in N (a full list adds one
COUNT of the calls it leaves out); the no-change refresh ≥ 20x
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
    ratio_row,
    repeated,
    table_print,
    verdict,
)

RENDER_GOAL = 0.5
REFRESH_GOAL = 20.0


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=500, help="live calls on the list")


class LiveOrganization:
    """An organization whose calls are written by the real ingest, one poll at a time."""

    def __init__(self, *, number: int, calls: int) -> None:
        from calls.models import HighlightRule, Organization
        from calls.sandbox.population import bulk_payload

        # Polled only by this script: a long interval keeps its feed healthy (not stale) for
        # the whole run, so the list's version changes only when its calls do. The pinned
        # fields and the rule are the ones each poll's changes touch, so changed calls show.
        self.organization = Organization.objects.create(
            name=f"Live {number}",
            organization_type="Network",
            invoca_id=str(number),
            poll_interval_seconds=3600,
            pinned_fields=["lead_type", "routing_score", "call_summary"],
        )
        HighlightRule.objects.create(
            organization=self.organization, field="lead_type", value="hot", label="Hot lead"
        )
        self.payload = bulk_payload(calls, seed=number)
        self.polls = 0
        self.poll()

    def poll(self) -> None:
        """Ingest the current answer, then make the next one: 10 % of the calls changed,
        5 % new, 5 % gone (as bench/ingest.py)."""
        from django.utils import timezone

        from calls.invoca import current_calls_parse
        from calls.sandbox.population import bulk_payload_mutate
        from calls.services import poll_result_ingest

        now = timezone.now() - timedelta(seconds=1)
        result = current_calls_parse(json.loads(json.dumps(self.payload)))
        poll_result_ingest(
            organization=self.organization, result=result, started_at=now, finished_at=now
        )
        self.polls += 1
        self.payload = bulk_payload_mutate(
            self.payload,
            changed_fraction=0.10,
            new_fraction=0.05,
            ended_fraction=0.05,
            seed=self.polls,
        )


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    calls = 20 if arguments.tiny else arguments.calls
    tiny = arguments.tiny
    runs = max(arguments.runs, 3) if not tiny else 1
    with django_environment(postgres=arguments.postgres) as environment:
        from django.contrib import admin
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client
        from django.test.utils import (
            CaptureQueriesContext,
            setup_test_environment,
            teardown_test_environment,
        )

        from calls.models import Call
        from calls.selectors import live as live_selectors
        from calls.views.live_rows import row_cache

        large = LiveOrganization(number=1, calls=calls)
        shown = min(calls, getattr(live_selectors, "LIST_LIMIT", calls))
        # The admin's page shows as many calls as the live list does.
        admin.site._registry[Call].list_per_page = shown  # type: ignore[misc]

        user = User.objects.create_superuser("bench-admin", "bench@example.com", None)
        client = Client(SERVER_NAME="localhost")  # a host the settings allow
        client.force_login(user)
        page = client.get("/")
        if page.status_code != 200:
            raise RuntimeError(f"the live list answered {page.status_code}")
        version = live_version(page.content.decode()) or ""
        poll_headers = {"HX-Request": "true", "X-Feed-Version": version}

        # The test environment records the templates each response rendered, here to check
        # that the refresh renders none. Its instrumentation costs every template rendered,
        # which production never pays, so it is off while timing.
        setup_test_environment()
        try:
            refresh = client.get("/", headers=poll_headers)
        finally:
            teardown_test_environment()
        changelist = client.get("/admin/calls/call/")
        if changelist.status_code != 200:
            raise RuntimeError(f"the admin changelist answered {changelist.status_code}")

        def render() -> Any:
            return client.get("/")

        def admin_changelist() -> Any:
            return client.get("/admin/calls/call/")

        def cold_render() -> Any:
            row_cache.clear()  # a process's first render
            return render()

        # Each sample is the mean of a run of consecutive requests, as a server busy with a
        # room of agents serves them. A single request right after a collection and another
        # page's render mostly measured cold CPU caches: 2.2 ms for a 1.0 ms refresh.
        batches = {"cached": 10, "empty cache": 10, "admin": 10, "refresh": 100}
        unchanged = {
            name: total / batches[name]
            for name, total in interleaved_medians(
                {
                    "cached": repeated(render, batches["cached"]),
                    "empty cache": repeated(cold_render, batches["empty cache"]),
                    "admin": repeated(admin_changelist, batches["admin"]),
                    "refresh": repeated(
                        lambda: client.get("/", headers=poll_headers), batches["refresh"]
                    ),
                },
                runs=runs,
            ).items()
        }
        # Polls move the version on, so these come after the no-change refresh's samples.
        render()
        polled = interleaved_medians(
            {"after a poll": render, "admin": admin_changelist},
            runs=runs,
            before={"after a poll": large.poll},
        )

        small = LiveOrganization(number=2, calls=max(1, calls // 10))
        queries = []
        for organization in (small.organization, large.organization):
            with CaptureQueriesContext(connection) as captured:
                client.get("/", {"org": organization.pk})
            queries.append(len(captured.captured_queries))

    # A full list counts the calls it leaves out (one COUNT), whatever their number.
    counted = int(max(1, calls // 10) < live_selectors.LIST_LIMIT <= calls)
    refresh_clean = (
        refresh.status_code == 204 and not refresh.content and not list(refresh.templates)
    )
    table_print(
        f"Live list with {calls} live calls ({shown} shown), {environment.database}",
        ["figure", "ratio", "goal", "holds", "time", "yardstick"],
        [
            *(
                ratio_row(figure, subject, yardstick, goal=goal, at_most=at_most, tiny=tiny)
                for figure, subject, yardstick, goal, at_most in (
                    (
                        "render, nothing changed (rows cached) ÷ admin changelist",
                        unchanged["cached"],
                        unchanged["admin"],
                        RENDER_GOAL,
                        True,
                    ),
                    (
                        "render after a poll (10 % changed, 5 % new, 5 % gone) ÷ admin",
                        polled["after a poll"],
                        polled["admin"],
                        RENDER_GOAL,
                        True,
                    ),
                    (
                        "render, row cache empty ÷ admin changelist",
                        unchanged["empty cache"],
                        unchanged["admin"],
                        RENDER_GOAL,
                        True,
                    ),
                    (
                        "render, row cache empty ÷ no-change refresh",
                        unchanged["refresh"],
                        unchanged["empty cache"],
                        REFRESH_GOAL,
                        False,
                    ),
                    (
                        "render, rows cached ÷ no-change refresh",
                        unchanged["refresh"],
                        unchanged["cached"],
                        REFRESH_GOAL,
                        False,
                    ),
                )
            ),
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
                "constant" + (", + 1 COUNT once full" if counted else ""),
                verdict(queries[1] - queries[0] == counted, tiny=tiny),
                "",
                "",
            ],
        ],
    )


if __name__ == "__main__":
    main()
