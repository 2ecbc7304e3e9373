"""Login lockouts behind reverse proxies: with PROXY_COUNT set, failures lock the user name at
the client's address (as the trusted proxies report it), so an attacker elsewhere cannot lock
the user out; without it, X-Forwarded-For is ignored, so forging it does not escape a lockout.
The log lines about requests name the same address the lockout used (django-axes masks it in
its own lines)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from cipdash.logging import JsonFormatter, RequestClientFilter
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
PROXY = "10.0.0.5"  # every request reaches the app from the reverse proxy
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.23"


def sign_in(client, username: str, password: str, forwarded: str, url: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
        secure=True,
    )


def fail_until_locked(client, username: str, forwarded: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(client, username, "wrong", forwarded)


def is_locked_out(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code in (403, 429) and "Too many failed sign-ins" in (
        response.content.decode()
    )


def test_behind_a_proxy_failures_elsewhere_do_not_lock_the_user_out(client, settings):
    settings.PROXY_COUNT = 1
    UserFactory.create(username="alice", is_staff=True, password=PASSWORD)
    fail_until_locked(client, "alice", ATTACKER)

    assert is_locked_out(sign_in(client, "alice", PASSWORD, ATTACKER))
    # Putting a made-up address in front does not move the attacker elsewhere.
    assert is_locked_out(sign_in(client, "alice", PASSWORD, f"{VICTIM}, {ATTACKER}"))
    assert is_locked_out(sign_in(client, "alice", PASSWORD, ATTACKER, reverse("admin:login")))

    signed_in = sign_in(client, "alice", PASSWORD, VICTIM)
    assert signed_in.status_code == 302
    assert "_auth_user_id" in client.session


def test_without_proxies_a_forged_header_does_not_escape_a_lockout(client, settings):
    settings.PROXY_COUNT = 0
    UserFactory.create(username="alice", password=PASSWORD)
    fail_until_locked(client, "alice", ATTACKER)

    assert is_locked_out(sign_in(client, "alice", PASSWORD, VICTIM))
    assert "_auth_user_id" not in client.session


@pytest.fixture
def request_log() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What django.request writes through the console handler's own filter, formatted plain
    and as JSON."""
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(found, RequestClientFilter) for found in handler.filters)
    )
    plain, as_json = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(plain), logging.StreamHandler(as_json)]
    handlers[0].setFormatter(console.formatter)
    handlers[1].setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    for handler in handlers:
        handler.filters = list(console.filters)
        logger.addHandler(handler)
    try:
        yield plain, as_json
    finally:
        for handler in handlers:
            logger.removeHandler(handler)


@pytest.mark.parametrize(("proxy_count", "logged"), [(1, ATTACKER), (0, PROXY)])
def test_the_lockout_log_line_names_the_client(client, settings, request_log, proxy_count, logged):
    settings.PROXY_COUNT = proxy_count
    forwarded = f"{VICTIM}, {ATTACKER}"  # the left entry is the attacker's own invention
    fail_until_locked(client, "alice", forwarded)
    assert is_locked_out(sign_in(client, "alice", PASSWORD, forwarded))

    plain, as_json = (stream.getvalue().strip().splitlines() for stream in request_log)
    locked = [line for line in plain if "Too Many Requests: /login/" in line]
    assert locked and all(line.endswith(f" client={logged}") for line in locked), plain
    assert not any(VICTIM in line for line in plain)
    assert {json.loads(line)["client_address"] for line in as_json} == {logged}
