"""The client's kept-alive connection per thread (calls.invoca.sessions) and the environment
it honours, against the sandbox feed over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from calls.invoca import Unavailable, current_calls_fetch, sessions
from tests.factories import call_payload
from tests.invoca.conftest import (
    FEED_ORG,
    FEED_TOKEN,
    fetch,
    headers_dripped,
    make_request,
    raw_http_server,
)
from tests.servers import free_port


def test_polls_in_a_row_share_one_connection(feed):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    for _ in range(3):
        assert [call.transaction_id for call in fetch(feed).calls] == ["SBX-1"]
    assert feed.request_count(FEED_ORG) == 3
    assert feed.connection_count() == 1


def test_a_kept_alive_connection_is_cut_off_at_the_total_deadline_too(feed):
    fetch(feed)  # connected before the next fetch's deadline starts
    feed.set_fault("drip", interval=0.05)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="not complete"):
        fetch(feed, connect_timeout=0.5, read_timeout=0.5, total_timeout=1.0)
    assert 0.9 <= time.monotonic() - started < 2.5
    assert feed.connection_count() == 1  # the drip came over the kept-alive connection
    feed.clear_faults()
    assert fetch(feed).clean
    assert feed.connection_count() == 2  # the cut connection was not reused


@pytest.fixture
def second_answer_dripper() -> Iterator[str]:
    """A server that answers a connection's first request at once and then sends the headers
    of the second one a byte at a time."""
    body = b'{"current_calls": []}'

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.recv(65536)
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        connection.recv(65536)
        headers_dripped(connection, stop)

    with raw_http_server(answer) as base_url:
        yield base_url


def test_headers_dripped_on_a_kept_alive_connection_are_cut_off(second_answer_dripper):
    request = make_request(
        base_url=second_answer_dripper,
        token=FEED_TOKEN,
        connect_timeout=0.5,
        read_timeout=0.5,
        total_timeout=1.0,
    )
    assert current_calls_fetch(request).clean
    started = time.monotonic()
    with pytest.raises(Unavailable, match="not complete after 1 s"):
        current_calls_fetch(request)
    assert 0.9 <= time.monotonic() - started < 1.6


def test_a_failed_exchange_does_not_leave_its_connection_for_the_next(feed):
    fetch(feed)
    feed.set_fault("503")
    with pytest.raises(Unavailable):
        fetch(feed)
    feed.clear_faults()
    assert fetch(feed).clean
    assert feed.connection_count() == 2


def test_a_connection_idle_for_too_long_is_replaced(feed, monkeypatch):
    monkeypatch.setattr(sessions, "KEEPALIVE_IDLE_SECONDS", 0.05)
    fetch(feed)
    time.sleep(0.1)
    fetch(feed)
    assert feed.connection_count() == 2


def test_a_netrc_entry_never_replaces_the_token(feed, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert fetch(feed).clean


def test_the_proxy_the_environment_names_is_used(feed, monkeypatch, caplog):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # On a thread of its own, whose session reads the environment afresh: this thread's has
    # kept what it read for an earlier feed, which may have had this feed's port number.
    failures: list[Exception] = []

    def fetch_recording_failure() -> None:
        try:
            fetch(feed)
        except Unavailable as exc:
            failures.append(exc)

    fetching = threading.Thread(target=fetch_recording_failure)
    fetching.start()
    fetching.join()
    assert len(failures) == 1 and "could not connect" in str(failures[0])
    assert "(ProxyError)" in caplog.text
    assert feed.request_count(FEED_ORG) == 0
