"""The running product for the end-to-end benchmarks: sandbox organizations, Celery worker and
beat processes, a gunicorn web server, and logged-in agents as plain HTTP clients."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from harness import ROOT, BenchEnvironment, live_version

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin"
BENCH_DIR = Path(__file__).resolve().parent
# For the web process: the bench's settings, which add the bare "hello" view (bench_urls.py).
BENCH_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "bench_settings",
    "PYTHONPATH": f"{BENCH_DIR}:{ROOT}",
}


# Invoca ids of the bench's organizations (the demo's are 1001 and 1002).
_FIRST_INVOCA_ID = 5000


def sandbox_organizations(*, feed: Any, count: int, calls_each: int, interval: float) -> list[Any]:
    """`count` organizations on the sandbox feed and in the database, each with its token."""
    from calls.services import organization_create

    organizations = []
    for number in range(_FIRST_INVOCA_ID, _FIRST_INVOCA_ID + count):
        token = f"bench-token-{number}"
        feed.add_organization(str(number), token, target_live=calls_each)
        organizations.append(
            organization_create(
                name=f"Bench org {number}",
                organization_type="Network",
                invoca_id=str(number),
                token=token,
                api_base_url=feed.url,
                poll_interval_seconds=interval,
            )
        )
    return organizations


@contextlib.contextmanager
def processes(
    commands: list[tuple[str, list[str]]],
    *,
    environment: BenchEnvironment,
    extra_environment: dict[str, str] | None = None,
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Run each (name, argv) in a session of its own with the bench's environment; stop them
    all (and only them) afterwards. Yields the processes by name."""
    started: list[subprocess.Popen[bytes]] = []
    logs = Path(environment.data_dir)
    try:
        for name, argv in commands:
            with (logs / f"{name}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        argv,
                        cwd=ROOT,
                        env=environment.child_environment | (extra_environment or {}),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield {name: process for (name, _), process in zip(commands, started, strict=True)}
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def stepped_feed(
    name: str, *, port: int, invoca_id: str, token: str, calls: int, step: float
) -> tuple[str, list[str]]:
    """A sandbox feed in a process of its own (so that its CPU is not the caller's) serving one
    organization of `calls` live calls, whose clock moves `step` seconds at each request: each
    answer differs from the one before as much as one poll interval of `step` changes it, or
    (0) not at all."""
    code = "import sys, stack; stack.stepped_feed_serve(*sys.argv[1:])"
    arguments = [str(port), invoca_id, token, str(calls), str(step)]
    return (name, [str(VENV_BIN / "python"), "-c", code, *arguments])


def stepped_feed_serve(port: str, invoca_id: str, token: str, calls: str, step: str) -> None:
    """The process `stepped_feed` runs; serves until it is stopped."""
    from calls.sandbox.clock import ManualClock
    from calls.sandbox.server import SandboxFeed

    seconds = float(step)

    class SteppedFeed(SandboxFeed):
        def record_request(self, invoca_id: str | None) -> None:
            super().record_request(invoca_id)
            if seconds:
                self.advance(seconds)

    feed = SteppedFeed(port=int(port), clock=ManualClock(), target_live=int(calls))
    feed.add_organization(invoca_id, token)
    feed.start()
    threading.Event().wait()


def celery_worker(
    concurrency: int, *, pool: str = "prefork", name: str = "worker"
) -> tuple[str, list[str]]:
    """One `celery worker` process: `concurrency` children (prefork) or threads (threads)."""
    return (
        name,
        [
            str(VENV_BIN / "celery"),
            "-A",
            "cipdash",
            "worker",
            "--hostname",
            f"{name}@%h",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
    )


def celery_beat(environment: BenchEnvironment) -> tuple[str, list[str]]:
    schedule = str(Path(environment.data_dir) / "beat-schedule")
    return (
        "beat",
        [str(VENV_BIN / "celery"), "-A", "cipdash", "beat", "-s", schedule, "-l", "WARNING"],
    )


def gunicorn(*, port: int, workers: int, threads: int = 1) -> tuple[str, list[str]]:
    return (
        "web",
        [
            str(VENV_BIN / "gunicorn"),
            "cipdash.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
    )


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


@contextlib.contextmanager
def product_served(
    *,
    environment: BenchEnvironment,
    threads: int = 1,
    extra_environment: dict[str, str] | None = None,
) -> Iterator[str]:
    """The whole product: a Celery worker (8 threads) and beat, and gunicorn (2 workers) on a
    free port. Yields the web server's base URL once it answers; stops them all afterwards."""
    from tests.servers import free_port

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    commands = [
        celery_worker(8, pool="threads"),  # as README.md runs it
        celery_beat(environment),
        gunicorn(port=port, workers=2, threads=threads),
    ]
    with processes(commands, environment=environment, extra_environment=extra_environment):
        wait_for_http(base_url + "/login/")
        yield base_url


def agent_users(*, count: int, organizations: list[Any]) -> list[str]:
    """`count` agents who are members of every organization; their session cookies."""
    from django.contrib.auth.models import User
    from django.test import Client

    from calls.models import Membership, Role

    cookies = []
    for number in range(count):
        user = User.objects.create(username=f"bench-agent-{number}")
        Membership.objects.bulk_create(
            Membership(user=user, organization=organization, role=Role.AGENT)
            for organization in organizations
        )
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
    return cookies


@dataclass
class AgentStats:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latencies.append(seconds)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class Agents:
    """Browsers on the live list: load it once, then refresh every `every` seconds with the
    version they show (the htmx poll), as app.js does."""

    def __init__(self, *, base_url: str, cookies: list[str], every: float) -> None:
        self.base_url = base_url
        self.cookies = cookies
        self.every = every
        self.stats = AgentStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, cookie: str, offset: float) -> None:
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        version = ""
        next_at = time.monotonic() + offset
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at += self.every
            headers = {"HX-Request": "true", "X-Feed-Version": version} if version else {}
            started = time.perf_counter()
            try:
                response = session.get(self.base_url + "/", headers=headers, timeout=10)
            except requests.RequestException:
                with self.stats.lock:
                    self.stats.errors += 1
                continue
            self.stats.record(response.status_code, time.perf_counter() - started)
            if response.status_code == 200:
                version = live_version(response.text) or ""

    def __enter__(self) -> Agents:
        count = len(self.cookies)
        for number, cookie in enumerate(self.cookies):
            # Spread the agents over one refresh period, as real browsers are.
            thread = threading.Thread(
                target=self._run, args=(cookie, self.every * number / max(1, count)), daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
