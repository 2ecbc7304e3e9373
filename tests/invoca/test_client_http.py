"""The client against the sandbox feed over real HTTP: socket timeouts, dropped and refused
connections, each fault's error, and what reaches the logs (the total deadline:
test_deadline.py)."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import pytest

from calls.invoca import (
    AuthenticationFailed,
    BadResponse,
    CallFilters,
    RateLimited,
    Unavailable,
    current_calls_fetch,
)
from tests.factories import call_payload
from tests.invoca.conftest import (
    FAST,
    FEED_ORG,
    FEED_TOKEN,
    fetch,
    make_request,
    timed_failure,
    timed_failure_url,
)
from tests.servers import free_port


def test_live_calls_over_http(feed):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    result = fetch(feed)
    assert [call.transaction_id for call in result.calls] == ["SBX-1"] and result.clean
    assert feed.request_count(FEED_ORG) == 1


def test_a_bearer_prefixed_token_is_not_what_the_api_wants(feed):
    with pytest.raises(AuthenticationFailed):
        current_calls_fetch(make_request(base_url=feed.url, token=f"Bearer {FEED_TOKEN}"))


def test_slow_answer_hits_the_read_timeout(feed, caplog):
    feed.set_fault("slow", delay=3.0)
    error, took = timed_failure(feed, Unavailable, **FAST)
    assert took < 2.0
    assert str(error) == f"could not connect to {urlsplit(feed.url).netloc}"
    assert "read timeout (ReadTimeout)" in caplog.text  # the kind of failure: log only


def test_hanging_server_hits_the_read_timeout(feed):
    feed.set_fault("hang")
    _, took = timed_failure(feed, Unavailable, **FAST)
    assert took < 2.0


def test_connection_closed_without_an_answer(feed):
    feed.set_fault("close")
    error, _ = timed_failure(feed, Unavailable, **FAST)
    assert error.http_status is None


def test_refused_connection():
    port = free_port()  # nothing listens here
    error, took = timed_failure_url(f"http://127.0.0.1:{port}/api/2022-08-01")
    assert str(error) == f"could not connect to 127.0.0.1:{port}" and took < 2.0


def test_host_name_that_does_not_resolve():
    error, _ = timed_failure_url("http://no-such-host.invalid/api/2022-08-01")
    assert str(error) == "could not resolve the host name of no-such-host.invalid"


def test_a_listener_that_never_accepts_hits_a_timeout():
    with socket.socket() as listener:  # backlog full after one: the handshake never finishes
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        _, took = timed_failure_url(f"http://127.0.0.1:{port}/api/2022-08-01")
    assert took < 3.0


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
def test_429_retry_after_over_http(feed, as_date):
    feed.set_fault("429", retry_after=40, retry_after_date=as_date)
    with pytest.raises(RateLimited) as caught:
        fetch(feed)
    assert caught.value.retry_after is not None
    assert 38 <= caught.value.retry_after <= 41


@pytest.mark.parametrize("mode", ["401", "403"])
def test_auth_faults_over_http(feed, mode):
    feed.set_fault(mode)
    with pytest.raises(AuthenticationFailed):
        fetch(feed)


@pytest.mark.parametrize("mode", ["500", "502", "503"])
def test_server_errors_over_http(feed, mode):
    feed.set_fault(mode)
    with pytest.raises(Unavailable):
        fetch(feed)


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("html200", {}),
        ("malformed", {"variant": "truncated"}),
        ("malformed", {"variant": "garbage"}),
        ("wrong_shape", {"variant": "list"}),
        ("wrong_shape", {"variant": "calls_key"}),
        ("wrong_shape", {"variant": "null_calls"}),
    ],
)
def test_bad_answers_over_http(feed, mode, options):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    feed.set_fault(mode, **options)
    with pytest.raises(BadResponse):
        fetch(feed)


def test_partial_over_http(feed):
    for n in range(4):
        feed.add_call(FEED_ORG, call_payload(f"SBX-{n}"))
    feed.set_fault("partial")
    result = fetch(feed)
    assert result.partial and result.http_status == 202 and not result.clean
    assert len(result.calls) == 2


def test_one_bad_call_keeps_the_good_ones(feed):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    feed.set_fault("one_bad_call")
    result = fetch(feed)
    assert [c.transaction_id for c in result.calls] == ["SBX-1"]
    assert len(result.rejected) == 2 and not result.clean


def test_hostile_values_parse(feed):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    feed.set_fault("hostile")
    result = fetch(feed)
    assert len(result.calls) == 2


def test_filtered_lookup_with_no_match_over_http(feed):
    feed.set_fault("notfound")
    result = fetch(feed, filters=CallFilters(transaction_id="NOPE"))
    assert result.calls == () and result.filtered


def test_phone_pair_filter_over_http(feed):
    feed.add_call(FEED_ORG, call_payload("SBX-1", calling_phone_number="+13105550147"))
    feed.add_call(FEED_ORG, call_payload("SBX-2", calling_phone_number="+12125550163"))
    pair = CallFilters(calling_phone_number="310-555-0147", destination_phone_number="8885550199")
    result = fetch(feed, filters=pair)
    assert [c.transaction_id for c in result.calls] == ["SBX-1"]


def test_the_token_reaches_no_log_and_no_url(feed, caplog):
    feed.add_call(FEED_ORG, call_payload("SBX-1"))
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "requests", "calls"):
        caplog.set_level(logging.DEBUG, logger=name)
    fetch(feed, filters=CallFilters(transaction_id="SBX-1"))
    fetch(feed)
    feed.set_fault("401", count=1)
    with pytest.raises(AuthenticationFailed):
        fetch(feed)
    feed.set_fault("drip", interval=0.05, count=1)
    with pytest.raises(Unavailable):
        fetch(feed, **FAST)
    messages = [record.getMessage() for record in caplog.records]
    assert any("current_calls.json" in message for message in messages), messages  # urllib3 logged
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.__dict__)
        assert FEED_TOKEN not in text
