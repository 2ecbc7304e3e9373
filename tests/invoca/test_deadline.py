"""The total deadline on one exchange (calls.invoca.deadline): a server that drips bytes or
headers, or a resolver that never answers, is cut off once the total bound has passed."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from calls.invoca import Unavailable
from calls.invoca.deadline import deadline_running
from tests.invoca.conftest import (
    fetch,
    headers_dripped,
    raw_http_server,
    timed_failure,
    timed_failure_url,
)


def test_a_server_that_drips_bytes_is_cut_off_at_the_total_deadline(feed):
    # Each byte comes well within the read timeout, so only the total bound can end this.
    feed.set_fault("drip", interval=0.05)
    error, took = timed_failure(
        feed, Unavailable, connect_timeout=0.5, read_timeout=0.5, total_timeout=1.0
    )
    assert 0.9 <= took < 2.5
    assert "not complete" in str(error)


@pytest.fixture
def header_dripper() -> Iterator[str]:
    """A server that starts an answer and then sends its headers one byte at a time."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.recv(65536)
        headers_dripped(connection, stop)

    with raw_http_server(answer) as base_url:
        yield base_url


def test_headers_dripped_forever_are_cut_off_at_the_total_deadline(header_dripper):
    error, took = timed_failure_url(header_dripper)
    assert 0.9 <= took < 1.6
    assert "not complete after 1 s" in str(error)


def test_a_resolver_that_does_not_answer_is_cut_off_at_the_total_deadline(monkeypatch):
    resolve = socket.getaddrinfo

    def stalled(host, *args, **kwargs):  # a DNS server that never answers, for 5 s
        if host == "stalled-dns.invalid":
            time.sleep(5)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    error, took = timed_failure_url("http://stalled-dns.invalid/api/2022-08-01")
    assert took < 1.6  # FAST: a total of 1 s
    assert "not complete after 1 s" in str(error) or "resolve" in str(error)


def _wait_until(condition, seconds: float = 10.0) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_one_watcher_thread_cuts_the_earliest_deadline_first_whatever_the_order():
    """A deadline shorter than those already running is cut at its own time, not theirs."""
    long_socket, long_peer = socket.socketpair()
    short_socket, short_peer = socket.socketpair()
    with long_socket, long_peer, short_socket, short_peer:
        with deadline_running(30.0) as long, deadline_running(0.2) as short:
            long.attach(long_socket)
            short.attach(short_socket)
            assert _wait_until(lambda: short.expired)
            assert short_socket.recv(1) == b""  # shut down: a blocked read wakes
            assert not long.expired
        assert not long.expired  # finished in time: never cut
    watchers = [thread for thread in threading.enumerate() if thread.name == "invoca-deadlines"]
    assert len(watchers) == 1


def test_requests_start_no_thread_each(feed):
    fetch(feed)  # the watcher exists from here on
    before = threading.active_count()
    for _ in range(20):
        fetch(feed)
    assert threading.active_count() == before


def test_a_forked_child_watches_its_own_deadlines():
    with deadline_running(30.0):  # the parent's watcher runs
        child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code
        sock, _peer = socket.socketpair()
        with deadline_running(0.1) as deadline:
            deadline.attach(sock)
            os._exit(0 if _wait_until(lambda: deadline.expired, 10.0) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
