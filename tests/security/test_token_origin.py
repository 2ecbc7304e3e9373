"""A token never leaves for a host it was not entered for.

A staff user moves an organization's base URL, in the admin, to a second loopback origin
(127.0.0.2, listed in INVOCA_ALLOWED_HOSTS for these tests) where a real socket listens.
Through every door that asks Invoca (the scheduled poll, `manage.py poll`, Poll now, Test
connection, the Find lookup, a call's refresh) that socket gets no connection until the
token is entered again for it; the admin and `add_organization` refuse base URLs no token
may go to; and failures to connect read the same whichever port refused or stalled.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from calls import tasks
from calls.invoca import (
    INVOCA_HOSTS,
    CallFilters,
    OriginRefused,
    current_calls_fetch,
    url_origin,
)
from calls.models import (
    ApiToken,
    AuditEvent,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    PollRun,
)
from calls.sandbox.server import SandboxFeed
from calls.services import api_token_add, organization_create
from calls.services.lookups import call_refresh
from calls.services.polling import call_lookup, organization_poll, organization_request
from calls.services.tokens import api_token_check
from tests.admin.test_pages import org_form
from tests.export.data import https_client
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload

pytestmark = pytest.mark.django_db

ELSEWHERE_HOST = "127.0.0.2"
FEED_ORG = "7001"
TOKEN = "origin-bound-token-7001"
CHANGELIST = reverse("admin:calls_organization_changelist")


@dataclass
class Listener:
    """A real socket on a second loopback origin; records what every connection sends and
    answers it as Invoca would with no live calls."""

    port: int
    received: list[bytes] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{ELSEWHERE_HOST}:{self.port}/api/2022-08-01"


@contextlib.contextmanager
def listening() -> Iterator[Listener]:
    server = socket.create_server((ELSEWHERE_HOST, 0))
    server.settimeout(0.1)
    listener = Listener(port=server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                connection.settimeout(2)
                listener.received.append(connection.recv(65536))
                body = b'{"current_calls": []}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.fixture
def elsewhere(settings) -> Iterator[Listener]:
    settings.INVOCA_ALLOWED_HOSTS = [*settings.INVOCA_ALLOWED_HOSTS, ELSEWHERE_HOST]
    with listening() as listener:
        yield listener


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    with SandboxFeed(seed=4, target_live=0) as sandbox:
        sandbox.add_organization(FEED_ORG, TOKEN, target_live=0)
        sandbox.population.add_call(FEED_ORG, call_payload("HERE1"))
        yield sandbox


@pytest.fixture
def organization(feed) -> Organization:
    """Polling the sandbox feed with a token entered for it."""
    return organization_create(
        name="Bound",
        organization_type="Network",
        invoca_id=FEED_ORG,
        token=TOKEN,
        api_base_url=feed.url,
    )


@pytest.fixture
def staff():
    client = https_client()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


def change(client, org: Organization, **fields):
    with override_settings(DEBUG=True):  # the listener speaks plain HTTP
        return client.post(
            reverse("admin:calls_organization_change", args=[org.pk]),
            org_form(org, tokens=list(org.tokens.all()), **fields),
            follow=True,
        )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, action: str, org: Organization) -> list[str]:
    return messages_of(
        client.post(CHANGELIST, {"action": action, "_selected_action": [str(org.pk)]}, follow=True)
    )


def ready(org: Organization) -> Organization:
    """Due and not stopped, so the next door really tries (a refused token stops polling)."""
    OrganizationPollState.objects.filter(pk=org.pk).update(
        status=OrganizationStatus.OK, next_poll_at=None, consecutive_failures=0
    )
    org.refresh_from_db()
    return org


def test_moving_the_base_url_takes_the_token_out_of_every_door(
    staff, organization, feed, elsewhere
):
    assert organization_poll(organization=organization).clean  # the token works where it was
    token = ApiToken.objects.get(organization=organization)
    assert token.origin == url_origin(feed.url) and token.active

    response = change(staff, organization, api_base_url=elsewhere.base_url)
    assert response.status_code == 200
    assert any("Enter the token again" in text for text in messages_of(response))
    organization.refresh_from_db()
    assert organization.api_base_url == elsewhere.base_url
    token.refresh_from_db()
    assert not token.active
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_DEACTIVATED)
    assert event.object_id == str(token.pk) and url_origin(elsewhere.base_url) in event.summary

    missing = f"no active API token for {url_origin(elsewhere.base_url)}"

    assert tasks.organization_poll_task(organization_id=ready(organization).pk) == "auth_failed"

    ready(organization)
    with pytest.raises(CommandError):  # exit status 1: not every poll was clean
        call_command("poll", "--org", str(organization.pk), stdout=StringIO())

    ready(organization)
    assert any(missing in text for text in act(staff, "poll_now", organization))
    assert act(staff, "test_connection", organization) == [f"Bound: {missing}"]

    agent = https_client()
    member = MembershipFactory.create(organization=organization).user
    agent.force_login(member)
    found = agent.post("/calls/find/", {"organization": organization.pk, "transaction_id": "X9"})
    assert found.status_code == 200

    refreshed = call_refresh(call=ready(organization).calls.get(transaction_id="HERE1"))
    assert missing in refreshed.message

    runs = PollRun.objects.filter(organization=organization, error=missing)
    assert runs.count() == 5  # scheduled, command, Poll now, Find, refresh
    assert elsewhere.received == []


def test_a_token_entered_for_another_origin_is_never_sent_even_if_switched_on(
    staff, organization, elsewhere
):
    token = ApiToken.objects.get(organization=organization)
    change(staff, organization, api_base_url=elsewhere.base_url)
    organization.refresh_from_db()
    token.refresh_from_db()

    # Switching it back on in the admin is refused, and says why.
    page = staff.post(
        reverse("admin:calls_apitoken_change", args=[token.pk]),
        {"label": token.label, "active": "on"},
    )
    assert "Enter the token again" in page.content.decode()
    token.refresh_from_db()
    assert not token.active

    # Switched on behind the admin's back: the poll still finds no token for this origin,
    # and the client refuses a request that would carry it there.
    ApiToken.objects.filter(pk=token.pk).update(active=True)
    token.refresh_from_db()
    assert organization_poll(organization=ready(organization)).run.outcome == "auth_failed"
    with pytest.raises(OriginRefused):
        current_calls_fetch(organization_request(organization=organization, token=token))
    assert elsewhere.received == []


def test_a_token_entered_again_for_the_new_origin_goes_there(staff, organization, elsewhere):
    change(staff, organization, api_base_url=elsewhere.base_url)
    organization.refresh_from_db()
    response = change(staff, organization, new_token="re-entered-token-0001")
    assert response.status_code == 200
    assert ApiToken.objects.get(organization=organization, active=True).origin == url_origin(
        elsewhere.base_url
    )
    assert act(staff, "test_connection", organization) == ["Bound: ok: 0 live calls"]
    assert len(elsewhere.received) == 1
    assert b"Authorization: re-entered-token-0001" in elsewhere.received[0]


def test_the_same_origin_keeps_its_token(staff, organization, feed):
    change(staff, organization, api_base_url=feed.url.replace("2022-08-01", "2023-10-09"))
    assert ApiToken.objects.get(organization=organization).active
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_DEACTIVATED).exists()


def test_a_lookup_by_hand_sends_nothing_without_a_bound_token(organization, elsewhere):
    Organization.objects.filter(pk=organization.pk).update(api_base_url=elsewhere.base_url)
    organization.refresh_from_db()  # moved behind every service's back: token still active
    assert ApiToken.objects.get(organization=organization).active
    attempt = organization_poll(organization=organization)
    assert attempt.run.outcome == "auth_failed"
    assert api_token_check(organization=organization).ok is False
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("poll", "--org", str(ready(organization).pk), stdout=out)
    assert "no active API token for" in out.getvalue()
    lookup = call_lookup(organization=ready(organization), filters=CallFilters(transaction_id="X1"))
    assert lookup.run.outcome == "auth_failed"
    assert elsewhere.received == []


# ----- base URLs no token may go to ------------------------------------------------------------

REFUSED_BASE_URLS = [
    "https://user:secret@invoca.net/api/2022-08-01",
    "https://evil.example/api/2022-08-01",
    "https://invoca.net.evil.example/api/2022-08-01",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.8/api/2022-08-01",
    "https://192.168.1.1/api/2022-08-01",
    "https://[::1]/api/2022-08-01",
    "https://127.0.0.2/api/2022-08-01",
    "https://localhost/api/2022-08-01",
]


@pytest.mark.parametrize("url", REFUSED_BASE_URLS)
def test_the_admin_refuses_a_base_url_no_token_may_go_to(staff, url):
    org = OrganizationFactory.create()
    response = staff.post(
        reverse("admin:calls_organization_change", args=[org.pk]), org_form(org, api_base_url=url)
    )
    assert response.status_code == 200
    assert "INVOCA_ALLOWED_HOSTS" in response.content.decode() or "user name" in (
        response.content.decode()
    )
    org.refresh_from_db()
    assert org.api_base_url != url


@pytest.mark.parametrize("url", REFUSED_BASE_URLS)
def test_add_organization_refuses_a_base_url_no_token_may_go_to(url):
    with pytest.raises(CommandError, match="api_base_url"):
        call_command(
            "add_organization",
            "--name",
            "Refused",
            "--type",
            "Network",
            "--invoca-id",
            "8001",
            "--token",
            "never-sent-8001",
            "--base-url",
            url,
            stdout=StringIO(),
        )
    assert not Organization.objects.exists() and not ApiToken.objects.exists()


def test_add_organization_binds_the_token_to_its_base_url():
    out = StringIO()
    call_command(
        "add_organization",
        *("--name", "Acme", "--type", "Network", "--invoca-id", "8002"),
        *("--token", "acme-token-8002", "--base-url", "https://acme.invoca.net/api/2023-10-09"),
        stdout=out,
    )
    token = ApiToken.objects.get()
    assert token.origin == "https://acme.invoca.net:443" and token.active


def test_demo_setup_says_the_sandbox_must_be_listed(settings):
    settings.PRODUCTION = False  # the PostgreSQL run sets DATABASE_URL
    settings.INVOCA_ALLOWED_HOSTS = list(INVOCA_HOSTS)
    with pytest.raises(CommandError, match=r"127\.0\.0\.1:8765 in INVOCA_ALLOWED_HOSTS"):
        call_command("demo_setup", stdout=StringIO())
    assert not Organization.objects.exists() and not ApiToken.objects.exists()


def test_a_token_added_later_is_bound_to_the_base_url_of_that_moment(organization, feed):
    token = api_token_add(organization=organization, secret="rotated-7001")
    assert token.origin == url_origin(feed.url)


# ----- failures to connect do not tell ports apart ---------------------------------------------


@contextlib.contextmanager
def port_that(behaviour: str) -> Iterator[int]:
    """A port on 127.0.0.2 that refuses, never finishes a handshake, never answers, closes
    at once, or resets the connection."""
    if behaviour == "refuses":
        with socket.socket() as probe:
            probe.bind((ELSEWHERE_HOST, 0))
            port = probe.getsockname()[1]
        yield port
        return
    server = socket.socket()
    server.bind((ELSEWHERE_HOST, 0))
    server.listen(0)
    port = server.getsockname()[1]
    stop = threading.Event()
    held: list[socket.socket] = []
    if behaviour == "stalls-handshake":  # fill the backlog: later handshakes never finish
        for _ in range(2):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((ELSEWHERE_HOST, port))
            held.append(filler)

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            if behaviour == "resets":
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if behaviour in ("closes", "resets"):
                connection.close()
            else:
                held.append(connection)

    thread = None
    if behaviour != "stalls-handshake":
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
    try:
        yield port
    finally:
        stop.set()
        if thread is not None:
            thread.join(5)
        for sock in held:
            sock.close()
        server.close()


BEHAVIOURS = ["refuses", "stalls-handshake", "never-answers", "closes", "resets"]


def test_failures_to_connect_read_the_same_whichever_port(settings):
    settings.INVOCA_ALLOWED_HOSTS = [*settings.INVOCA_ALLOWED_HOSTS, ELSEWHERE_HOST]
    settings.POLL_CONNECT_TIMEOUT = settings.POLL_READ_TIMEOUT = 0.5
    settings.POLL_TOTAL_TIMEOUT = 5.0
    messages = {}
    for number, behaviour in enumerate(BEHAVIOURS):
        with port_that(behaviour) as port:
            org = OrganizationFactory.create(
                api_base_url=f"http://{ELSEWHERE_HOST}:{port}/api/2022-08-01"
            )
            api_token_add(organization=org, secret=f"scan-token-{number}")
            check = api_token_check(organization=org)
            attempt = organization_poll(organization=org)
        org.refresh_from_db()
        texts = {check.message, attempt.run.error, org.poll_state.last_error}
        messages[behaviour] = {re.sub(rf":{port}\b", ":PORT", text) for text in texts}
    generic = {f"could not connect to {ELSEWHERE_HOST}:PORT"}
    assert messages == dict.fromkeys(BEHAVIOURS, generic)
