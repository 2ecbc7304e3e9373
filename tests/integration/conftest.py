"""The whole polling stack in real processes: the sandbox feed over HTTP, a redis-server as
broker and cache, a Celery worker and Celery beat, all on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis as redis_lib
from django.db import connection

from calls.sandbox.server import SandboxFeed

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_REDIS_DB = 3


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


@dataclass
class Stack:
    feed: SandboxFeed
    logs: dict[str, Path]

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {name} -----\n" + "\n".join(text))
        return "\n".join(parts)

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{self.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def stack(
    django_db_setup: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("stack")
    broker = redis_url.rsplit("/", 1)[0] + f"/{INTEGRATION_REDIS_DB}"
    redis_lib.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "POLL_TICK_SECONDS": "0.5",
        "POLL_CONNECT_TIMEOUT": "1",
        "POLL_READ_TIMEOUT": "1",
        "POLL_TOTAL_TIMEOUT": "2",
        "POLL_BACKOFF_MAX_SECONDS": "3",
        "LOG_LEVEL": "INFO",
    }
    celery = [sys.executable, "-m", "celery", "-A", "cipdash"]
    commands = {
        "worker": [
            *celery, "worker", "--pool", "solo", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "INFO",
        ],
        "beat": [
            *celery, "beat", "--schedule", str(directory / "beat-schedule"),
            "--max-interval", "1", "--loglevel", "INFO",
        ],
    }  # fmt: skip
    logs = {name: directory / f"{name}.log" for name in commands}
    processes: list[subprocess.Popen[bytes]] = []
    feed = SandboxFeed(seed=11, target_live=0).start()
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                processes.append(
                    subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
                )
        yield Stack(feed=feed, logs=logs)
    finally:
        for process in processes:
            _stop(process)
        feed.stop()
        redis_lib.Redis.from_url(broker).flushdb()
