"""Real worker processes for the fault tests: the environment that makes a subprocess use the
test's own database, and a Celery worker (with its embedded beat) to start, stop and kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def shared_database_url() -> str:
    """The URL of the database the tests use, for processes that must share it."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = quote(config.get("USER") or "")
    password = f":{quote(config['PASSWORD'])}" if config.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{config.get('HOST') or '127.0.0.1'}:"
        f"{config.get('PORT') or 5432}/{config['NAME']}"
    )


def shared_database_environment(**extra: str) -> dict[str, str]:
    """os.environ for a subprocess that must see (and write) the test database.

    The test must use a transactional database: a subprocess never sees what an open test
    transaction holds."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = shared_database_url()
    else:
        # tests.plugin names the SQLite test database after the file the settings open, so a
        # subprocess with the same data directory opens the same file with the same options.
        expected = Path(settings.DATA_DIR) / "cipdash.sqlite3"
        assert Path(str(db["NAME"])) == expected, (
            f"the SQLite test database is {db['NAME']}, not {expected}: leave "
            "CIPDASH_DATA_DIR unset so tests.plugin can put it where subprocesses find it"
        )
    env["PYTHONPATH"] = str(ROOT)
    env["DJANGO_SETTINGS_MODULE"] = "cipdash.settings"
    env.update(extra)
    return env


def redis_worker_environment(redis_url: str, *, timeout: str, **extra: str) -> dict[str, str]:
    """shared_database_environment for a worker on Redis (broker, cache and locks), ticking
    every quarter second, with polls that give up after `timeout` seconds."""
    chosen = {
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "POLL_TICK_SECONDS": "0.25",
        "POLL_CONNECT_TIMEOUT": "0.5",
        "POLL_READ_TIMEOUT": timeout,
        "POLL_TOTAL_TIMEOUT": timeout,
    }
    return shared_database_environment(**(chosen | extra))


class CeleryWorker:
    """`celery worker -B`: beat ticks and polls, as in production, in one child process."""

    def __init__(self, env: dict[str, str], *, concurrency: int = 4) -> None:
        self.env = env
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path = ""

    def start(self) -> CeleryWorker:
        handle, self.log_path = tempfile.mkstemp(prefix="cipdash-worker-", suffix=".log")
        os.close(handle)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        schedule = Path(tempfile.mkdtemp(prefix="cipdash-beat-")) / "schedule"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cipdash",
                "worker",
                "--beat",
                "--schedule",
                str(schedule),
                "--pool",
                "threads",
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self.log_path:
            Path(self.log_path).unlink(missing_ok=True)


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.1,
    explain: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:g} s\n{explain()}")


@contextlib.contextmanager
def killed_inside_an_ingest(module: str, organization_id: int) -> Iterator[None]:
    """Run `python -m module organization_id` (a poll that prints "inside-ingest" while its
    transaction is open, then stalls), hand over while it stalls, then SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, str(organization_id)],
        cwd=ROOT,
        env=shared_database_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until the child is inside its ingest
        assert line.strip() == b"inside-ingest", child.stderr.read() if child.stderr else ""
        yield
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
