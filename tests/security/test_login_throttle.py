"""Login throttling (django-axes): repeated failures lock the account from that address, on
the login page and the admin alike, with a clear message."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOCKED_MESSAGE = "Too many failed sign-ins"


def sign_in(client, url: str, username: str, password: str, address: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, secure=True
    )


def test_repeated_failures_lock_login_and_admin(client):
    user = UserFactory.create(username="alice", is_staff=True)
    login = reverse("login")
    first = sign_in(client, login, "alice", "wrong")
    assert first.status_code == 200 and LOCKED_MESSAGE not in first.content.decode()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, login, "alice", "wrong")

    locked = sign_in(client, login, "alice", PASSWORD)  # even the right password
    assert locked.status_code in (403, 429)
    assert LOCKED_MESSAGE in locked.content.decode()
    assert "_auth_user_id" not in client.session

    admin = sign_in(client, reverse("admin:login"), "alice", PASSWORD)
    assert admin.status_code in (403, 429)
    assert LOCKED_MESSAGE in admin.content.decode()
    assert "_auth_user_id" not in client.session

    # Someone else at the same address is not locked out by alice's failures.
    UserFactory.create(username="bob")
    assert sign_in(client, login, "bob", PASSWORD).status_code == 302

    # Once an administrator clears the lock (or the cool-off passes), alice signs in.
    client.logout()
    call_command("axes_reset", verbosity=0)
    assert sign_in(client, login, "alice", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
