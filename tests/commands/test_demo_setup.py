from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from calls import services
from calls.management.commands.demo_setup import (
    DEMO_FEED_URL,
    DEMO_LOGINS,
    DEMO_ORGANIZATIONS,
    demo_install,
)
from calls.management.commands.sandbox_feed import parse_org_spec
from calls.models import (
    ApiToken,
    HighlightRule,
    Membership,
    Organization,
    OrganizationPollState,
    Role,
)
from calls.sandbox import SandboxFeed

pytestmark = pytest.mark.django_db

DEMO_NETWORK, DEMO_SLIM = DEMO_ORGANIZATIONS


@pytest.fixture(autouse=True)
def _not_production(settings):
    # The PostgreSQL run sets DATABASE_URL, which makes settings call it production.
    settings.PRODUCTION = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed


def run_demo_setup(*args: str) -> str:
    out = StringIO()
    call_command("demo_setup", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str, username: str) -> str:
    line = next(line for line in output.splitlines() if f" {username} / " in line)
    return line.split(f" {username} / ")[1].split()[0]


def log_in(username: str, password: str):
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="127.0.0.1")
    return authenticate(request, username=username, password=password)


def test_creates_demo_organizations_polling_the_sandbox_feed():
    run_demo_setup()

    network = Organization.objects.get(invoca_id=DEMO_NETWORK.invoca_id)
    assert network.api_base_url == DEMO_FEED_URL == "http://127.0.0.1:8765/api/2022-08-01"
    assert network.organization_type == "Network"
    assert network.enabled
    assert network.poll_interval_seconds == 2.0
    assert network.pinned_fields == ["utm_source", "lead_type"]
    assert (
        network.poll_state.next_poll_at is not None
        and network.poll_state.next_poll_at <= timezone.now()
    )
    rule = HighlightRule.objects.get(organization=network)
    assert (rule.scope, rule.field, rule.operator, rule.value, rule.label) == (
        "custom",
        "lead_type",
        "equals",
        "hot",
        "HOT LEAD",
    )

    slim = Organization.objects.get(invoca_id=DEMO_SLIM.invoca_id)
    assert (slim.organization_type, slim.api_base_url) == ("Advertiser", DEMO_FEED_URL)
    assert slim.pinned_fields == []
    assert not slim.highlight_rules.exists()


def test_tokens_are_stored_encrypted():
    run_demo_setup()

    for demo in DEMO_ORGANIZATIONS:
        token = ApiToken.objects.get(organization__invoca_id=demo.invoca_id, active=True)
        assert demo.token not in token.secret_encrypted
        assert token.last4 == demo.token[-4:]
        assert token.reveal_secret() == demo.token


def test_printed_logins_work_and_agent_sees_only_the_demo_network():
    output = run_demo_setup()

    admin_password = printed_password(output, "demo-admin")
    agent_password = printed_password(output, "demo-agent")
    admin = log_in("demo-admin", admin_password)
    agent = log_in("demo-agent", agent_password)
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert agent is not None and not agent.is_staff and not agent.is_superuser
    assert not Membership.objects.filter(user=admin).exists()
    membership = Membership.objects.get(user=agent)
    assert membership.organization.invoca_id == DEMO_NETWORK.invoca_id
    assert membership.role == Role.AGENT
    assert "http://127.0.0.1:8000/" in output
    assert admin_password != agent_password
    assert all(len(p) == 16 and p.isalnum() for p in (admin_password, agent_password))


def test_output_never_shows_a_token():
    output = run_demo_setup()
    for demo in DEMO_ORGANIZATIONS:
        assert demo.token not in output


def row_counts() -> list[int]:
    models = (Organization, ApiToken, HighlightRule, Membership, get_user_model())
    return [model.objects.count() for model in models]


def test_running_twice_changes_nothing_and_prints_the_same_passwords():
    first = run_demo_setup()
    assert row_counts() == [2, 2, 1, 1, 2]
    second = run_demo_setup()

    assert row_counts() == [2, 2, 1, 1, 2]
    for login in DEMO_LOGINS:
        assert printed_password(first, login.username) == printed_password(second, login.username)


def test_rerun_repairs_a_demo_that_was_changed():
    output = run_demo_setup()
    network = Organization.objects.get(invoca_id=DEMO_NETWORK.invoca_id)
    services.organization_set_enabled(organization=network, enabled=False)
    services.api_token_add(organization=network, secret="someone-elses-token")
    far_away = timezone.now() + timedelta(hours=1)
    OrganizationPollState.objects.filter(pk=network.pk).update(
        next_poll_at=far_away, consecutive_failures=7
    )
    Organization.objects.filter(pk=network.pk).update(pinned_fields=[])
    agent = get_user_model().objects.get(username="demo-agent")
    agent.set_password("changed-in-the-admin")
    agent.save()

    run_demo_setup()

    network.refresh_from_db()
    assert network.enabled
    assert (
        network.poll_state.next_poll_at is not None and network.poll_state.next_poll_at < far_away
    )
    assert network.poll_state.consecutive_failures == 0
    assert network.pinned_fields == ["utm_source", "lead_type"]
    assert network.tokens.get(active=True).reveal_secret() == DEMO_NETWORK.token
    assert log_in("demo-agent", printed_password(output, "demo-agent")) is not None


def test_rerun_lifts_a_login_lock_out(settings):
    output = run_demo_setup()
    password = printed_password(output, "demo-agent")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert log_in("demo-agent", "mistyped") is None
    assert log_in("demo-agent", password) is None  # locked out, even with the right password

    run_demo_setup()

    assert log_in("demo-agent", password) is not None


def test_refuses_a_production_deployment_unless_asked(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run_demo_setup()
    assert not Organization.objects.exists()
    assert not get_user_model().objects.filter(username="demo-admin").exists()

    run_demo_setup("--allow-production")
    assert Organization.objects.count() == 2


def test_demo_organizations_poll_cleanly_from_a_feed_serving_their_specs():
    """The specs the Procfile hands to sandbox_feed and the tokens the demo stores agree."""
    with SandboxFeed(seed=3, target_live=4) as feed:
        for demo in DEMO_ORGANIZATIONS:
            spec = parse_org_spec(demo.feed_spec)
            feed.add_organization(spec.invoca_id, spec.token, spec.organization_type, spec.slim)
        passwords = {login.username: "pw-" + login.username for login in DEMO_LOGINS}
        organizations = demo_install(passwords=passwords, now=timezone.now(), feed_url=feed.url)

        for organization in organizations:
            attempt = services.organization_poll(organization=organization)
            assert attempt.clean, attempt.run.error
            assert attempt.run.calls_new == 4
    slim_calls = Organization.objects.get(invoca_id=DEMO_SLIM.invoca_id).calls.all()
    assert slim_calls.count() == 4
    assert all(call.custom_data == {} for call in slim_calls)
