"""The whole polling stack in real processes: the sandbox feed over HTTP, a redis-server as
broker and cache, a Celery worker and Celery beat, all on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from calls.sandbox.server import SandboxFeed
from tests.faults.processes import ROOT, shared_database_url
from tests.integration.support import Stack

INTEGRATION_REDIS_DB = 3


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def running_stack(directory: Path, settings_env: dict[str, str]) -> Iterator[Stack]:
    """A sandbox feed, a Celery worker and Celery beat on the test database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")
    }
    env.update(
        DATABASE_URL=shared_database_url(),
        POLL_TICK_SECONDS="0.5",
        POLL_CONNECT_TIMEOUT="1",
        POLL_READ_TIMEOUT="1",
        POLL_TOTAL_TIMEOUT="2",
        POLL_BACKOFF_MAX_SECONDS="3",
        LOG_LEVEL="INFO",
        **settings_env,
    )
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
    processes: dict[str, subprocess.Popen[bytes]] = {}
    feed = SandboxFeed(seed=11, target_live=0).start()
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                processes[name] = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=log
                )
        yield Stack(feed=feed, logs=logs, processes=processes)
    finally:
        for process in processes.values():
            _stop(process)
        feed.stop()


@pytest.fixture(scope="module")
def stack(
    django_db_setup: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Production's shape: Redis as broker, cache and lock store."""
    broker = redis_url.rsplit("/", 1)[0] + f"/{INTEGRATION_REDIS_DB}"
    redis_lib.Redis.from_url(broker).flushdb()
    try:
        with running_stack(
            tmp_path_factory.mktemp("stack"), {"REDIS_URL": broker, "CELERY_BROKER_URL": broker}
        ) as running:
            yield running
    finally:
        redis_lib.Redis.from_url(broker).flushdb()


@pytest.fixture(scope="module")
def embedded_stack(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The no-environment shape: a filesystem broker and the database as cache and lock store."""
    data_dir = tmp_path_factory.mktemp("embedded")
    with running_stack(
        data_dir, {"CIPDASH_DATA_DIR": str(data_dir), "CELERY_BROKER_URL": "filesystem://"}
    ) as running:
        yield running
