"""Shared plumbing for the bench scripts: arguments, a throwaway database, timing, tables.

Every script runs on a private SQLite file by default, or with `--postgres` on a throwaway
PostgreSQL server (tests/servers.py); `--tiny` runs once at a tiny size so that `make test`
keeps the scripts from rotting without timing anything.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Fixed, throwaway secrets: a bench database never holds anything worth protecting.
_BENCH_SECRET_KEY = "bench-secret-key-not-for-production-" + "x" * 20
_BENCH_TOKEN_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
_PLAIN_HTTP = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
_LIVE_VERSION = re.compile(r'id="live-region"[^>]*data-version="([^"]*)"')


def bench_arguments(
    description: str, configure: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--tiny", action="store_true", help="run once at a tiny size (a smoke run, not a figure)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="use a throwaway PostgreSQL instead of SQLite"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median wins)")
    if configure is not None:
        configure(parser)
    arguments = parser.parse_args()
    if arguments.tiny:
        arguments.runs = 1
    return arguments


@dataclass
class BenchEnvironment:
    data_dir: str
    database: str
    database_url: str
    redis_url: str = ""

    @property
    def child_environment(self) -> dict[str, str]:
        """Environment for the worker, beat and web processes a bench starts."""
        return (
            {
                key: os.environ[key]
                for key in (
                    "CIPDASH_DATA_DIR",
                    "DATABASE_URL",
                    "SECRET_KEY",
                    "TOKEN_ENCRYPTION_KEYS",
                    "INVOCA_ALLOWED_HOSTS",
                    "REDIS_URL",
                    "LOG_LEVEL",
                    "DJANGO_SETTINGS_MODULE",
                    "STATIC_HASHED_NAMES",
                    *_PLAIN_HTTP,
                )
                if key in os.environ
            }
            | {
                # Tuning knobs given to the bench (e.g. POLL_TICK_SECONDS=0.5) reach the processes.
                key: value
                for key, value in os.environ.items()
                if key.startswith(("POLL_", "CELERY_"))
            }
            | {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")}
        )


@contextlib.contextmanager
def django_environment(*, postgres: bool, redis: bool = False) -> Iterator[BenchEnvironment]:
    """Set up Django on a fresh database (and a redis-server when asked), migrated; tear
    everything down afterwards."""
    from tests.servers import PostgresServer, RedisServer

    data_dir = tempfile.mkdtemp(prefix="cipdash-bench-")
    stack = contextlib.ExitStack()
    try:
        os.environ["CIPDASH_DATA_DIR"] = data_dir
        os.environ["SECRET_KEY"] = _BENCH_SECRET_KEY
        os.environ["TOKEN_ENCRYPTION_KEYS"] = _BENCH_TOKEN_KEY
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        # The sandbox feed the benches poll listens on loopback, which must be listed exactly.
        os.environ["INVOCA_ALLOWED_HOSTS"] = "invoca.net,*.invoca.net,127.0.0.1"
        # Plain HTTP on loopback: the HTTPS-only defaults (on whenever DEBUG is off) would
        # redirect every request.
        for name in _PLAIN_HTTP:
            os.environ[name] = "false"
        # The pages name the source static files: no collectstatic before a bench.
        os.environ["STATIC_HASHED_NAMES"] = "false"
        os.environ["DJANGO_SETTINGS_MODULE"] = "cipdash.settings"
        os.environ.pop("DATABASE_URL", None)
        redis_url = ""
        if postgres:
            server = PostgresServer().start()
            stack.callback(server.stop)
            os.environ["DATABASE_URL"] = server.url
        if redis:
            redis_server = RedisServer().start()
            stack.callback(redis_server.stop)
            redis_url = redis_server.url
            os.environ["REDIS_URL"] = redis_url
        else:
            os.environ.setdefault("CELERY_BROKER_URL", "memory://")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield BenchEnvironment(
            data_dir=data_dir,
            database="PostgreSQL" if postgres else "SQLite",
            database_url=os.environ.get("DATABASE_URL", ""),
            redis_url=redis_url,
        )
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        stack.close()
        if os.environ.get("BENCH_KEEP_DATA"):  # the processes' logs, for a look afterwards
            print(f"bench data kept in {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def live_version(html: str) -> str | None:
    """The feed version a live list page shows (None if it shows none): what its htmx
    refresh sends back as X-Feed-Version."""
    found = _LIVE_VERSION.search(html)
    return found.group(1) if found else None


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def median_seconds(
    function: Callable[[], Any], *, runs: int, before: Callable[[], Any] | None = None
) -> float:
    """Median wall time of `function`; `before` runs untimed ahead of each run."""
    samples = []
    for _ in range(max(1, runs)):
        if before is not None:
            before()
        samples.append(timed(function)[0])
    return statistics.median(samples)


def interleaved_medians(
    functions: dict[str, Callable[[], Any]],
    *,
    runs: int,
    before: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, float]:
    """Median wall time of each function, running them in turn within every round so that
    a slow patch of a shared machine hits all of them alike. Each sample starts from a
    collected heap; `before[name]` runs untimed ahead of that function's sample."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(max(1, runs)):
        for name, function in functions.items():
            if before and name in before:
                before[name]()
            gc.collect()
            samples[name].append(timed(function)[0])
    return {name: statistics.median(values) for name, values in samples.items()}


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def verdict(ok: bool, *, tiny: bool) -> str:
    """Whether a goal holds; a tiny run is a smoke run and judges nothing."""
    if tiny:
        return "(tiny run)"
    return "yes" if ok else "NO"


def share_row(
    figure: str, share: float, goal: float, *, measured: str, yardstick: str, tiny: bool
) -> list[str]:
    """A row for a "subject's rate as a share of its floor's" figure with an at-least goal."""
    return [
        figure,
        f"{share:.0%}",
        f"≥ {goal:.0%}",
        verdict(share >= goal, tiny=tiny),
        measured,
        yardstick,
    ]


def repeated(function: Callable[[], Any], times: int) -> Callable[[], None]:
    """`function` run `times` times in a row: one sample of a quick operation."""

    def run() -> None:
        for _ in range(times):
            function()

    return run


def ratio_row(
    figure: str, subject: float, yardstick: float, *, goal: float, at_most: bool, tiny: bool
) -> list[str]:
    """A row for a "subject ÷ yardstick" figure (at_most) or "yardstick ÷ subject"."""
    ratio = subject / yardstick if at_most else yardstick / subject
    holds = ratio <= goal if at_most else ratio >= goal
    return [
        figure,
        f"{ratio:.2f}x" if at_most else f"{ratio:.0f}x",
        f"{'≤' if at_most else '≥'} {goal:g}x",
        verdict(holds, tiny=tiny),
        milliseconds(subject),
        milliseconds(yardstick),
    ]


def statements_row(figure: str, counts: Sequence[int], *, tiny: bool) -> list[str]:
    """A row for "the same statements at a smaller and a larger size" (a goal of constant)."""
    return [
        figure,
        " → ".join(map(str, counts)),
        "constant",
        verdict(len(set(counts)) == 1, tiny=tiny),
        "",
        "",
    ]


def table_print(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    print(f"\n{title}")
    for position, row in enumerate(cells):
        print(
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            + " |"
        )
        if position == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    sys.stdout.flush()
