"""Where a token may go: origins, the allowed hosts, and the addresses a connection reaches."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import responses

from calls.invoca import (
    INVOCA_HOSTS,
    OriginRefused,
    base_url_check,
    current_calls_fetch,
    url_origin,
)
from calls.invoca.origins import addresses_vetted, destinations_limited, host_rules
from tests.invoca.conftest import FEED_ORG, FEED_TOKEN, make_request

MIGRATION = importlib.import_module("calls.migrations.0009_token_origin_end_reason_answer_start")

ORIGINS = [
    ("https://invoca.net/api/2022-08-01", "https://invoca.net:443"),
    ("HTTPS://Acme.Invoca.NET/api/2023-10-09/", "https://acme.invoca.net:443"),
    ("http://127.0.0.1:8765/api/2022-08-01", "http://127.0.0.1:8765"),
    ("http://127.0.0.1/api", "http://127.0.0.1:80"),
    ("https://invoca.net:8443/api", "https://invoca.net:8443"),
    ("https://[::1]:8443/api", "https://[::1]:8443"),
    ("https://[2001:DB8::1]/api", "https://[2001:db8::1]:443"),
    ("  https://invoca.net/api  ", "https://invoca.net:443"),
    ("https://user:pw@invoca.net/api", "https://invoca.net:443"),
]


@pytest.mark.parametrize(("url", "origin"), ORIGINS)
def test_origin_of_a_url_as_the_migration_bound_existing_tokens(url, origin):
    assert url_origin(url) == origin
    assert MIGRATION._origin(url) == origin


def test_invalid_port_has_an_origin_no_request_goes_to():
    assert url_origin("https://invoca.net:99999/api") == "https://invoca.net:0"
    with pytest.raises(OriginRefused, match="invalid port"):
        base_url_check("https://invoca.net:99999/api", allowed_hosts=INVOCA_HOSTS)


ALLOWED = (*INVOCA_HOSTS, "127.0.0.1:8765", "sandbox.internal", "[::1]", "*.0.1")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://invoca.net/api/2022-08-01", "https://invoca.net:443"),
        ("https://acme.invoca.net/api/2022-08-01", "https://acme.invoca.net:443"),
        ("https://a.b.invoca.net:8443/api", "https://a.b.invoca.net:8443"),
        ("http://127.0.0.1:8765/api", "http://127.0.0.1:8765"),
        ("https://sandbox.internal/api", "https://sandbox.internal:443"),
        ("https://[::1]:9000/api", "https://[::1]:9000"),
        ("https://8.8.0.1/api", "https://8.8.0.1:443"),  # public, matched by a wildcard
    ],
)
def test_allowed_base_urls(url, origin):
    assert base_url_check(url, allowed_hosts=ALLOWED).origin == origin


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pw@invoca.net/api", "user name or password"),
        ("https://user@invoca.net/api", "user name or password"),
        ("https://evil.example/api", "not one of the hosts"),
        ("https://invoca.net.evil.example/api", "not one of the hosts"),
        ("https://evilinvoca.net/api", "not one of the hosts"),
        ("https://169.254.169.254/latest/meta-data", "not one of the hosts"),
        ("https://10.0.0.1/api", "not a public address"),  # matched by "*.0.1" only
        ("https://127.0.0.1/api", "not a public address"),  # exactly: for port 8765 only
        ("http://127.0.0.1:8766/api", "not a public address"),
        ("https://[::2]/api", "not one of the hosts"),
        ("ftp://invoca.net/api", "https://"),
        ("https:///api", "no host"),
        ("https://evil.example\\.invoca.net/api", "not a valid host name"),
        ("https://%69nvoca.net/api", "not a valid host name"),
    ],
)
def test_refused_base_urls(url, reason):
    with pytest.raises(OriginRefused, match=reason):
        base_url_check(url, allowed_hosts=ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/api",
        "https://192.168.0.1/api",
        "https://100.64.0.1/api",
        "https://[::1]/api",
        "https://[fe80::1]/api",
        "https://[::ffff:10.0.0.1]/api",
        "https://0.0.0.0/api",
    ],
)
def test_a_non_public_address_needs_an_entry_naming_it_exactly(url):
    host = urlsplit(url).netloc
    wildcard = "*." + host.split(".", 1)[-1] if "[" not in host else "*.invalid"
    with pytest.raises(OriginRefused):
        base_url_check(url, allowed_hosts=(*INVOCA_HOSTS, wildcard))
    assert base_url_check(url, allowed_hosts=(*INVOCA_HOSTS, host)).host == host


@pytest.mark.parametrize("entry", ["https://invoca.net", "*", "invoca.net:http", "a b", "[::1"])
def test_a_malformed_allowed_host_entry_is_named(entry):
    with pytest.raises(OriginRefused, match="INVOCA_ALLOWED_HOSTS entry"):
        host_rules([entry])


def test_the_settings_default_is_invocas_own_hosts(tmp_path):
    probe = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.INVOCA_ALLOWED_HOSTS))"
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "cipdash.settings",
        "CIPDASH_DATA_DIR": str(tmp_path),
    }
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert tuple(json.loads(ran.stdout)) == INVOCA_HOSTS


def test_addresses_of_a_name_are_vetted_each():
    with destinations_limited(INVOCA_HOSTS):
        assert addresses_vetted("invoca.net", 443, ["8.8.8.8", "8.8.8.8", "1.1.1.1"]) == [
            "8.8.8.8",
            "1.1.1.1",
        ]
        for internal in ("10.0.0.7", "127.0.0.1", "169.254.169.254", "::1", "fe80::1%eth0"):
            with pytest.raises(OriginRefused, match="non-public address"):
                addresses_vetted("feed.invoca.net", 443, ["8.8.8.8", internal])
    with destinations_limited((*INVOCA_HOSTS, "feed.invoca.net")):
        assert addresses_vetted("feed.invoca.net", 443, ["10.0.0.7"]) == ["10.0.0.7"]


# ----- the client: no request, no connection, where the token may not go ----------------------


@responses.activate
@pytest.mark.parametrize(
    ("base_url", "token_origin"),
    [
        ("https://evil.example/api/2022-08-01", "https://evil.example:443"),
        ("https://invoca.net/api/2022-08-01", "https://acme.invoca.net:443"),
        ("https://invoca.net:8443/api/2022-08-01", "https://invoca.net:443"),
        ("http://invoca.net/api/2022-08-01", "https://invoca.net:443"),
        ("https://invoca.net/api/2022-08-01", ""),
    ],
)
def test_a_token_goes_only_to_the_origin_it_was_entered_for(base_url, token_origin):
    responses.get(f"{base_url}/calls_in_progress/current_calls.json", json={"current_calls": []})
    with pytest.raises(OriginRefused):
        current_calls_fetch(make_request(base_url=base_url, token_origin=token_origin))
    assert len(responses.calls) == 0


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback port that records what each connection sends, and answers nothing."""
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    received.append(connection.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _resolving(monkeypatch, name: str, address: str) -> None:
    """`name` resolves to `address`, as a DNS answer an attacker controls could."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real(address if host == name else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_resolving_to_loopback_is_not_connected_to(monkeypatch, listener):
    port, received = listener
    _resolving(monkeypatch, "feed.invoca.net", "127.0.0.1")
    request = make_request(
        base_url=f"http://feed.invoca.net:{port}/api/2022-08-01", allowed_hosts=INVOCA_HOSTS
    )
    with pytest.raises(OriginRefused, match="non-public address"):
        current_calls_fetch(request)
    assert received == []


def test_a_name_listed_exactly_may_resolve_to_loopback(monkeypatch, feed):
    port = urlsplit(feed.url).port
    _resolving(monkeypatch, "feed.invoca.net", "127.0.0.1")
    request = make_request(
        base_url=f"http://feed.invoca.net:{port}/api/2022-08-01",
        token=FEED_TOKEN,
        allowed_hosts=(*INVOCA_HOSTS, "feed.invoca.net"),
    )
    assert current_calls_fetch(request).clean
    assert feed.request_count(FEED_ORG) == 1
