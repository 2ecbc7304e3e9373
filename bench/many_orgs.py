"""Many organizations polled on time: N orgs x M live calls at an interval, against the sandbox
feed, with one beat and 2 Celery worker processes (threads pool, as the README runs them) on a
real redis-server broker.

Each org's first slot is spread over one interval (orgs are added at different moments in real
life); its slots then follow every interval. The first round (every call new to the database)
is followed by a warm-up until one interval is polled on time, then the window is measured.
Scheduling lag is a poll's start (PollRun.started_at) minus the latest slot at or before it (a
poll up to 50 ms early serves the coming slot). Also reported: missed slots, overlapping polls
of one org, starved orgs, and CPU time per poll of the workers, beat, the sandbox feed and the
servers, from which the capacity per worker process and the cores the whole stack needs follow.
With `--latency` the feed waits before each answer, as Invoca across a network does: then the
worker threads, each waiting for one answer at a time, bound the polls a second as well.

The floor is the same poll of the same number of calls with no Celery (`organization_poll`:
lock, fetch over loopback, decode, ingest, commit), made by a process of its own during the
window against feeds in processes of their own: that process's CPU time per poll, the median
of 200 spread over the window. Twice: with nothing changed (the goal's yardstick), and with
each answer moved on by one interval of calls starting and ending, as the workers' polls are
(the sandbox's calls last 20-240 s, so nearly every 5 s poll of 50 calls sees one start or
end): the workers' cost over the latter is what Celery and the scheduling add.

    .venv/bin/python bench/many_orgs.py [--postgres] [--orgs 500] [--calls 50] [--seconds 60]
        [--threads 8] [--processes 2] [--warm-up 120] [--latency 0]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import bench_arguments, django_environment, percentile, table_print, verdict
from stack import (
    BENCH_SETTINGS,
    VENV_BIN,
    celery_beat,
    celery_worker,
    processes,
    sandbox_organizations,
    stepped_feed,
)

from tests.servers import free_port, wait_for_port

LAG_P99_GOAL = 1.0
FLOOR_RATIO_GOAL = 2.0
BEAT_MS_PER_POLL_GOAL = 1.0
STACK_CORES_GOAL = 1.0  # at 500 organizations
FLOOR_POLLS = 200  # of each kind, spread over the window
FLOOR_SET_UP_SECONDS = 10.0  # the floor's feeds and process start, its organizations' first polls
BENCH_PYTHONPATH = {"PYTHONPATH": BENCH_SETTINGS["PYTHONPATH"]}
WORKER_PROCESSES = 2
# Head-room kept when turning CPU time per poll into organizations per process.
TARGET_UTILISATION = 0.7


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--calls", type=int, default=50, help="live calls per organization")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval (seconds)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument(
        "--processes", type=int, default=WORKER_PROCESSES, help="celery worker processes"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the feed waits before each answer, as Invoca across a network does",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=120.0,
        help="at most this long (seconds) for the first round's backlog to clear",
    )


def _processes_cpu() -> list[tuple[int, int, int, float]]:
    """(pid, parent pid, process group, CPU seconds of it and its ended children) of every
    process."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After pid and comm: [1] parent pid, [2] process group, [11] utime, [12] stime, and
        # [13] cutime, [14] cstime: what its ended children used (PostgreSQL's backends end
        # with their connections; without this their CPU would vanish from the sums).
        cpu = sum(int(value) for value in fields[11:15]) / ticks
        table.append((int(entry.name), int(fields[1]), int(fields[2]), cpu))
    return table


