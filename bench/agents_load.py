"""Agents refreshing the live list (the no-change path) under gunicorn, against the framework's
floor: a bare logged-in "hello" view behind the same middleware (bench_urls.py).

The load comes from a second process on loopback (this script with --generate), for a bounded
time: first as fast as it can (requests/s of each view), then at a fixed rate for the list
(500 agents refreshing every 2 s = 250 requests/s), latency measured from each request's
scheduled time.

Goals: no-change refresh ≥ 50 % of hello's requests/s; at 250 requests/s p99 ≤ 100 ms, no errors.

    .venv/bin/python bench/agents_load.py [--postgres] [--seconds 10] [--rate 250]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

THROUGHPUT_GOAL = 0.5
P99_GOAL_SECONDS = 0.1
CONCURRENCY = 16


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="each load phase")
    parser.add_argument("--rate", type=float, default=250.0, help="requests/s of the rate phase")
    parser.add_argument("--calls", type=int, default=50, help="live calls on the list")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the load generator's own mode


# ----- the load generator (a second process) ---------------------------------------------------


def _generate(plan: dict[str, Any]) -> dict[str, Any]:
    import requests

    url, headers, cookie = plan["url"], plan["headers"], plan["cookie"]
    seconds, rate = plan["seconds"], plan.get("rate")
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    sequence = iter(range(10**9))

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        while True:
            with lock:
                number = next(sequence)
            scheduled = started + number / rate if rate else time.monotonic()
            # Bounded in time: what could not be sent by the end of the phase is not sent.
            if scheduled >= deadline or time.monotonic() >= deadline:
                return
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                response = session.get(url, headers=headers, timeout=5)
                status = str(response.status_code)
            except requests.RequestException:
                status = "error"
            elapsed = time.monotonic() - scheduled
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == "error" or status.startswith("5"):
                    errors += 1
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(plan["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if rate:
        # Requests the schedule called for but the server's pace left unsent are failures too.
        unsent = max(0, round(rate * seconds) - len(latencies))
        statuses["unsent"] = unsent
        errors += unsent
    return {
        "requests": len(latencies),
        "seconds": time.monotonic() - started,
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
    }


def _load(plan: dict[str, Any]) -> dict[str, Any]:
    """Run the generator in its own process and return what it measured."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--generate", json.dumps(plan)],
        capture_output=True,
        check=True,
        timeout=plan["seconds"] + 60,
    )
    return dict(json.loads(done.stdout))


# ----- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    from harness import (
        bench_arguments,
        django_environment,
        percentile,
        share_row,
        table_print,
        verdict,
    )

    arguments = bench_arguments(__doc__ or "", _options)
    if arguments.generate:
        print(json.dumps(_generate(json.loads(arguments.generate))))
        return
    if arguments.tiny:
        arguments.seconds, arguments.rate, arguments.calls = 1.0, 20.0, 5
    from stack import BENCH_SETTINGS, agent_users, gunicorn, processes, wait_for_http

    from tests.servers import free_port

    with django_environment(postgres=arguments.postgres) as environment:
        from live_list import LiveOrganization

        organization = LiveOrganization(number=1, calls=arguments.calls).organization
        (cookie,) = agent_users(count=1, organizations=[organization])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with processes(
            [gunicorn(port=port, workers=2, threads=4)],
            environment=environment,
            extra_environment=BENCH_SETTINGS,
        ):
            wait_for_http(base + "/login/")
            version = _current_version(base, cookie)
            poll = {"HX-Request": "true", "X-Feed-Version": version}
            common = {"cookie": cookie, "seconds": arguments.seconds, "concurrency": CONCURRENCY}
            hello = _load(common | {"url": base + "/bench/hello", "headers": {}})
            refresh = _load(common | {"url": base + "/", "headers": poll})
            steady = _load(
                common
                | {"url": base + "/", "headers": poll, "rate": arguments.rate, "concurrency": 64}
            )

    tiny = arguments.tiny
    hello_rate = hello["requests"] / hello["seconds"]
    refresh_rate = refresh["requests"] / refresh["seconds"]
    p50, p99 = percentile(steady["latencies"], 0.5), percentile(steady["latencies"], 0.99)
    table_print(
        f"Agents refreshing the live list (no change), gunicorn 2 workers x 4 threads, "
        f"{environment.database}, {arguments.seconds:g} s per phase",
        ["figure", "ratio / value", "goal", "holds", "measured", "yardstick"],
        [
            share_row(
                "no-change refresh req/s ÷ hello req/s",
                refresh_rate / hello_rate,
                THROUGHPUT_GOAL,
                measured=f"{refresh_rate:,.0f} req/s {refresh['statuses']}",
                yardstick=f"{hello_rate:,.0f} req/s {hello['statuses']}",
                tiny=tiny,
            ),
            [
                f"at {arguments.rate:g} req/s: p99 latency (p50)",
                f"{p99 * 1000:.0f} ms ({p50 * 1000:.0f} ms)",
                f"≤ {P99_GOAL_SECONDS * 1000:.0f} ms",
                verdict(p99 <= P99_GOAL_SECONDS, tiny=tiny),
                f"{steady['requests']} requests {steady['statuses']}",
                "",
            ],
            [
                f"at {arguments.rate:g} req/s: errors",
                steady["errors"] + refresh["errors"],
                "0",
                verdict(not (steady["errors"] + refresh["errors"]), tiny=tiny),
                "",
                "",
            ],
        ],
    )


def _current_version(base: str, cookie: str) -> str:
    import requests
    from harness import live_version

    page = requests.get(base + "/", cookies={"sessionid": cookie}, timeout=10)
    page.raise_for_status()
    version = live_version(page.text)
    if version is None:
        raise RuntimeError("the live list carries no data-version")
    return version


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
