"""Invoca requests per organization per interval, counted at the sandbox feed, while 1 and then
many agents keep the live list open (gunicorn), with a real Celery worker and beat polling.

Goal: exactly one request per interval, whatever the number of agents.

    .venv/bin/python bench/requests_per_org.py [--postgres] [--agents 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

from harness import bench_arguments, django_environment, table_print, verdict
from stack import Agents, agent_users, product_served, sandbox_organizations

AGENT_REFRESH_SECONDS = 2.0


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=200, help="agents in the crowded case")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per case")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval (seconds)")


def _wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"gave up waiting for {what} after {timeout:g} s")


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    if arguments.tiny:
        arguments.agents, arguments.seconds, arguments.interval = 3, 2.0, 1.0
    from calls.sandbox.server import SandboxFeed

    with (
        django_environment(postgres=arguments.postgres, redis=True) as environment,
        SandboxFeed(seed=0, target_live=10) as feed,
    ):
        (organization,) = sandbox_organizations(
            feed=feed, count=1, calls_each=10, interval=arguments.interval
        )
        invoca_id = organization.invoca_id
        cookies = agent_users(count=arguments.agents, organizations=[organization])
        with product_served(environment=environment, threads=4) as base_url:
            _wait_until(lambda: feed.request_count(invoca_id) >= 2, 60, "the first polls")
            rows = []
            for agents in (1, arguments.agents):
                with Agents(
                    base_url=base_url, cookies=cookies[:agents], every=AGENT_REFRESH_SECONDS
                ) as crowd:
                    time.sleep(min(AGENT_REFRESH_SECONDS, arguments.seconds / 2))  # all loaded
                    served_before = crowd.stats.requests
                    before, started = feed.request_count(invoca_id), time.monotonic()
                    time.sleep(arguments.seconds)
                    after, elapsed = feed.request_count(invoca_id), time.monotonic() - started
                    served = crowd.stats.requests - served_before
                made, expected = after - before, elapsed / arguments.interval
                rows.append(
                    [
                        f"{agents} agent{'s' if agents > 1 else ''}",
                        f"{made / expected:.2f}",
                        "1.00 (±1 request)",
                        verdict(abs(made - round(expected)) <= 1, tiny=arguments.tiny),
                        f"{made} in {elapsed:.1f} s",
                        f"{served} ({served / elapsed:.1f}/s), errors {crowd.stats.errors}, "
                        f"statuses {dict(sorted(crowd.stats.statuses.items()))}",
                    ]
                )
    table_print(
        f"Invoca requests per organization per {arguments.interval:g} s interval, "
        f"{environment.database}, Celery worker + beat, gunicorn",
        [
            "agents on the live list",
            "requests per interval",
            "goal",
            "holds",
            "at the feed",
            "agent requests served",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