def _postgres_server(database_url: str) -> set[int]:
    """The PostgreSQL server (postmaster) listening on the database URL's port, if any."""
    port = urlsplit(database_url).port if database_url else None
    if port is None:
        return set()
    wanted = f"\0-p\0{port}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if wanted in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
    return found


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (every process, ours or not), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """CPU seconds (a reading, or the difference of two)."""

    workers: float = 0.0
    beat: float = 0.0
    feed: float = 0.0  # this process: the sandbox feed's threads (the rest of it sleeps)
    servers: float = 0.0  # redis-server and the PostgreSQL server this bench started
    machine: float = 0.0  # every process, including other users'

    @property
    def stack(self) -> float:
        return self.workers + self.beat + self.feed + self.servers

    @classmethod
    def now(
        cls,
        *,
        worker_groups: set[int],
        beat_group: int,
        server_roots: set[int],
        floor_groups: set[int],
    ) -> CpuUse:
        """`server_roots`: the roots of the server processes besides this process's children (the
        PostgreSQL server detaches from its starter); `floor_groups`: the floor's processes,
        counted nowhere."""
        table = _processes_cpu()
        children: dict[int, list[int]] = {}
        for pid, parent, _, _ in table:
            children.setdefault(parent, []).append(pid)
        descendants: set[int] = set(server_roots)
        pending = [os.getpid(), *server_roots]
        while pending:
            pid = pending.pop()
            descendants.update(children.get(pid, ()))
            pending.extend(children.get(pid, ()))
        workers = beat = servers = 0.0
        for pid, _, group, cpu in table:
            if group in worker_groups:
                workers += cpu
            elif group == beat_group:
                beat += cpu
            elif pid in descendants and group not in floor_groups:
                servers += cpu
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            workers=workers,
            beat=beat,
            feed=usage.ru_utime + usage.ru_stime,
            servers=servers,
            machine=_machine_busy_seconds(),
        )

    def __sub__(self, before: CpuUse) -> CpuUse:
        return CpuUse(
            workers=self.workers - before.workers,
            beat=self.beat - before.beat,
            feed=self.feed - before.feed,
            servers=self.servers - before.servers,
            machine=self.machine - before.machine,
        )


def _slots_stagger(organizations: list[Any], *, interval: float, start: datetime) -> None:
    from calls.models import OrganizationPollState

    count = len(organizations)
    for position, organization in enumerate(organizations):
        OrganizationPollState.objects.filter(pk=organization.pk).update(
            next_poll_at=start + timedelta(seconds=interval * position / count)
        )


