"""`manage.py add_member`: provisioning members by script."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from calls.models import AuditEvent, Membership, Role
from calls.services.members import COMMAND_LINE_ACTOR
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload
from tests.faults.processes import ROOT, shared_database_environment
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db
PASSWORD = "Corridor-Lantern-42"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("add_member", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_new_user_gets_a_generated_password_shown_once():
    org = OrganizationFactory.create(name="Harbor Network")
    lines = run("--org", str(org.pk), "--username", "agent.ada", "--role", "agent")
    user = User.objects.get(username="agent.ada")
    assert Membership.objects.get(user=user, organization=org).role == Role.AGENT
    shown = [line for line in lines if line.startswith("password (shown only now): ")]
    assert len(shown) == 1
    password = shown[0].rsplit(" ", 1)[1]
    assert len(password) >= 16 and user.check_password(password)
    assert lines[:2] == [
        "created user agent.ada",
        f"agent.ada is now agent in Harbor Network (organization {org.pk})",
    ]
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name, event.action) == (None, COMMAND_LINE_ACTOR, "created")
    assert event.organization == org and event.details["user_created"] is True
    assert password not in f"{event.summary} {event.details}"


def test_an_existing_user_keeps_their_password_and_gets_the_new_role():
    org = OrganizationFactory.create()
    user = UserFactory.create(username="sam")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory.create(user=user, organization=org, role=Role.AGENT)
    lines = run("--org", str(org.pk), "--username", "sam", "--role", "restricted")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not any("password" in line for line in lines)
    assert lines == [f"sam changed from agent to restricted in {org.name} (organization {org.pk})"]
    assert Membership.objects.get(user=user).role == Role.RESTRICTED
    event = AuditEvent.objects.get()
    assert event.action == "changed" and event.details["previous_role"] == "agent"
    assert event.details["password_set"] is False

    assert run("--org", str(org.pk), "--username", "sam", "--role", "restricted") == [
        f"sam is already restricted in {org.name} (organization {org.pk})"
    ]


def test_the_password_from_the_environment(monkeypatch):
    org = OrganizationFactory.create()
    existing = UserFactory.create(username="lee")
    monkeypatch.setenv("NEW_AGENT_PASSWORD", PASSWORD)
    for username in ("kim", "lee"):  # a new user, and an existing one whose password changes
        lines = run(
            "--org", str(org.pk), "--username", username, "--role", "supervisor",
            "--password-env", "NEW_AGENT_PASSWORD",
        )  # fmt: skip
        assert "password set from $NEW_AGENT_PASSWORD" in lines
        assert not any(PASSWORD in line for line in lines)
        assert User.objects.get(username=username).check_password(PASSWORD)
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert set(Membership.objects.values_list("user__username", "role")) == {
        ("kim", "supervisor"),
        ("lee", "supervisor"),
    }
    assert all(PASSWORD not in str(event.details) for event in AuditEvent.objects.all())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--org", "987654", "--username", "x", "--role", "agent"], {}, "no organization with id"),
        (["--username", "x", "--role", "boss"], {}, "unknown role 'boss'"),
        (["--username", "x", "--role", "Agent"], {}, "unknown role 'Agent'"),
        (["--username", "bad name", "--role", "agent"], {}, "invalid username 'bad name'"),
        (["--username", "", "--role", "agent"], {}, "invalid username ''"),
        (["--username", "x" * 151, "--role", "agent"], {}, "invalid username"),
        (["--username", "x", "--role", "agent", "--password-env", "UNSET_VAR"], {}, "unset"),
        (
            ["--username", "x", "--role", "agent", "--password-env", "EMPTY_VAR"],
            {"EMPTY_VAR": ""},
            "EMPTY_VAR, which is unset or empty",
        ),
        (
            ["--username", "x", "--role", "agent", "--password-env", "WEAK"],
            {"WEAK": "12345678"},
            "password refused",
        ),
    ],
)
def test_refusals_change_nothing(monkeypatch, args, env, message):
    org = OrganizationFactory.create()
    monkeypatch.delenv("UNSET_VAR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "--org" not in args:
        args = ["--org", str(org.pk), *args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not User.objects.exists() and not Membership.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_restricted_member_added_by_script_searches_by_the_last_four_digits(client: Client):
    """The product as a contact center uses it: provision a restricted agent, sign in with
    the printed password, search the live list for a full number."""
    org = OrganizationFactory.create()
    ingest(
        org,
        [
            call_payload("SAME4-A", calling_phone_number="+13105550147"),
            call_payload("SAME4-B", calling_phone_number="+12125550147"),
            call_payload("OTHER", calling_phone_number="+13105550199"),
        ],
    )
    lines = run("--org", str(org.pk), "--username", "masked.mo", "--role", "restricted")
    password = lines[-1].rsplit(" ", 1)[1]
    signed_in = client.post(
        reverse("login"), {"username": "masked.mo", "password": password}, secure=True
    )
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session

    def found(query: str) -> list[str]:
        rows = client.get("/", {"q": query}, secure=True).context["rows"]
        assert all(row.caller.masked for row in rows)
        return sorted(row.call.transaction_id for row in rows)

    both = ["SAME4-A", "SAME4-B"]
    assert found("+1 310 555 0147") == both  # the full number confirms nothing
    assert found("(212) 555-0147") == both
    assert found("0147") == both
    assert found("+1 999 999 0199") == ["OTHER"]


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_an_error_is_one_line_and_a_non_zero_exit():
    org = OrganizationFactory.create()

    def shell(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "add_member", *args],
            env=shared_database_environment(**env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    refused = shell("--org", "987654", "--username", "x", "--role", "agent")
    assert refused.returncode != 0
    assert (
        refused.stderr.strip() == "CommandError: member not added: no organization with id 987654"
    )
    assert not User.objects.exists()

    done = shell(
        "--org", str(org.pk), "--username", "script.sue", "--role", "agent",
        "--password-env", "SUE_PASSWORD", SUE_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert Membership.objects.get(user__username="script.sue", organization=org).role == "agent"
