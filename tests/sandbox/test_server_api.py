"""The fake endpoint over real HTTP: authentication, parameters, filters, counting, stats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from calls.sandbox import ManualClock, SandboxFeed, bulk_payload

from . import (
    ADVERTISER_ID,
    ADVERTISER_TOKEN,
    NETWORK_ID,
    NETWORK_TOKEN,
    TIMEOUT,
    calls_url,
    get_advertiser_calls,
    get_calls,
)


@pytest.fixture
def quiet_feed() -> Iterator[SandboxFeed]:
    """One Network org with no generated calls, only the ones a test adds."""
    with SandboxFeed(clock=ManualClock(), target_live=0) as feed:
        feed.add_organization(NETWORK_ID, NETWORK_TOKEN)
        yield feed


def test_answers_live_calls_as_json(feed: SandboxFeed) -> None:
    response = get_calls(feed)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    calls = response.json()["current_calls"]
    assert len(calls) >= 5
    assert {call["transaction_id"] for call in calls} == {
        call["transaction_id"] for call in feed.live_calls(NETWORK_ID)
    }


def test_url_holds_the_version(feed: SandboxFeed) -> None:
    assert feed.url == f"http://127.0.0.1:{feed.port}/api/2022-08-01"


def test_calls_come_most_recent_bridge_first(feed: SandboxFeed) -> None:
    calls = get_calls(feed).json()["current_calls"]
    times = [
        datetime.fromisoformat(call.get("bridge_start_time") or call["transfer_start_time_utc"])
        for call in calls
    ]
    assert times == sorted(times, reverse=True)


def test_slim_advertiser_org_answers_attribution_only(feed: SandboxFeed) -> None:
    response = get_advertiser_calls(feed)
    assert response.status_code == 200
    assert all("custom_data" not in call for call in response.json()["current_calls"])


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "wrong-token",
        f"Bearer {NETWORK_TOKEN}",
        f"Token {NETWORK_TOKEN}",
        ADVERTISER_TOKEN,
    ],
    ids=["missing", "empty", "wrong", "bearer", "token-prefix", "other-orgs-token"],
)
def test_refuses_a_bad_token_with_401(feed: SandboxFeed, token: str | None) -> None:
    response = get_calls(feed, token)
    if token == ADVERTISER_TOKEN:  # a valid token, but for another organization
        assert response.status_code == 403
        return
    assert response.status_code == 401
    assert response.json() == {"error": "NotAuthorized"}


def test_token_in_the_query_string_is_not_accepted(feed: SandboxFeed) -> None:
    response = get_calls(feed, None, oauth_token=NETWORK_TOKEN)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"organization_type": "network"},
        {"organization_type": "NETWORK"},
        {"organization_type": None},
        {"organization_type": "Advertiser"},
        {"id": None},
        {"id": ""},
        {"id": ADVERTISER_ID},
        {"calling_phone_number": "+13105550147"},
        {"destination_phone_number": "+18885550199"},
        {"calling_phone_number": "anonymous", "destination_phone_number": "+18885550199"},
        {"transaction_id": ""},
    ],
)
def test_refuses_invalid_parameters_with_403(feed: SandboxFeed, params: dict) -> None:
    response = get_calls(feed, **params)
    assert response.status_code == 403
    errors = response.json()["errors"]
    assert errors["class"] == "InvalidInput"
    assert errors["invalid_data"]


def get_calls_at_version(feed: SandboxFeed, version: str) -> requests.Response:
    """The Network org's calls, asked for under another API version in the path."""
    return requests.get(
        calls_url(feed).replace("2022-08-01", version),
        headers={"Authorization": NETWORK_TOKEN},
        timeout=TIMEOUT,
        params={"organization_type": "Network", "id": NETWORK_ID},
    )


@pytest.mark.parametrize("version", ["v1", "2022-8-1", "2022-13-40", "latest"])
def test_unknown_version_format_is_400(feed: SandboxFeed, version: str) -> None:
    response = get_calls_at_version(feed, version)
    assert response.status_code == 400
    assert response.json()["errors"]["class"] == "InvalidVersion"


def test_any_dated_version_is_served(feed: SandboxFeed) -> None:
    response = get_calls_at_version(feed, "2023-10-09")
    assert response.status_code == 200


