"""Fault modes, switched from Python and over HTTP, and the server's resilience to them."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from calls.sandbox import FAULT_MODES, ManualClock, SandboxFeed

from . import (
    ADVERTISER_ID,
    NETWORK_ID,
    NETWORK_TOKEN,
    TIMEOUT,
    calls_url,
    get_advertiser_calls,
    get_calls,
    two_org_feed,
)


def control(feed: SandboxFeed, method: str, body: object = None, **params: str):
    return requests.request(
        method, feed.root_url + "/_sandbox/fault", json=body, params=params, timeout=TIMEOUT
    )


def assert_normal(response: requests.Response) -> None:
    assert response.status_code == 200
    assert isinstance(response.json()["current_calls"], list)


@pytest.mark.parametrize(
    ("mode", "status", "body"),
    [
        ("401", 401, {"error": "NotAuthorized"}),
        ("notfound", 404, {"error": "RecordNotFound"}),
    ],
)
def test_fixed_json_errors(feed: SandboxFeed, mode: str, status: int, body: dict) -> None:
    feed.set_fault(mode)
    response = get_calls(feed)
    assert response.status_code == status
    assert response.json() == body


def test_403_invalid_input_shape(feed: SandboxFeed) -> None:
    feed.set_fault("403", invalid_data="token revoked")
    response = get_calls(feed)
    assert response.status_code == 403
    assert response.json() == {"errors": {"class": "InvalidInput", "invalid_data": "token revoked"}}


def test_429_with_retry_after_seconds(feed: SandboxFeed) -> None:
    feed.set_fault(429, retry_after=7)
    response = get_calls(feed)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_429_with_retry_after_http_date(feed: SandboxFeed) -> None:
    feed.set_fault("429", retry_after=30, retry_after_date=True)
    response = get_calls(feed)
    assert response.status_code == 429
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert 20 <= (when - datetime.now(UTC)).total_seconds() <= 40


def test_500_quotes_an_error_handle(feed: SandboxFeed) -> None:
    feed.set_fault("500")
    response = get_calls(feed)
    assert response.status_code == 500
    assert response.json()["error_handle"]


@pytest.mark.parametrize("mode", ["502", "503"])
def test_gateway_errors_are_html_pages(feed: SandboxFeed, mode: str) -> None:
    feed.set_fault(mode)
    response = get_calls(feed)
    assert response.status_code == int(mode)
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Retry-After" not in response.headers


def test_503_can_carry_retry_after(feed: SandboxFeed) -> None:
    feed.set_fault("503", retry_after=12)
    assert get_calls(feed).headers["Retry-After"] == "12"


def test_slow_answers_normally_after_the_delay(feed: SandboxFeed) -> None:
    feed.set_fault("slow", delay=0.6)
    started = time.monotonic()
    assert_normal(get_calls(feed))
    assert time.monotonic() - started >= 0.6
    with pytest.raises(requests.ReadTimeout):
        get_calls(feed, timeout=(1, 0.2))


def run_in_background(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_hang_makes_the_client_time_out_while_others_are_served(feed: SandboxFeed) -> None:
    feed.set_fault("hang", invoca_id=NETWORK_ID)
    outcome: list[BaseException] = []

    def hanging_request() -> None:
        try:
            get_calls(feed, timeout=(1, 1.0))
        except requests.RequestException as error:
            outcome.append(error)

    thread = run_in_background(hanging_request)
    time.sleep(0.2)
    assert_normal(get_advertiser_calls(feed))  # served while the other one hangs
    thread.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], requests.ReadTimeout)


def read_with_deadline(response: requests.Response, seconds: float) -> tuple[bytes, bool]:
    """What a client with a total deadline gets: (bytes read, finished before the deadline)."""
    deadline = time.monotonic() + seconds
    received = b""
    for chunk in response.iter_content(chunk_size=1):
        received += chunk
        if time.monotonic() > deadline:
            return received, False
    return received, True


def test_drip_never_finishes_but_the_server_stays_responsive(feed: SandboxFeed) -> None:
    feed.set_fault("drip", invoca_id=NETWORK_ID, interval=0.1)
    with get_calls(feed, timeout=(1, 1.0), stream=True) as response:
        assert response.status_code == 200
        assert_normal(get_advertiser_calls(feed))
        received, finished = read_with_deadline(response, 1.0)
    assert not finished
    assert 3 <= len(received) <= 15
    assert received.startswith(b'{"current_calls"'[: len(received)])


def test_close_drops_the_connection_without_an_answer(feed: SandboxFeed) -> None:
    feed.set_fault("close", count=1)
    with pytest.raises(requests.ConnectionError):
        get_calls(feed)
    assert_normal(get_calls(feed))


@pytest.mark.parametrize("variant", ["truncated", "garbage"])
def test_malformed_json(feed: SandboxFeed, variant: str) -> None:
    feed.set_fault("malformed", variant=variant)
    response = get_calls(feed)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_html_page_with_200(feed: SandboxFeed) -> None:
    feed.set_fault("html200")
    response = get_calls(feed)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("list", lambda body: isinstance(body, list) and body),
        ("calls_key", lambda body: body == {"calls": []}),
        ("null_calls", lambda body: body == {"current_calls": None}),
    ],
)
def test_wrong_shape(feed: SandboxFeed, variant: str, check) -> None:
    feed.set_fault("wrong_shape", variant=variant)
    response = get_calls(feed)
    assert response.status_code == 200
    assert check(response.json())


def test_one_bad_call_among_good_ones(feed: SandboxFeed) -> None:
    feed.set_fault("one_bad_call")
    calls = get_calls(feed).json()["current_calls"]
    strings = [call for call in calls if isinstance(call, str)]
    nameless = [c for c in calls if isinstance(c, dict) and "transaction_id" not in c]
    good = [c for c in calls if isinstance(c, dict) and "transaction_id" in c]
    assert len(strings) == 1 and len(nameless) == 1
    assert len(good) == len(feed.live_calls(NETWORK_ID)) > 0


def test_partial_answer_is_202_with_a_subset(feed: SandboxFeed) -> None:
    everything = {call["transaction_id"] for call in feed.live_calls(NETWORK_ID)}
    feed.set_fault("partial")
    response = get_calls(feed)
    assert response.status_code == 202
    body = response.json()
    assert body["partial_data"] is True
    assert body["errors"][0]["error"] == "CallsInProgressAPI::UnreachableRegion"
    subset = {call["transaction_id"] for call in body["current_calls"]}
    assert subset < everything


def test_hostile_values(feed: SandboxFeed) -> None:
    feed.set_fault("hostile")
    response = get_calls(feed)
    assert response.status_code == 200
    calls = response.json()["current_calls"]
    values = [
        entry["value"]
        for call in calls
        for name, entry in call["custom_data"].items()
        if name != "demographics_data"
    ]
    assert "<script>alert(1)</script>" in values
    assert '"><img src=x onerror=alert(1)>' in values
    assert any(str(v).startswith("=HYPERLINK(") for v in values)
    assert any(isinstance(v, str) and len(v) >= 10_240 for v in values)
    assert any(isinstance(v, str) and "📞" in v for v in values)
    assert any(isinstance(v, str) and "\u202e" in v and "مرحبا" in v for v in values)
    assert b"<script>" in response.content  # sent raw
    # A lone surrogate as the bytes a careless encoder writes (no \u escape): invalid UTF-8.
    assert "cut short \ud83d".encode("utf-8", "surrogatepass") in response.content
    assert b'"start_time":"0001-01-01T00:00:00+01:00"' in response.content
    # And a value in Latin-1: lone bytes E8, E9 and FB, which are no UTF-8 either.
    assert "crème brûlée, in Latin-1".encode("latin-1") in response.content


def test_count_limits_the_fault_to_the_next_requests(feed: SandboxFeed) -> None:
    feed.set_fault("500", count=2)
    assert [get_calls(feed).status_code for _ in range(3)] == [500, 500, 200]
    assert feed.active_faults() == []


def test_fault_for_one_org_leaves_others_alone(feed: SandboxFeed) -> None:
    feed.set_fault("503", invoca_id=ADVERTISER_ID)
    assert_normal(get_calls(feed))
    assert get_advertiser_calls(feed).status_code == 503


def test_org_fault_wins_over_global_and_clear_removes_all(feed: SandboxFeed) -> None:
    feed.set_fault("500")
    feed.set_fault("notfound", invoca_id=NETWORK_ID)
    assert get_calls(feed).status_code == 404
    assert get_advertiser_calls(feed).status_code == 500
    feed.clear_faults(NETWORK_ID)
    assert get_calls(feed).status_code == 500
    feed.clear_faults()
    assert_normal(get_calls(feed))
    assert_normal(get_advertiser_calls(feed))


def test_faulty_requests_are_counted(feed: SandboxFeed) -> None:
    feed.set_fault("502", count=1)
    get_calls(feed)
    get_calls(feed)
    assert feed.request_count(NETWORK_ID) == 2


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("teapot", {}),
        ("slow", {"delay": -1}),
        ("slow", {"speed": 2}),
        ("wrong_shape", {"variant": "tuple"}),
        ("429", {"retry_after_date": "yes"}),
    ],
)
def test_invalid_faults_are_refused(feed: SandboxFeed, mode: str, options: dict) -> None:
    with pytest.raises(ValueError):
        feed.set_fault(mode, **options)
    with pytest.raises(ValueError):
        feed.set_fault("500", count=0)
    with pytest.raises(ValueError):
        feed.set_fault("500", invoca_id="no-such-org")


def test_fault_control_over_http(feed: SandboxFeed) -> None:
    response = control(
        feed, "POST", {"mode": "429", "invoca_id": NETWORK_ID, "count": 1, "retry_after": 3}
    )
    assert response.status_code == 200
    assert response.json()["fault"] == {
        "mode": "429",
        "invoca_id": NETWORK_ID,
        "remaining": 1,
        "retry_after": 3.0,
        "retry_after_date": False,
    }
    assert get_calls(feed).status_code == 429
    assert_normal(get_calls(feed))

    control(feed, "POST", {"mode": "500"})
    stats = requests.get(feed.root_url + "/_sandbox/stats", timeout=TIMEOUT).json()
    assert [fault["mode"] for fault in stats["faults"]] == ["500"]
    assert control(feed, "DELETE").json() == {"faults": []}
    assert_normal(get_calls(feed))


def test_fault_control_rejects_bad_requests(feed: SandboxFeed) -> None:
    assert control(feed, "POST", {"mode": "nope"}).status_code == 400
    assert control(feed, "POST", {"count": 1}).status_code == 400
    assert control(feed, "POST", ["500"]).status_code == 400
    assert control(feed, "PUT", {"mode": "500"}).status_code == 405
    bad_json = requests.post(feed.root_url + "/_sandbox/fault", data=b"{", timeout=TIMEOUT)
    assert bad_json.status_code == 400
    assert feed.active_faults() == []


def test_every_mode_is_tested_here() -> None:
    tested = {
        "401",
        "403",
        "429",
        "500",
        "502",
        "503",
        "slow",
        "hang",
        "drip",
        "close",
        "malformed",
        "html200",
        "wrong_shape",
        "one_bad_call",
        "partial",
        "notfound",
        "hostile",
    }
    assert tested == set(FAULT_MODES)


def test_stop_does_not_wait_for_hanging_or_dripping_requests() -> None:
    feed = two_org_feed(clock=ManualClock())
    feed.set_fault("hang", invoca_id=NETWORK_ID)
    feed.set_fault("drip", invoca_id=ADVERTISER_ID)
    sessions = []

    def stuck(url_params: dict) -> None:
        try:
            with requests.get(
                calls_url(feed), timeout=(1, 30), stream=True, **url_params
            ) as response:
                sessions.append(response.status_code)
                for _ in response.iter_content(1):
                    pass
        except requests.RequestException:
            pass

    hang = run_in_background(
        lambda: stuck(
            {
                "headers": {"Authorization": NETWORK_TOKEN},
                "params": {"organization_type": "Network", "id": NETWORK_ID},
            }
        )
    )
    drip = run_in_background(
        lambda: stuck(
            {
                "headers": {"Authorization": "x"},
                "params": {"organization_type": "Advertiser", "id": ADVERTISER_ID},
            }
        )
    )
    time.sleep(0.5)
    started = time.monotonic()
    feed.stop()
    assert time.monotonic() - started < 2
    hang.join(3)
    drip.join(3)
    assert not hang.is_alive() and not drip.is_alive()
    assert sessions == [200]  # the dripping answer had started; the hanging one never did
