"""/metrics: off unless configured, open to a listed address or the bearer of the metrics
token, refused to anyone else without a word about why; GET only; the Prometheus text."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

import pytest
from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST

from calls.selectors.metrics import RECENT_METRICS
from cipdash.logging import JsonFormatter, PlainFormatter, RequestClientFilter
from tests.export.data import HttpsClient
from tests.factories import OrganizationFactory
from tests.scrape import samples_parse, value

pytestmark = pytest.mark.django_db
URL = "/metrics"
TOKEN = "mtr-4f1c9a7e2b6d8350"


def networks(*items: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in items]


@pytest.fixture(autouse=True)
def fresh_text() -> Iterator[None]:
    RECENT_METRICS.clear()
    yield
    RECENT_METRICS.clear()


@pytest.fixture
def client() -> Client:
    return HttpsClient()


@pytest.fixture
def token_only(settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def get(client: Client, *, address: str = "192.0.2.10", **headers: str):  # type: ignore[no-untyped-def]
    return client.get(URL, REMOTE_ADDR=address, headers=headers)


def test_the_endpoint_is_off_without_a_token_or_an_address(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert get(client, Authorization="Bearer ").status_code == 404
    assert get(client, address="127.0.0.1").status_code == 404


def test_the_right_token_gets_the_prometheus_text(client, token_only):
    org = OrganizationFactory.create()
    response = get(client, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-cache" in response["Cache-Control"]
    samples = samples_parse(response.content.decode())
    assert value(samples, "cipdash_live_calls", organization=org.pk) == 0


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "],
    ids=["missing", "longer", "shorter", "basic", "no-scheme", "empty"],
)
def test_a_missing_or_wrong_token_is_refused_with_a_bearer_challenge(
    client, token_only, authorization
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = get(client, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"cipdash_" not in response.content


def test_the_scheme_is_case_insensitive(client, token_only):
    assert get(client, Authorization=f"bearer {TOKEN}").status_code == 200


@pytest.mark.parametrize(
    ("allowed", "address", "status"),
    [
        (["192.0.2.10"], "192.0.2.10", 200),
        (["192.0.2.10"], "192.0.2.11", 403),
        (["10.1.0.0/16"], "10.1.200.3", 200),
        (["10.1.0.0/16"], "10.2.0.3", 403),
        (["2001:db8::/32", "192.0.2.10"], "2001:db8::7", 200),
    ],
)
def test_a_listed_address_or_network_is_let_in_without_a_token(
    client, settings, allowed, address, status
):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = networks(*allowed)
    assert get(client, address=address).status_code == status


def test_with_both_set_either_one_lets_in(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = networks("10.0.0.0/8")
    assert get(client, address="10.9.9.9").status_code == 200
    assert get(client, address="192.0.2.1", Authorization=f"Bearer {TOKEN}").status_code == 200
    assert get(client, address="192.0.2.1").status_code == 401


def test_behind_proxies_the_address_is_the_one_the_outermost_trusted_proxy_saw(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = networks("10.1.0.0/16")
    settings.PROXY_COUNT = 1
    proxy = "172.16.0.2"
    # The proxy appends the scraper's address; what the client wrote to the left is not believed.
    allowed = get(client, address=proxy, X_Forwarded_For="10.1.0.5")
    forged = get(client, address=proxy, X_Forwarded_For="10.1.0.5, 203.0.113.9")
    assert (allowed.status_code, forged.status_code) == (200, 403)
    # The proxy itself is not a scraper: without proxies counted, it would be the client.
    settings.METRICS_ALLOWED_IPS = networks(proxy)
    assert get(client, address=proxy, X_Forwarded_For="10.1.0.5").status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_is_allowed(client, token_only, method):
    response = getattr(client, method)(
        URL, REMOTE_ADDR="192.0.2.10", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 405


def test_no_login_is_asked_for_and_no_session_is_set(client, token_only):
    response = get(client, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert not response.cookies


@pytest.mark.parametrize("formatter", [PlainFormatter(), JsonFormatter()], ids=["plain", "json"])
def test_a_refused_request_is_logged_without_its_token(client, token_only, caplog, formatter):
    wrong = "mtr-wrong-5e6f7a8b9c0d"
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert get(client, Authorization=f"Bearer {wrong}").status_code == 401
    records = [record for record in caplog.records if record.name == "django.request"]
    assert records  # Django logs every 4xx answer
    for record in records:
        RequestClientFilter().filter(record)
        line = formatter.format(record)
        assert "/metrics" in line
        assert wrong not in line and TOKEN not in line and "Bearer" not in line