def _analyse(
    *, first_slots: dict[int, datetime], interval: float, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    from calls.models import PollRun

    opened, closed = window
    runs = list(
        PollRun.objects.filter(
            started_at__gte=opened, started_at__lt=closed, organization_id__in=first_slots
        )
        .order_by("organization_id", "started_at")
        .values_list(
            "organization_id",
            "started_at",
            "finished_at",
            "outcome",
            "calls_new",
            "calls_changed",
            "calls_ended",
        )
    )
    step = timedelta(seconds=interval)
    # A poll that starts a hair before its slot (timer resolution) serves that slot, early.
    early = timedelta(seconds=0.05)
    lags: list[float] = []
    # Lags by 10 s of the window: a steady lag and a passing spike read differently.
    lags_by_period: dict[int, list[float]] = {}
    overlaps = 0
    polls_by_org: dict[int, int] = dict.fromkeys(first_slots, 0)
    previous_end: dict[int, datetime] = {}
    for organization_id, started_at, finished_at, *_ in runs:
        first = first_slots[organization_id]
        served = first + step * max(0, (started_at + early - first) // step)
        lags.append((started_at - served).total_seconds())
        period = int((started_at - opened).total_seconds() // 10)
        lags_by_period.setdefault(period, []).append(lags[-1])
        polls_by_org[organization_id] += 1
        if organization_id in previous_end and started_at < previous_end[organization_id]:
            overlaps += 1
        previous_end[organization_id] = finished_at
    due = (closed - opened).total_seconds() / interval
    return {
        "polls": len(runs),
        "due": due * len(first_slots),
        "lags": lags,
        "lag_p99_by_period": [
            percentile(lags_by_period[period], 0.99) for period in sorted(lags_by_period)
        ],
        "overlaps": overlaps,
        "starved": sum(1 for count in polls_by_org.values() if count < due / 2),
        "failed": sum(1 for run in runs if run[3] not in ("clean",)),
        "changed": sum(1 for run in runs if any(run[4:])),
        # Request and answer, as the poll records it (what batching reads; see the README).
        "durations": [(run[2] - run[1]).total_seconds() for run in runs],
    }


def _warm_up(*, first_slots: dict[int, datetime], interval: float, limit: float) -> float | None:
    """Wait until one whole interval's polls were all made within the lag goal: the first
    round (every call new to the database) costs several times a steady poll and leaves a
    backlog to work off. Returns the seconds waited, None if `limit` passed first."""
    from django.utils import timezone

    began = time.monotonic()
    while time.monotonic() - began < limit:
        time.sleep(interval)
        now = timezone.now()
        recent = _analyse(
            first_slots=first_slots,
            interval=interval,
            window=(now - timedelta(seconds=interval), now),
        )
        on_time = percentile(recent["lags"], 0.99) <= LAG_P99_GOAL if recent["lags"] else False
        if on_time and recent["polls"] >= 0.95 * recent["due"]:
            return time.monotonic() - began
    return None


# The floor's two organizations: their feed's clock moves this many intervals per request.
FLOOR_KINDS = {"unchanged": 0.0, "changed": 1.0}
_FLOOR_INVOCA_IDS = {"unchanged": "4901", "changed": "4902"}


@dataclass
class Floor:
    """CPU seconds per poll (median) of the floor's process, and the share of its polls
    that changed something."""

    cpu_per_poll: float
    changed: float


def _floor_commands(
    *, arguments: argparse.Namespace, result: Path, starts_at: float
) -> list[tuple[str, list[str]]]:
    """A stepped feed per floor kind and the process that polls them (`floor_polls`)."""
    commands, ports = [], []
    for kind, intervals in FLOOR_KINDS.items():
        ports.append(str(free_port()))
        commands.append(
            stepped_feed(
                f"floor-feed-{kind}",
                port=int(ports[-1]),
                invoca_id=_FLOOR_INVOCA_IDS[kind],
                token=f"bench-floor-{kind}",
                calls=arguments.calls,
                step=intervals * arguments.interval,
            )
        )
    polls = 5 if arguments.tiny else FLOOR_POLLS
    code = "import sys, many_orgs; many_orgs.floor_polls(*sys.argv[1:])"
    settings = [str(result), f"{starts_at:.3f}", str(arguments.seconds), str(polls)]
    settings += [str(arguments.interval), *ports]
    commands.append(("floor", [str(VENV_BIN / "python"), "-c", code, *settings]))
    return commands


def floor_polls(
    result: str, starts_at: str, seconds: str, polls: str, interval: str, *ports: str
) -> None:
    """The floor's process: the same poll through `organization_poll`, no Celery, of each
    floor organization in turn, `polls` times spread over the window from `starts_at` (the
    epoch), after a first poll (every call new). Writes each kind's Floor to `result`."""
    import django

    django.setup()
    from calls.models import Organization
    from calls.sandbox.server import DEFAULT_API_VERSION
    from calls.services import organization_create, organization_poll

    organizations = {}
    for kind, port in zip(FLOOR_KINDS, ports, strict=True):
        wait_for_port(int(port))
        organizations[kind] = organization_create(
            name=f"Bench floor {kind}",
            organization_type="Network",
            invoca_id=_FLOOR_INVOCA_IDS[kind],
            token=f"bench-floor-{kind}",
            api_base_url=f"http://127.0.0.1:{port}/api/{DEFAULT_API_VERSION}",
            poll_interval_seconds=float(interval),
        )
        # Polled here only: beat leaves a disabled organization alone.
        Organization.objects.filter(pk=organizations[kind].pk).update(enabled=False)
        organization_poll(organization=organizations[kind])
    samples: dict[str, list[float]] = {kind: [] for kind in FLOOR_KINDS}
    changed: dict[str, int] = dict.fromkeys(FLOOR_KINDS, 0)
    time.sleep(max(0.0, float(starts_at) - time.time()))
    gap, next_at = float(seconds) / int(polls), time.monotonic()
    for _ in range(int(polls)):
        for kind, organization in organizations.items():
            before = time.process_time()
            attempt = organization_poll(organization=organization)
            samples[kind].append(time.process_time() - before)
            if not attempt.clean:
                raise RuntimeError(f"a floor poll failed: {attempt.run.error}")
            changed[kind] += attempt.counts.anything_changed
        next_at += gap
        time.sleep(max(0.0, next_at - time.monotonic()))
    floors = {
        kind: asdict(Floor(statistics.median(samples[kind]), changed[kind] / int(polls)))
        for kind in FLOOR_KINDS
    }
    Path(result).write_text(json.dumps(floors))


def _floors_read(result: Path, floor_process: subprocess.Popen[bytes]) -> dict[str, Floor]:
    floor_process.wait(timeout=120)
    if floor_process.returncode:
        raise RuntimeError(f"the floor's process failed (its log: {result.parent}/floor.log)")
    return {kind: Floor(**values) for kind, values in json.loads(result.read_text()).items()}


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    if arguments.tiny:
        arguments.orgs, arguments.calls, arguments.seconds, arguments.interval = 5, 5, 3.0, 1.0
        arguments.warm_up = 5.0
    from django.utils import timezone

    from calls.sandbox.server import SandboxFeed

    with (
        django_environment(postgres=arguments.postgres, redis=True) as environment,
        SandboxFeed(seed=0, target_live=arguments.calls) as feed,
    ):
        organizations = sandbox_organizations(
            feed=feed, count=arguments.orgs, calls_each=arguments.calls, interval=arguments.interval
        )
        if arguments.latency:
            feed.set_fault("slow", delay=arguments.latency)  # every answer, until the end
        start = timezone.now() + timedelta(seconds=3)
        _slots_stagger(organizations, interval=arguments.interval, start=start)
        first_slots = {
            organization.pk: start
            + timedelta(seconds=arguments.interval * position / len(organizations))
            for position, organization in enumerate(organizations)
        }
        workers = [
            celery_worker(arguments.threads, pool="threads", name=f"worker-{number}")
            for number in range(1, arguments.processes + 1)
        ]
        with processes([*workers, celery_beat(environment)], environment=environment) as running:
            # Let the processes start and the first round of polls (every org new) pass.
            time.sleep(max(0.0, (start - timezone.now()).total_seconds()) + arguments.interval)
            warm_up = _warm_up(
                first_slots=first_slots, interval=arguments.interval, limit=arguments.warm_up
            )
            # The floor is measured in the window, so that the machine's other load hits it
            # and the workers alike; its few polls a second add little to that load.
            result = Path(environment.data_dir) / "floor.json"
            # A floor process not ready by then starts its polls late; it is waited for.
            starts_at = time.time() + (3.0 if arguments.tiny else FLOOR_SET_UP_SECONDS)
            floor_commands = _floor_commands(
                arguments=arguments, result=result, starts_at=starts_at
            )
            with processes(
                floor_commands, environment=environment, extra_environment=BENCH_PYTHONPATH
            ) as floor_running:
                time.sleep(max(0.0, starts_at - time.time()))
                # Each process the bench starts leads its own session and process group.
                cpu_reading = functools.partial(
                    CpuUse.now,
                    worker_groups={running[name].pid for name, _ in workers},
                    beat_group=running["beat"].pid,
                    server_roots=_postgres_server(environment.database_url),
                    floor_groups={process.pid for process in floor_running.values()},
                )
                cpu_before = cpu_reading()
                requests_before = feed.request_count()
                opened = timezone.now()
                time.sleep(arguments.seconds)
                closed = timezone.now()
                cpu = cpu_reading() - cpu_before
                requests_made = feed.request_count() - requests_before
                floors = _floors_read(result, floor_running["floor"])
        report = _analyse(
            first_slots=first_slots, interval=arguments.interval, window=(opened, closed)
        )
    _print(
        arguments,
        environment.database,
        report,
        cpu=cpu,
        floor=floors["unchanged"],
        floor_changed=floors["changed"],
        requests_made=requests_made,
        warm_up=warm_up,
    )


def _print(
    arguments: argparse.Namespace,
    database: str,
    report: dict[str, Any],
    *,
    cpu: CpuUse,
    floor: Floor,
    floor_changed: Floor,
    requests_made: int,
    warm_up: float | None,
) -> None:
    tiny, lags = arguments.tiny, report["lags"]
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    earliest = min(lags, default=float("nan"))
    polls = report["polls"] or float("nan")
    cpu_per_poll = cpu.workers / polls
    per_process = TARGET_UTILISATION * arguments.interval / cpu_per_poll
    stack_cores = cpu.stack / polls * report["due"] / arguments.seconds
    # The cores goal is for 500 organizations; more need more, which the table still shows.
    cores_verdict = (
        verdict(stack_cores <= STACK_CORES_GOAL, tiny=tiny) if arguments.orgs <= 500 else ""
    )
    window = arguments.seconds
    table_print(
        f"{arguments.orgs} orgs x {arguments.calls} live calls every {arguments.interval:g} s, "
        f"{arguments.processes} worker processes x {arguments.threads} threads + beat, "
        f"{database}, {arguments.seconds:g} s window"
        + (f", answers after {arguments.latency:g} s" if arguments.latency else ""),
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
                f"{p50:.2f} s / {p99:.2f} s (earliest {earliest:+.3f} s)",
                f"p99 ≤ {LAG_P99_GOAL:g} s",
                verdict(p99 <= LAG_P99_GOAL, tiny=tiny),
            ],
            [
                "lag p99 by 10 s of the window",
                " ".join(f"{lag:.1f}" for lag in report["lag_p99_by_period"]),
                "",
                "",
            ],
            [
                "poll duration p50 / p90 (PollRun: request, answer, decode)",
                f"{percentile(report['durations'], 0.5) * 1000:.0f} ms / "
                f"{percentile(report['durations'], 0.9) * 1000:.0f} ms",
                "",
                "",
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
            [
                "warm-up: first round until on time",
                f"{warm_up:.0f} s"
                if warm_up is not None
                else f"not within {arguments.warm_up:g} s",
                "",
                "",
            ],
            ["requests at the sandbox feed", requests_made, f"≈ {report['due']:.0f}", ""],
            [
                "polls that changed something (calls new, changed or ended)",
                f"{report['changed'] / polls:.0%}",
                "",
                "",
            ],
            [
                "worker CPU per poll ÷ floor (the same poll, nothing changed, no Celery)",
                f"{cpu_per_poll / floor.cpu_per_poll:.2f}x "
                f"({cpu_per_poll * 1000:.1f} ms ÷ {floor.cpu_per_poll * 1000:.1f} ms)",
                f"≤ {FLOOR_RATIO_GOAL:g}x",
                verdict(cpu_per_poll <= FLOOR_RATIO_GOAL * floor.cpu_per_poll, tiny=tiny),
            ],
            [
                "worker CPU per poll ÷ the same poll with one interval's changes, no Celery",
                f"{cpu_per_poll / floor_changed.cpu_per_poll:.2f}x "
                f"({floor_changed.cpu_per_poll * 1000:.1f} ms, "
                f"{floor_changed.changed:.0%} of its polls changed something)",
                "",
                "",
            ],
            [
                "beat CPU per poll",
                f"{cpu.beat / polls * 1000:.2f} ms",
                f"< {BEAT_MS_PER_POLL_GOAL:g} ms",
                verdict(cpu.beat / polls * 1000 < BEAT_MS_PER_POLL_GOAL, tiny=tiny),
            ],
            [
                "CPU per poll: feed / redis + database",
                f"{cpu.feed / polls * 1000:.1f} / {cpu.servers / polls * 1000:.1f} ms",
                "",
                "",
            ],
            [
                "cores busy: whole stack / machine (all users)",
                f"{cpu.stack / window:.2f} / {cpu.machine / window:.2f} of {os.cpu_count()}",
                "",
                "",
            ],
            [
                "cores the stack needs for every slot",
                f"{stack_cores:.2f}",
                f"≤ {STACK_CORES_GOAL:g} at 500 orgs",
                cores_verdict,
            ],
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
