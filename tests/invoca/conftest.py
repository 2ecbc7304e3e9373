from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from calls.invoca import (
    INVOCA_HOSTS,
    CallFilters,
    CurrentCallsRequest,
    CurrentCallsResult,
    Unavailable,
    current_calls_fetch,
    url_origin,
)
from calls.sandbox.server import SandboxFeed

# A copy of shared/invoca-samples.json, so the suite does not depend on files outside the repo.
SAMPLES_PATH = Path(__file__).with_name("invoca-samples.json")
FEED_ORG = "1001"
FEED_TOKEN = "sbx-token-1001-Zq8"
DEFAULT_TOKEN = "raw-token-abc123"
# Invoca's hosts (mocked), the sandbox feeds on loopback and names that never resolve.
TEST_HOSTS = (*INVOCA_HOSTS, "127.0.0.1", "*.invalid")


def samples() -> dict[str, Any]:
    return json.loads(SAMPLES_PATH.read_text())


def make_request(
    base_url: str = "https://invoca.net/api/2022-08-01",
    token: str = DEFAULT_TOKEN,
    filters: CallFilters | None = None,
    **timing: Any,
) -> CurrentCallsRequest:
    """A request whose token was entered for `base_url` (unless `token_origin` says other)."""
    timing.setdefault("token_origin", url_origin(base_url))
    timing.setdefault("allowed_hosts", TEST_HOSTS)
    return CurrentCallsRequest(
        base_url=base_url,
        organization_type="Network",
        organization_id=FEED_ORG,
        token=token,
        filters=filters or CallFilters(),
        **timing,
    )


E = TypeVar("E", bound=Exception)
# Bounds short enough that a test waiting on each of them stays quick.
FAST: dict[str, Any] = {"connect_timeout": 0.5, "read_timeout": 0.5, "total_timeout": 1.0}


def fetch(feed: SandboxFeed, **overrides: Any) -> CurrentCallsResult:
    """One fetch from the sandbox feed's organization, with the feed's token."""
    return current_calls_fetch(make_request(base_url=feed.url, token=FEED_TOKEN, **overrides))


def timed_failure(feed: SandboxFeed, error: type[E], **timing: Any) -> tuple[E, float]:
    """The error a fetch from the feed raises, and the seconds it took to raise it."""
    started = time.monotonic()
    with pytest.raises(error) as caught:
        fetch(feed, **timing)
    return caught.value, time.monotonic() - started


def timed_failure_url(base_url: str) -> tuple[Unavailable, float]:
    """The Unavailable a FAST fetch from `base_url` raises, and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        current_calls_fetch(make_request(base_url=base_url, token=FEED_TOKEN, **FAST))
    return caught.value, time.monotonic() - started


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    """The sandbox feed over real HTTP, with one organization and no calls of its own."""
    with SandboxFeed(seed=3, target_live=0) as sandbox:
        sandbox.add_organization(FEED_ORG, FEED_TOKEN, target_live=0)
        yield sandbox


@contextlib.contextmanager
def raw_http_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A bare TCP server on loopback whose `answer(connection, stop)` speaks for it on each
    connection, for misbehaviour the sandbox feed has no fault for. Yields an API base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def handle(connection: socket.socket) -> None:
        # OSError: the client hung up, or its deadline cut the connection.
        with connection, contextlib.suppress(OSError):
            answer(connection, stop)

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/2022-08-01"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def headers_dripped(connection: socket.socket, stop: threading.Event) -> None:
    """Start an answer, then send its headers a byte at a time until stopped."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.05):
        connection.sendall(b"a")
