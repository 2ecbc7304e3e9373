"""Many organizations polled on time: N orgs x M live calls at an interval, against the sandbox
feed, with one beat and a Celery worker of 2 processes on a real redis-server broker.

Each org's first slot is spread over one interval (orgs are added at different moments in real
life); its slots then follow every interval. Scheduling lag is a poll's start (PollRun.started_at)
minus the slot it served. Also reported: missed slots, overlapping polls of one org, starved
orgs, and the worker processes' CPU time per poll, from which the capacity per process follows.

    .venv/bin/python bench/many_orgs.py [--postgres] [--orgs 500] [--calls 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import bench_arguments, django_environment, percentile, table_print, verdict
from stack import celery_beat, celery_worker, processes, sandbox_organizations

LAG_P99_GOAL = 1.0
WORKER_PROCESSES = 2
# Head-room kept when turning CPU time per poll into organizations per process.
TARGET_UTILISATION = 0.7


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--calls", type=int, default=50, help="live calls per organization")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval (seconds)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")


def _cpu_seconds(session_leader: int) -> float:
    """User + system CPU time of every process in a process group (the worker and its pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[2] is the process group, [11] utime, [12] stime (after pid and comm).
        if int(fields[2]) == session_leader:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _slots_stagger(organizations: list[Any], *, interval: float, start: datetime) -> None:
    from calls.models import Organization

    count = len(organizations)
    for position, organization in enumerate(organizations):
        Organization.objects.filter(pk=organization.pk).update(
            next_poll_at=start + timedelta(seconds=interval * position / count)
        )


def _analyse(
    *, first_slots: dict[int, datetime], interval: float, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    from calls.models import PollRun

    opened, closed = window
    runs = list(
        PollRun.objects.filter(started_at__gte=opened, started_at__lt=closed)
        .order_by("organization_id", "started_at")
        .values_list("organization_id", "started_at", "finished_at", "outcome")
    )
    step = timedelta(seconds=interval)
    lags: list[float] = []
    overlaps = 0
    polls_by_org: dict[int, int] = dict.fromkeys(first_slots, 0)
    previous_end: dict[int, datetime] = {}
    for organization_id, started_at, finished_at, _outcome in runs:
        first = first_slots[organization_id]
        served = first + step * max(0, (started_at - first) // step)
        lags.append((started_at - served).total_seconds())
        polls_by_org[organization_id] += 1
        if organization_id in previous_end and started_at < previous_end[organization_id]:
            overlaps += 1
        previous_end[organization_id] = finished_at
    due = (closed - opened).total_seconds() / interval
    return {
        "polls": len(runs),
        "due": due * len(first_slots),
        "lags": lags,
        "overlaps": overlaps,
        "starved": sum(1 for count in polls_by_org.values() if count < due / 2),
        "failed": sum(1 for run in runs if run[3] not in ("clean",)),
    }


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    if arguments.tiny:
        arguments.orgs, arguments.calls, arguments.seconds, arguments.interval = 5, 5, 3.0, 1.0
    from django.utils import timezone

    from calls.sandbox.server import SandboxFeed

    with (
        django_environment(postgres=arguments.postgres, redis=True) as environment,
        SandboxFeed(seed=0, target_live=arguments.calls) as feed,
    ):
        organizations = sandbox_organizations(
            feed=feed, count=arguments.orgs, calls_each=arguments.calls, interval=arguments.interval
        )
        start = timezone.now() + timedelta(seconds=3)
        _slots_stagger(organizations, interval=arguments.interval, start=start)
        first_slots = {
            organization.pk: start
            + timedelta(seconds=arguments.interval * position / len(organizations))
            for position, organization in enumerate(organizations)
        }
        worker = celery_worker(WORKER_PROCESSES)
        with processes([worker, celery_beat(environment)], environment=environment) as running:
            # Let the processes start and the first round of polls (every org new) pass.
            time.sleep(max(0.0, (start - timezone.now()).total_seconds()) + 2 * arguments.interval)
            worker_pid = running["worker"].pid  # leads its own session and process group
            cpu_before = _cpu_seconds(worker_pid) if worker_pid else 0.0
            requests_before = feed.request_count()
            opened = timezone.now()
            time.sleep(arguments.seconds)
            closed = timezone.now()
            cpu = (_cpu_seconds(worker_pid) if worker_pid else 0.0) - cpu_before
            requests_made = feed.request_count() - requests_before
        report = _analyse(
            first_slots=first_slots, interval=arguments.interval, window=(opened, closed)
        )
    _print(arguments, environment.database, report, cpu=cpu, requests_made=requests_made)


def _print(
    arguments: argparse.Namespace,
    database: str,
    report: dict[str, Any],
    *,
    cpu: float,
    requests_made: int,
) -> None:
    tiny, lags = arguments.tiny, report["lags"]
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    cpu_per_poll = cpu / report["polls"] if report["polls"] else float("nan")
    per_process = TARGET_UTILISATION * arguments.interval / cpu_per_poll if cpu else float("nan")
    table_print(
        f"{arguments.orgs} orgs x {arguments.calls} live calls every {arguments.interval:g} s, "
        f"{WORKER_PROCESSES} worker processes + beat, {database}, {arguments.seconds:g} s window",
        ["figure", "value", "goal", "holds"],
        [
            [
                "polls made ÷ slots due",
                f"{report['polls'] / report['due']:.2f} ({report['polls']} of {report['due']:.0f})",
                "1.00",
                verdict(report["polls"] >= report["due"] - arguments.orgs, tiny=tiny),
            ],
            [
                "scheduling lag p50 / p99",
                f"{p50:.2f} s / {p99:.2f} s",
                f"p99 ≤ {LAG_P99_GOAL:g} s",
                verdict(p99 <= LAG_P99_GOAL, tiny=tiny),
            ],
            [
                "overlapping polls of one org",
                report["overlaps"],
                "0",
                verdict(not report["overlaps"], tiny=tiny),
            ],
            [
                "starved orgs (< half their slots)",
                report["starved"],
                "0",
                verdict(not report["starved"], tiny=tiny),
            ],
            ["polls not clean", report["failed"], "0", verdict(not report["failed"], tiny=tiny)],
            ["requests at the sandbox feed", requests_made, f"≈ {report['due']:.0f}", ""],
            ["worker CPU per poll", f"{cpu_per_poll * 1000:.1f} ms", "", ""],
            [
                f"orgs per worker process at {TARGET_UTILISATION:.0%} CPU",
                f"{per_process:.0f}",
                "",
                "",
            ],
        ],
    )


if __name__ == "__main__":
    main()