def test_other_paths_are_404_json(feed: SandboxFeed) -> None:
    for path in ("/", "/api/2022-08-01/calls_in_progress/current_calls", "/api/2022-08-01/x"):
        response = requests.get(feed.root_url + path, timeout=TIMEOUT)
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_is_allowed(feed: SandboxFeed, method: str) -> None:
    response = requests.request(
        method,
        calls_url(feed),
        headers={"Authorization": NETWORK_TOKEN},
        params={"organization_type": "Network", "id": NETWORK_ID},
        timeout=TIMEOUT,
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def add_known_calls(feed: SandboxFeed) -> None:
    feed.add_call(
        NETWORK_ID,
        {
            "transaction_id": "AAA-1",
            "call_record_id": "REC-1",
            "external_unique_id": 4711,
            "calling_phone_number": "+18005551234",
            "destination_phone_number": "888-555-0199",
            "bridge_start_time": "2026-11-23T09:00:00-08:00",
        },
    )
    feed.add_call(
        NETWORK_ID,
        {
            "transaction_id": "AAA-2",
            "call_record_id": "REC-1",
            "external_unique_id": "crm-2",
            "calling_phone_number": "(800) 555-1234",
            "destination_phone_number": "8885550100",
            "transfer_start_time_utc": "2026-11-23T17:00:30.000Z",
        },
    )
    feed.add_call(
        NETWORK_ID,
        {
            "transaction_id": "BBB-3",
            "call_record_id": "REC-2",
            "calling_phone_number": "anonymous",
            "destination_phone_number": "+18885550199",
            "bridge_start_time": "2026-11-23T09:01:00-08:00",
        },
    )


def found(response: requests.Response) -> list[str]:
    assert response.status_code == 200
    return [call["transaction_id"] for call in response.json()["current_calls"]]


def test_filter_by_transaction_id(quiet_feed: SandboxFeed) -> None:
    add_known_calls(quiet_feed)
    assert found(get_calls(quiet_feed, transaction_id="AAA-2")) == ["AAA-2"]
    assert found(get_calls(quiet_feed, transaction_id="NOPE")) == []


def test_filter_by_external_unique_id_string_or_number(quiet_feed: SandboxFeed) -> None:
    add_known_calls(quiet_feed)
    assert found(get_calls(quiet_feed, external_unique_id="4711")) == ["AAA-1"]
    assert found(get_calls(quiet_feed, external_unique_id="crm-2")) == ["AAA-2"]


def test_filter_by_call_record_id_returns_every_transaction(quiet_feed: SandboxFeed) -> None:
    add_known_calls(quiet_feed)
    # Most recent bridge first: AAA-2 bridged 30 s after AAA-1.
    assert found(get_calls(quiet_feed, call_record_id="REC-1")) == ["AAA-2", "AAA-1"]


@pytest.mark.parametrize("calling", ["800-555-1234", "8005551234", "+18005551234", "18005551234"])
def test_filter_by_phone_pair_in_any_format(quiet_feed: SandboxFeed, calling: str) -> None:
    add_known_calls(quiet_feed)
    hits = found(
        get_calls(quiet_feed, calling_phone_number=calling, destination_phone_number="+18885550199")
    )
    assert hits == ["AAA-1"]


def test_filters_combine(quiet_feed: SandboxFeed) -> None:
    add_known_calls(quiet_feed)
    assert found(get_calls(quiet_feed, call_record_id="REC-1", transaction_id="AAA-2")) == ["AAA-2"]
    assert found(get_calls(quiet_feed, call_record_id="REC-2", transaction_id="AAA-2")) == []


def test_changes_made_through_hooks_show_on_the_next_request(quiet_feed: SandboxFeed) -> None:
    txid = quiet_feed.add_call(NETWORK_ID, {"call_status": "bridged"})
    quiet_feed.set_custom(NETWORK_ID, txid, "routing_score", "91", "RealTimeRoutingWebhook")
    (call,) = get_calls(quiet_feed).json()["current_calls"]
    assert call["custom_data"]["routing_score"]["value"] == "91"
    quiet_feed.end_call(NETWORK_ID, txid)
    assert found(get_calls(quiet_feed)) == []


def test_population_moves_with_the_manual_clock(feed: SandboxFeed) -> None:
    before = set(found(get_calls(feed)))
    feed.advance(600)
    assert not before & set(found(get_calls(feed)))


def test_requests_are_counted_per_organization(feed: SandboxFeed) -> None:
    get_calls(feed)
    get_calls(feed)
    get_calls(feed, "wrong-token")  # still about org 1001, by its id
    get_advertiser_calls(feed)
    get_calls(feed, "wrong-token", id="424242")  # nobody's
    assert feed.request_count(NETWORK_ID) == 3
    assert feed.request_count(ADVERTISER_ID) == 1
    assert feed.request_count() == 5
    stats = requests.get(feed.root_url + "/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["total_requests"] == 5
    assert stats["requests_by_organization"] == {NETWORK_ID: 3, ADVERTISER_ID: 1}
    assert {org["invoca_id"] for org in stats["organizations"]} == {NETWORK_ID, ADVERTISER_ID}
    assert ADVERTISER_TOKEN not in str(stats) and NETWORK_TOKEN not in str(stats)
    feed.reset_request_counts()
    assert feed.request_count() == 0


def test_counter_is_exact_under_concurrent_requests(feed: SandboxFeed) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: get_calls(feed).status_code, range(40)))
    assert statuses == [200] * 40
    assert feed.request_count(NETWORK_ID) == 40


def test_static_payload_replaces_the_population(feed: SandboxFeed) -> None:
    payload = bulk_payload(300, seed=2)
    feed.serve_static(NETWORK_ID, payload)
    response = get_calls(feed)
    assert response.json() == payload
    txid = payload["current_calls"][10]["transaction_id"]
    assert found(get_calls(feed, transaction_id=txid)) == [txid]
    feed.serve_static(NETWORK_ID, None)
    assert len(found(get_calls(feed))) < 30


def test_keep_alive_connection_serves_many_requests(feed: SandboxFeed) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = NETWORK_TOKEN
        for _ in range(20):
            response = session.get(
                calls_url(feed),
                timeout=TIMEOUT,
                params={"organization_type": "Network", "id": NETWORK_ID},
            )
            assert response.status_code == 200


def test_add_organization_rejects_bad_input() -> None:
    feed = SandboxFeed()
    feed.add_organization("1", "t1")
    with pytest.raises(ValueError):
        feed.add_organization("2", "t1")
    with pytest.raises(ValueError):
        feed.add_organization("3", "t3", "network")
    with pytest.raises(ValueError):
        feed.add_organization("4", "Bearer t4")
    with pytest.raises(RuntimeError):
        _ = feed.url  # not started


def test_stop_is_idempotent_and_frees_the_port() -> None:
    feed = SandboxFeed()
    feed.add_organization(NETWORK_ID, NETWORK_TOKEN)
    feed.start()
    url = calls_url(feed)
    feed.stop()
    feed.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=1)
