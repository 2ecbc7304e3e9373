"""Loaded before Django's settings (`-p tests.plugin`): gives the run its environment.

- a private data directory and an in-memory Celery broker, so tests never touch `var/`;
- a throwaway PostgreSQL when CIPDASH_TEST_DATABASE=postgres and no DATABASE_URL is given;
- a throwaway redis-server for the tests that need one (CIPDASH_TEST_REDIS_URL when given).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest

from tests.servers import PostgresServer, RedisServer

_started: list[Any] = []


def _set_default(name: str, value: str) -> None:
    os.environ.setdefault(name, value)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: Any) -> None:
    if "CIPDASH_DATA_DIR" not in os.environ:
        data_dir = tempfile.mkdtemp(prefix="cipdash-test-data-")
        os.environ["CIPDASH_DATA_DIR"] = data_dir
        # The test database is the file the settings name (only in this throwaway directory):
        # a worker started as a subprocess with this environment opens the database the test
        # sees.
        _set_default("CIPDASH_TEST_SQLITE_NAME", os.path.join(data_dir, "cipdash.sqlite3"))
    _set_default("CELERY_BROKER_URL", "memory://")
    _set_default("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
    _set_default("TOKEN_ENCRYPTION_KEYS", "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=")
    _set_default("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # Invoca's hosts (mocked with `responses`) and the sandbox feeds the tests start on
    # loopback; a test that needs another host lists it itself.
    _set_default("INVOCA_ALLOWED_HOSTS", "invoca.net,*.invoca.net,127.0.0.1")
    # The test client and the live server speak plain HTTP; with DEBUG off the settings
    # default to HTTPS only.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        _set_default(name, "false")
    # The pages name the source static files: no collectstatic before a run (tests/test_wheel.py
    # proves the hashed names a deployment serves).
    _set_default("STATIC_HASHED_NAMES", "false")
    if os.environ.get("CIPDASH_TEST_DATABASE") == "postgres" and not os.environ.get("DATABASE_URL"):
        server = PostgresServer().start()
        _started.append(server)
        os.environ["DATABASE_URL"] = server.url
    if not os.environ.get("CIPDASH_TEST_REDIS_URL"):
        redis = RedisServer().start()
        _started.append(redis)
        os.environ["CIPDASH_TEST_REDIS_URL"] = redis.url


def pytest_unconfigure(config: pytest.Config) -> None:
    while _started:
        _started.pop().stop()
