"""The client's address: REMOTE_ADDR without proxies; with PROXY_COUNT trusted proxies, the
X-Forwarded-For entry the outermost one wrote, never an entry the client wrote itself."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from cipdash.proxy import client_address

PROXY = "10.0.0.5"


def address(forwarded: str | None, proxy_count: int, settings) -> str | None:  # type: ignore[no-untyped-def]
    settings.PROXY_COUNT = proxy_count
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(request)


def test_without_proxies_the_header_is_ignored(settings):
    assert address("198.51.100.1", 0, settings) == PROXY
    assert address(None, 0, settings) == PROXY


@pytest.mark.parametrize(
    ("forwarded", "proxy_count", "expected"),
    [
        ("198.51.100.1", 1, "198.51.100.1"),
        # Entries left of the trusted ones came from the client and are not believed.
        ("203.0.113.66, 198.51.100.1", 1, "198.51.100.1"),
        ("203.0.113.66,198.51.100.1, 10.0.0.9", 2, "198.51.100.1"),
        ("198.51.100.1, 10.0.0.9", 2, "198.51.100.1"),
        # One spelling per address, so a lockout cannot be dodged by writing it differently.
        ("2001:DB8:0:0::1", 1, "2001:db8::1"),
    ],
)
def test_the_entry_the_outermost_trusted_proxy_wrote(forwarded, proxy_count, expected, settings):
    assert address(forwarded, proxy_count, settings) == expected


@pytest.mark.parametrize(
    ("forwarded", "proxy_count"),
    [
        (None, 1),  # no header at all
        ("", 1),
        (" , ", 1),
        ("198.51.100.1", 2),  # did not pass through every trusted proxy
        ("not-an-address", 1),
        ("198.51.100.1:4711", 1),
        ("198.51.100.1, unknown", 1),
    ],
)
def test_a_header_the_proxies_did_not_write_falls_back_to_the_connection(
    forwarded, proxy_count, settings
):
    assert address(forwarded, proxy_count, settings) == PROXY
