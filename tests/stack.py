"""A production install in real processes for the tests: web (gunicorn), beat and Celery
workers, each started in a working directory and CIPDASH_DATA_DIR of its own, on a PostgreSQL
and a redis-server of the test's own; and what the tests read back from it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.faults.processes import wait_until
from tests.servers import PostgresServer, RedisServer, free_port

# The secrets every process of one install shares (tests only; a real install has its own).
_STACK_SECRETS = {
    "SECRET_KEY": "stack-secret-key-for-tests-only-" + "s" * 24,
    "TOKEN_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
}
# What the test run sets for itself (tests.plugin), which no process of a real install has.
_RUN_ONLY_PREFIXES = ("CIPDASH_", "CELERY_", "SECURE_")
_RUN_ONLY_NAMES = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEYS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
}


def production_environment(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of every process of a production install: its PostgreSQL and Redis,
    secrets given, and plain HTTP (no TLS-terminating proxy in front of the test's gunicorn)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _RUN_ONLY_NAMES and not name.startswith(_RUN_ONLY_PREFIXES)
    }
    env.update(
        _STACK_SECRETS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="cipdash.settings",
        ALLOWED_HOSTS="127.0.0.1",
        INVOCA_ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class ProductionStack:
    """The processes of a production install, each started in a working directory and
    CIPDASH_DATA_DIR of its own, as if on hosts of its own: they share nothing but PostgreSQL
    and Redis (and the environment every host is given)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _home(self, name: str) -> tuple[Path, dict[str, str]]:
        home = self.root / name
        (home / "data").mkdir(parents=True, exist_ok=True)
        return home, self.env | {"CIPDASH_DATA_DIR": str(home / "data")}

    def manage(self, name: str, *arguments: str, stdin: str = "", **extra_env: str) -> str:
        """Run one `django-admin` command to completion, from a directory of its own."""
        home, env = self._home(name)
        done = subprocess.run(
            [sys.executable, "-m", "django", *arguments],
            cwd=home,
            env=env | extra_env,
            input=stdin.encode(),
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode()

    def start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        home, env = self._home(name)
        with (home / "log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", *arguments],
                cwd=home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stop() ends the process group: gunicorn's workers too
            )
        self.processes[name] = process
        return process

    def worker(self, name: str, *, concurrency: int = 4) -> subprocess.Popen[bytes]:
        """A worker as README's Production section runs it (threads pool)."""
        return self.start(
            name,
            *("celery", "-A", "cipdash", "worker", "--hostname", f"{name}@%h"),
            *("--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "INFO"),
        )

    def beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        return self.start(name, "celery", "-A", "cipdash", "beat", "--loglevel", "INFO")

    def web(self, port: int, name: str = "web") -> subprocess.Popen[bytes]:
        return self.start(
            name,
            *("gunicorn", "cipdash.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"),
        )

    def log(self, name: str) -> str:
        path = self.root / name / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_marks(self) -> dict[str, int]:
        """Where each process's log ends now, for logged_since."""
        return {name: len(self.log(name)) for name in self.processes}

    def logged_since(self, marks: dict[str, int], name: str, text: str) -> bool:
        return text in self.log(name)[marks.get(name, 0) :]

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def explain(self, lines: int = 40) -> str:
        """Each process's state and the end of its log, for a failed wait."""
        parts = []
        for name, process in self.processes.items():
            tail = "\n".join(self.log(name).splitlines()[-lines:])
            parts.append(f"----- {name} (exit status {process.poll()}) -----\n{tail}")
        return "\n".join(parts)

    def wait_until(self, condition: Callable[[], object], *, timeout: float) -> None:
        """wait_until, failing at once (with the logs) when a process of the stack exits."""

        def met() -> object:
            assert not self.exited(), f"{', '.join(self.exited())} exited\n{self.explain()}"
            return condition()

        wait_until(met, timeout=timeout, explain=self.explain)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def __enter__(self) -> ProductionStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StackDatabase:
    """A stack's PostgreSQL read directly: the test process's own Django database is another."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as db:
            return db.execute(sql, params).fetchall()

    def now(self) -> object:
        """The database's clock, to compare with the times the stack writes."""
        return self.rows("SELECT now()")[0][0]

    def clean_polls_since(self, moment: object, invoca_id: str) -> int:
        return int(
            self.rows(
                "SELECT count(*) FROM calls_pollrun p JOIN calls_organization o"
                " ON o.id = p.organization_id"
                " WHERE o.invoca_id = %s AND p.outcome = 'clean' AND p.started_at > %s",
                invoca_id,
                moment,
            )[0][0]
        )

    def live_call_ids(self) -> set[int]:
        return {
            int(row[0]) for row in self.rows("SELECT id FROM calls_call WHERE ended_at IS NULL")
        }

    def calls(self, invoca_id: str, *, live: bool) -> dict[str, str]:
        """transaction_id → end_reason of the organization's live (or ended) calls."""
        return {
            str(transaction_id): str(reason)
            for transaction_id, reason in self.rows(
                "SELECT c.transaction_id, c.end_reason FROM calls_call c"
                " JOIN calls_organization o ON o.id = c.organization_id"
                " WHERE o.invoca_id = %s AND (c.ended_at IS NULL) = %s",
                invoca_id,
                live,
            )
        }

    def duplicated_calls(self) -> list[tuple[Any, ...]]:
        return self.rows(
            "SELECT organization_id, transaction_id FROM calls_call"
            " GROUP BY organization_id, transaction_id HAVING count(*) > 1"
        )

    def repeated_snapshots(self) -> int:
        """Snapshots equal to the one before them: a poll that changed nothing wrote one."""
        return int(
            self.rows(
                "SELECT count(*) FROM (SELECT content_hash, lag(content_hash) OVER"
                " (PARTITION BY call_id ORDER BY observed_at, id) AS previous"
                " FROM calls_callsnapshot) s WHERE content_hash = previous"
            )[0][0]
        )


def stack_organization_add(
    stack: ProductionStack, *, feed_url: str, invoca_id: str, token: str
) -> None:
    """An organization polled every second, added as an operator would (`add_organization`,
    the token on stdin)."""
    stack.manage(
        "setup",
        *("add_organization", "--name", f"Stack {invoca_id}", "--type", "Network"),
        *("--invoca-id", invoca_id, "--base-url", feed_url, "--poll-interval", "1"),
        "--token-file",
        "-",
        stdin=token,
    )


# Polls that fail fast and back off briefly, so that recovery shows within seconds.
FAST_POLLS = {
    "POLL_TICK_SECONDS": "0.5",
    "POLL_CONNECT_TIMEOUT": "0.5",
    "POLL_READ_TIMEOUT": "1",
    "POLL_TOTAL_TIMEOUT": "2",
    "POLL_BACKOFF_MAX_SECONDS": "2",
}


@contextlib.contextmanager
def throwaway_servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    """A PostgreSQL and a redis-server of the test's own, which it may stop and kill."""
    postgres = PostgresServer().start()
    try:
        redis = RedisServer().start()
        try:
            yield postgres, redis
        finally:
            redis.stop()
    finally:
        postgres.stop()


def stack_installed(stack: ProductionStack, feed: Any, invoca_ids: tuple[str, ...]) -> None:
    """The schema, and each organization on the feed and in the stack (polled every second)."""
    stack.manage("setup", "migrate", "--noinput", "--verbosity", "0")
    for invoca_id in invoca_ids:
        token = f"stack-token-{invoca_id}-5d4c3b2a"
        feed.add_organization(invoca_id, token, target_live=3)
        stack_organization_add(stack, feed_url=feed.url, invoca_id=invoca_id, token=token)


def feed_and_database_agree(
    feed: Any, database: StackDatabase, invoca_ids: tuple[str, ...]
) -> bool:
    """Every call live on the feed is live in the database, and no other is."""
    return all(
        set(database.calls(invoca_id, live=True))
        == {call["transaction_id"] for call in feed.live_calls(invoca_id)}
        for invoca_id in invoca_ids
    )


def stack_staff_user_add(stack: ProductionStack) -> tuple[str, str]:
    """A staff user (sees every organization), as `createsuperuser` makes one: name, password."""
    username, password = "stack-admin", secrets.token_urlsafe(16)
    stack.manage(
        "setup",
        *("createsuperuser", "--noinput", "--username", username),
        "--email",
        "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    return username, password


def logged_in(base_url: str, username: str, password: str) -> requests.Session:
    """A browser's session: the login form fetched, then posted with its CSRF token."""
    session = requests.Session()
    form = session.get(f"{base_url}/login/", timeout=10)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert found, form.text[:2000]
    answer = session.post(
        f"{base_url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": found[1]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:2000]
    return session


def listed_call_ids(page: str) -> set[int]:
    """The calls a live list page shows, by their database id."""
    return {int(call_id) for call_id in re.findall(r'data-call-id="(\d+)"', page)}


@dataclass(frozen=True)
class RunningStack:
    stack: ProductionStack
    database: StackDatabase
    postgres: PostgresServer
    redis: RedisServer
    base_url: str
    username: str
    password: str


@contextlib.contextmanager
def running_stack(
    root: Path,
    feed: Any,
    invoca_ids: tuple[str, ...],
    workers: tuple[str, ...],
    **settings: str,
) -> Iterator[RunningStack]:
    """Throwaway servers and a production stack on them: each organization on the feed and
    in the stack, a staff user, the workers, beat and gunicorn, each process in a directory
    of its own. `settings`: environment variables over FAST_POLLS."""
    with throwaway_servers() as (postgres, redis):
        env = production_environment(
            database_url=postgres.url, redis_url=redis.url, **(FAST_POLLS | settings)
        )
        port = free_port()
        with ProductionStack(root, env) as stack:
            stack_installed(stack, feed, invoca_ids)
            username, password = stack_staff_user_add(stack)
            for name in workers:
                stack.worker(name)
            stack.beat()
            stack.web(port)
            yield RunningStack(
                stack=stack,
                database=StackDatabase(postgres.url),
                postgres=postgres,
                redis=redis,
                base_url=f"http://127.0.0.1:{port}",
                username=username,
                password=password,
            )
