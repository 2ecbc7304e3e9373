"""The HTTP seam of the Invoca client, with `responses` standing in for Invoca."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from calls.invoca import (
    AuthenticationFailed,
    BadResponse,
    CallFilters,
    CurrentCallsRequest,
    InvalidRequest,
    RateLimited,
    RequestRejected,
    Unavailable,
    current_calls_fetch,
)
from calls.invoca.client import retry_after_seconds
from tests.factories import call_payload
from tests.invoca.conftest import make_request, samples

URL = "https://invoca.net/api/2022-08-01/calls_in_progress/current_calls.json"
TOKEN = "raw-token-abc123"


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def answer(api, status=200, body=None, **kwargs):
    payload = {"current_calls": [call_payload("T1")]} if body is None else body
    if isinstance(payload, dict | list):
        kwargs.setdefault("json", payload)
    else:
        kwargs.setdefault("body", payload)
    api.get(URL, status=status, **kwargs)


def test_get_with_raw_token_in_the_header_and_never_in_the_url(api):
    answer(api)
    result = current_calls_fetch(make_request())
    assert [call.transaction_id for call in result.calls] == ["T1"]
    sent = api.calls[0].request
    assert sent.method == "GET"
    assert sent.headers["Authorization"] == TOKEN  # raw, no "Bearer"
    assert TOKEN not in sent.url
    assert "oauth_token" not in sent.url
    query = parse_qs(urlsplit(sent.url).query)
    assert query == {"organization_type": ["Network"], "id": ["1001"]}


def test_the_request_welcomes_a_compressed_json_answer_and_names_its_client(api):
    answer(api)
    current_calls_fetch(make_request())
    sent = api.calls[0].request.headers
    assert sent["Accept"] == "application/json"
    assert sent["User-Agent"].startswith("cipdash/")
    assert "gzip" in sent["Accept-Encoding"]


def test_a_cookie_the_answer_sets_is_never_sent_back(api):
    answer(api, headers={"Set-Cookie": "lb=node-7; Path=/"})
    answer(api)
    current_calls_fetch(make_request())
    current_calls_fetch(make_request())
    assert [call.request.headers.get("Cookie") for call in api.calls] == [None, None]


def test_base_url_is_per_organization(api):
    other = "https://acme.invoca.net/api/2023-10-09/calls_in_progress/current_calls.json"
    api.get(other, json={"current_calls": []})
    result = current_calls_fetch(make_request(base_url="https://acme.invoca.net/api/2023-10-09/"))
    assert result.calls == ()
    assert urlsplit(api.calls[0].request.url).path == (
        "/api/2023-10-09/calls_in_progress/current_calls.json"
    )


@pytest.mark.parametrize("organization_type", ["network", "NETWORK", "Publisher", ""])
def test_organization_type_must_be_exactly_network_or_advertiser(api, organization_type):
    request = CurrentCallsRequest(
        base_url="https://invoca.net/api/2022-08-01",
        organization_type=organization_type,
        organization_id="1001",
        token=TOKEN,
        token_origin="https://invoca.net:443",
    )
    with pytest.raises(InvalidRequest):
        current_calls_fetch(request)
    assert len(api.calls) == 0


def test_advertiser_type_is_sent_capitalised(api):
    answer(api)
    current_calls_fetch(
        CurrentCallsRequest(
            base_url="https://invoca.net/api/2022-08-01",
            organization_type="Advertiser",
            organization_id="77",
            token=TOKEN,
            token_origin="https://invoca.net:443",
        )
    )
    assert parse_qs(urlsplit(api.calls[0].request.url).query)["organization_type"] == ["Advertiser"]


@pytest.mark.parametrize(
    "token", ["", " padded", "line\nbreak", "tab\tinside"], ids=["empty", "blank", "nl", "tab"]
)
def test_unusable_tokens_are_refused_before_any_request(api, token):
    with pytest.raises(InvalidRequest) as caught:
        current_calls_fetch(make_request(token=token))
    assert len(api.calls) == 0
    if token.strip():
        assert token.strip() not in str(caught.value)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (CallFilters(transaction_id="01HZX3K9Q2M4"), {"transaction_id": ["01HZX3K9Q2M4"]}),
        (CallFilters(external_unique_id="ext-9"), {"external_unique_id": ["ext-9"]}),
        (CallFilters(call_record_id="Z6E5-C73"), {"call_record_id": ["Z6E5-C73"]}),
        (
            CallFilters(calling_phone_number="310-555-0147", destination_phone_number="8885550199"),
            {
                "calling_phone_number": ["310-555-0147"],
                "destination_phone_number": ["8885550199"],
            },
        ),
    ],
)
def test_filters_are_sent_and_mark_the_answer_filtered(api, filters, expected):
    answer(api)
    result = current_calls_fetch(make_request(filters=filters))
    query = parse_qs(urlsplit(api.calls[0].request.url).query)
    assert {k: v for k, v in query.items() if k not in ("id", "organization_type")} == expected
    assert result.filtered and not result.clean


@pytest.mark.parametrize(
    "lone",
    [
        {"calling_phone_number": "+13105550147"},
        {"destination_phone_number": "+18885550199"},
        {"calling_phone_number": "+13105550147", "destination_phone_number": "   "},
    ],
)
def test_a_lone_phone_number_is_refused_before_any_request(api, lone):
    with pytest.raises(InvalidRequest):
        current_calls_fetch(make_request(filters=CallFilters(**lone)))
    assert len(api.calls) == 0


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authentication_failures(api, status):
    answer(api, status, samples()["unauthorized_401_body"])
    with pytest.raises(AuthenticationFailed) as caught:
        current_calls_fetch(make_request())
    assert caught.value.http_status == status
    assert not caught.value.retryable


def test_429_with_retry_after_in_seconds(api):
    answer(api, 429, {"error": "TooManyRequests"}, headers={"Retry-After": "17"})
    with pytest.raises(RateLimited) as caught:
        current_calls_fetch(make_request())
    assert caught.value.retry_after == 17
    assert caught.value.http_status == 429 and caught.value.retryable


def test_429_with_retry_after_as_an_http_date(api):
    when = datetime.now(UTC) + timedelta(seconds=120)
    answer(api, 429, {}, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(RateLimited) as caught:
        current_calls_fetch(make_request())
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 121


def test_429_without_a_usable_retry_after(api):
    answer(api, 429, {}, headers={"Retry-After": "soon"})
    with pytest.raises(RateLimited) as caught:
        current_calls_fetch(make_request())
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("Wed, 25 Nov 2026 12:01:00 GMT", 60.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),  # already past
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
        ("next tuesday", None),
    ],
)
def test_retry_after_forms(value, expected):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(api, status):
    answer(api, status, "<html><body>Bad Gateway</body></html>", content_type="text/html")
    with pytest.raises(Unavailable) as caught:
        current_calls_fetch(make_request())
    assert caught.value.http_status == status and caught.value.retryable


@pytest.mark.parametrize("status", [400, 404, 405, 410, 301])
def test_other_statuses_are_rejected_requests(api, status):
    answer(api, status, {"error": "Whatever"})
    with pytest.raises(RequestRejected) as caught:
        current_calls_fetch(make_request())
    assert caught.value.http_status == status and not caught.value.retryable


def test_a_lookup_with_no_match_may_answer_404_record_not_found(api):
    answer(api, 404, {"error": "RecordNotFound"})
    result = current_calls_fetch(make_request(filters=CallFilters(transaction_id="GONE")))
    assert result.calls == () and result.filtered


def test_404_record_not_found_on_an_unfiltered_poll_is_an_error(api):
    answer(api, 404, {"error": "RecordNotFound"})
    with pytest.raises(RequestRejected):
        current_calls_fetch(make_request())


@pytest.mark.parametrize(
    "exception",
    [
        requests.ConnectionError("Failed to establish a new connection: Connection refused"),
        requests.ConnectionError("NameResolutionError: Name or service not known"),
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
    ],
)
def test_network_failures_are_unavailable(api, exception):
    api.get(URL, body=exception)
    with pytest.raises(Unavailable) as caught:
        current_calls_fetch(make_request())
    assert caught.value.http_status is None and caught.value.retryable


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json at all", "application/json"),
        ('{"current_calls": [', "application/json"),
        ("", "application/json"),
        ("<html><title>Maintenance</title></html>", "text/html; charset=utf-8"),
        (b"\xff\xfe\xfa garbage", "application/json"),
    ],
    ids=["text", "truncated", "empty", "html200", "bytes"],
)
def test_answers_that_are_not_json_are_bad_responses(api, body, content_type):
    answer(api, 200, body, content_type=content_type)
    with pytest.raises(BadResponse) as caught:
        current_calls_fetch(make_request())
    assert caught.value.http_status == 200


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"calls": []},
        {"current_calls": None},
        {"current_calls": "none"},
        {"current_calls": {"T1": {}}},
        "just a string",
        samples()["unauthorized_401_body"],
    ],
    ids=["list", "other-key", "null", "string-list", "object-list", "string", "error-body"],
)
def test_wrong_shapes_are_bad_responses(api, body):
    answer(api, 200, json.dumps(body), content_type="application/json")
    with pytest.raises(BadResponse):
        current_calls_fetch(make_request())


def test_202_partial_keeps_the_data_and_flags_it(api):
    answer(
        api,
        202,
        {
            "current_calls": [call_payload("T1"), call_payload("T2")],
            "partial_data": True,
            "errors": [{"error": "CallsInProgressAPI::UnreachableRegion"}],
        },
    )
    result = current_calls_fetch(make_request())
    assert result.partial and not result.clean
    assert [call.transaction_id for call in result.calls] == ["T1", "T2"]
    assert "UnreachableRegion" in result.partial_reason


def test_202_early_draft_body_without_calls(api):
    answer(api, 202, samples()["partial_202_body_early_draft"])
    result = current_calls_fetch(make_request())
    assert result.partial and result.calls == () and result.http_status == 202


def test_partial_data_flag_on_a_200_is_partial_too(api):
    answer(api, 200, {"current_calls": [call_payload("T1")], "partial_data": True})
    result = current_calls_fetch(make_request())
    assert result.partial and len(result.calls) == 1


def test_an_oversized_answer_is_refused(api):
    big = {"current_calls": [call_payload(f"T{i}") for i in range(200)]}
    answer(api, 200, big)
    with pytest.raises(BadResponse, match="limit"):
        current_calls_fetch(make_request(max_response_bytes=4096))


def test_the_request_and_its_errors_never_show_the_token(api):
    answer(api, 401, {"error": "NotAuthorized"})
    request = make_request()
    with pytest.raises(AuthenticationFailed) as caught:
        current_calls_fetch(request)
    for text in (repr(request), str(request), str(caught.value), repr(caught.value)):
        assert TOKEN not in text


def test_a_503_may_say_when_to_come_back(api):
    answer(api, 503, "<html>maintenance</html>", headers={"Retry-After": "120"})
    with pytest.raises(Unavailable) as caught:
        current_calls_fetch(make_request())
    assert caught.value.retry_after == 120
