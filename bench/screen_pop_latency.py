"""From a call appearing in the sandbox feed to its row showing in a real browser (Chromium via
Playwright) on the live list, through the whole product: Celery beat + worker polling the
feed, gunicorn serving the page, htmx refreshing it.

Goal: at most poll interval + refresh interval + 0.5 s (median and p95 over many calls); also
shown at 1 s / 1 s, how low it goes.

    .venv/bin/python bench/screen_pop_latency.py [--postgres] [--calls 15]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

from harness import bench_arguments, django_environment, percentile, table_print, verdict
from stack import BENCH_SETTINGS, agent_users, product_served, sandbox_organizations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
SLACK_SECONDS = 0.5
# (poll interval, refresh interval): the defaults, then the fastest settings.
CADENCES = ((5.0, 2), (1.0, 1))


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=15, help="calls timed per cadence")


def _measure(
    *, page: Any, feed: Any, organization: Any, poll: float, refresh: int, calls: int
) -> list[float]:
    from calls.models import Organization

    Organization.objects.filter(pk=organization.pk).update(poll_interval_seconds=poll)
    page.select_option("[data-refresh-interval]", str(refresh))
    latencies = []
    rng = random.Random(f"{poll}:{refresh}")
    for _ in range(calls):
        # A random moment within the cycle, so the samples cover every phase of poll + refresh.
        time.sleep(rng.uniform(0, poll + refresh) + 0.2)
        shown = page.eval_on_selector_all("tr.call-row", "rows => rows.length")
        number = f"+1202555{rng.randrange(10_000):04d}"
        feed.add_call(organization.invoca_id, {"calling_phone_number": number})
        appeared = time.monotonic()
        page.wait_for_function(
            "n => document.querySelectorAll('tr.call-row').length > n",
            arg=shown,
            polling="raf",
            timeout=(poll + refresh) * 1000 * 4 + 10_000,
        )
        latencies.append(time.monotonic() - appeared)
    return latencies


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    calls, cadences = (2, CADENCES[-1:]) if arguments.tiny else (arguments.calls, CADENCES)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain
    # blocking calls between its steps, as in the browser tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    from calls.sandbox.server import SandboxFeed

    rows = []
    with (
        django_environment(postgres=arguments.postgres, redis=True) as environment,
        SandboxFeed(seed=0, target_live=0) as feed,
    ):
        (organization,) = sandbox_organizations(
            feed=feed, count=1, calls_each=0, interval=cadences[0][0]
        )
        (cookie,) = agent_users(count=1, organizations=[organization])
        with (
            product_served(environment=environment, extra_environment=BENCH_SETTINGS) as base,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
            page = context.new_page()
            page.goto(base + "/")
            page.wait_for_selector("[data-refresh-interval]", state="attached")
            for poll, refresh in cadences:
                latencies = _measure(
                    page=page,
                    feed=feed,
                    organization=organization,
                    poll=poll,
                    refresh=refresh,
                    calls=calls,
                )
                goal = poll + refresh + SLACK_SECONDS
                p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
                rows.append(
                    [
                        f"poll {poll:g} s, refresh {refresh} s",
                        f"{p50 / goal:.2f} / {p95 / goal:.2f}",
                        f"≤ {goal:g} s",
                        verdict(p95 <= goal, tiny=arguments.tiny),
                        f"{p50:.2f} s / {p95:.2f} s (max {max(latencies):.2f} s)",
                        len(latencies),
                    ]
                )
            browser.close()
    table_print(
        f"A new call in the sandbox feed → its row in Chromium, {environment.database}",
        ["cadence", "median / p95 ÷ goal", "goal", "holds", "median / p95", "calls"],
        rows,
    )


if __name__ == "__main__":
    main()
