"""Members of organizations (calls.services.members): a user added with a role, created when
missing, their role changed on a second call, and every refusal leaving nothing behind."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from calls.models import AuditEvent, Membership, Role
from calls.services.members import COMMAND_LINE_ACTOR, MemberRefused, member_add
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # The production hasher's cost is not what these tests measure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_new_user_gets_a_generated_password_shown_once_and_the_audit_says_so() -> None:
    organization = OrganizationFactory.create()
    added = member_add(organization_id=organization.pk, username="dana", role=Role.AGENT)

    user = User.objects.get(username="dana")
    assert added.user_created and added.previous_role is None and added.role_changed
    assert len(added.generated_password) == 16
    assert user.check_password(added.generated_password)
    event = AuditEvent.objects.get(organization=organization)
    assert (event.actor_name, event.action) == (COMMAND_LINE_ACTOR, AuditEvent.Action.CREATED)
    assert added.generated_password not in str(event.details)


def test_an_existing_member_changes_role_and_keeps_their_password() -> None:
    organization = OrganizationFactory.create()
    user = UserFactory.create(username="sam")
    user.set_password("an-old-long-passphrase")
    user.save()
    member_add(organization_id=organization.pk, username="sam", role=Role.AGENT)

    added = member_add(organization_id=organization.pk, username="sam", role=Role.SUPERVISOR)

    user.refresh_from_db()
    assert not added.user_created and added.generated_password == ""
    assert (added.previous_role, added.membership.role) == (Role.AGENT, Role.SUPERVISOR)
    assert user.check_password("an-old-long-passphrase")
    assert Membership.objects.get(user=user).role == Role.SUPERVISOR


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"role": "boss"}, "unknown role 'boss'"),
        ({"username": ""}, "invalid username '': it is empty"),
        ({"username": "no spaces"}, "invalid username 'no spaces'"),
        ({"organization_id": 0}, "no organization with id 0"),
        ({"password": "123"}, "password refused"),
    ],
)
def test_a_refused_member_leaves_no_user_membership_or_event(asked, message) -> None:  # type: ignore[no-untyped-def]
    organization = OrganizationFactory.create()
    request = {"organization_id": organization.pk, "username": "lee", "role": Role.AGENT}
    with pytest.raises(MemberRefused, match=message):
        member_add(**(request | asked))
    assert not User.objects.exists()
    assert not Membership.objects.exists() and not AuditEvent.objects.exists()
