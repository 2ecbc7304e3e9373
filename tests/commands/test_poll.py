from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import OrganizationPollState, OrganizationStatus, PollRun
from calls.sandbox.server import SandboxFeed
from calls.services.poll_lock import organization_poll_lock
from tests.factories import ApiTokenFactory, OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed():
    with SandboxFeed(seed=9, target_live=0) as sandbox:
        for invoca_id in ("2001", "2002"):
            sandbox.add_organization(invoca_id, f"tok-{invoca_id}", target_live=0)
        yield sandbox


@pytest.fixture
def orgs(feed):
    made = []
    for invoca_id in ("2001", "2002"):
        org = OrganizationFactory.create(
            invoca_id=invoca_id, api_base_url=feed.url, name=f"O{invoca_id}"
        )
        ApiTokenFactory.create(organization=org, secret=f"tok-{invoca_id}")
        made.append(org)
    return made


def poll(*args: str) -> list[str]:
    out = StringIO()
    call_command("poll", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_polls_every_enabled_organization_once(feed, orgs):
    feed.add_call("2001", call_payload("A1"))
    feed.add_call("2001", call_payload("A2"))
    OrganizationFactory.create(enabled=False, name="off")
    lines = poll()
    assert len(lines) == 2
    assert lines[0].startswith(f"org {orgs[0].pk} O2001: clean http=200 seen=2 new=2")
    assert lines[1].startswith(f"org {orgs[1].pk} O2002: clean http=200 seen=0 new=0")
    assert feed.request_count("2001") == feed.request_count("2002") == 1
    assert set(PollRun.objects.values_list("kind", flat=True)) == {"manual"}


def test_one_organization_and_a_failure_exits_nonzero(feed, orgs):
    feed.set_fault("503", invoca_id="2002")
    assert poll("--org", str(orgs[0].pk))[0].split(": ")[1].startswith("clean")
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("poll", stdout=out)
    assert caught.value.returncode == 1
    lines = out.getvalue().strip().splitlines()
    assert "O2002: unavailable http=503" in lines[1]


def test_unknown_organization():
    with pytest.raises(CommandError, match="no organization with id 999"):
        poll("--org", "999")


def test_ignores_schedule_back_off_and_auth_failed_and_applies_the_result(feed, orgs):
    org = orgs[0]
    later = timezone.now() + timedelta(hours=1)
    OrganizationPollState.objects.filter(pk=org.pk).update(
        status=OrganizationStatus.AUTH_FAILED, next_poll_at=later, consecutive_failures=4
    )
    feed.add_call("2001", call_payload("A1"))
    lines = poll("--org", str(org.pk))
    assert "clean" in lines[0]
    org.refresh_from_db()
    assert (
        org.poll_state.status == OrganizationStatus.OK and org.poll_state.consecutive_failures == 0
    )
    assert org.poll_state.next_poll_at < later  # scheduled polling resumes
    assert org.calls.get().transaction_id == "A1"


def test_a_refused_token_is_recorded_as_a_scheduled_poll_would(feed, orgs):
    feed.set_fault("401", invoca_id="2001")
    with pytest.raises(CommandError):
        poll("--org", str(orgs[0].pk))
    orgs[0].refresh_from_db()
    assert orgs[0].poll_state.status == OrganizationStatus.AUTH_FAILED


def test_waits_for_a_poll_in_flight_instead_of_overlapping(feed, orgs, settings):
    settings.POLL_TOTAL_TIMEOUT = 0.3
    with organization_poll_lock(organization_id=orgs[0].pk):
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("poll", "--org", str(orgs[0].pk), stdout=out)
    assert "locked" in out.getvalue()
    assert feed.request_count("2001") == 0
