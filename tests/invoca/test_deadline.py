"""The total deadline on one exchange (calls.invoca.deadline): a server that drips bytes or
headers, or a resolver that never answers, is cut off once the total bound has passed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from calls.invoca import Unavailable
from tests.invoca.conftest import headers_dripped, raw_http_server, timed_failure, timed_failure_url


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
