"""Organizations and their tokens (calls.services.organizations): one active token at a time,
bound to the origin it was entered for; a new token resumes a refused feed; switching polling
off and on moves the poll state with it."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from calls.models import ApiToken, Organization, OrganizationPollState, OrganizationStatus
from calls.services.organizations import (
    api_base_url_check,
    api_token_activate,
    api_token_add,
    organization_set_enabled,
)
from tests.factories import ApiTokenFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def poll_state(organization: Organization) -> OrganizationPollState:
    return OrganizationPollState.objects.get(pk=organization.pk)


def refused(organization: Organization) -> None:
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        status=OrganizationStatus.AUTH_FAILED, next_poll_at=None, consecutive_failures=4
    )


def test_a_new_token_replaces_the_active_one_and_resumes_a_refused_feed() -> None:
    organization = OrganizationFactory.create()
    first = api_token_add(organization=organization, secret="first-token-1111")
    refused(organization)
    version = poll_state(organization).feed_version

    second = api_token_add(organization=organization, secret="  second-token-2222 \n")

    assert list(organization.tokens.filter(active=True)) == [second]
    assert second.reveal_secret() == "second-token-2222"
    assert not ApiToken.objects.get(pk=first.pk).active
    state = poll_state(organization)
    assert (state.status, state.consecutive_failures) == (OrganizationStatus.OK, 0)
    assert state.next_poll_at is not None and state.feed_version == version + 1


def test_an_empty_token_is_refused() -> None:
    organization = OrganizationFactory.create()
    with pytest.raises(ValueError, match="the token is empty"):
        api_token_add(organization=organization, secret="  ")
    assert not organization.tokens.exists()


def test_an_older_token_entered_for_this_origin_can_be_made_active_again() -> None:
    organization = OrganizationFactory.create()
    older = api_token_add(organization=organization, secret="older-token-1111")
    api_token_add(organization=organization, secret="newer-token-2222")
    api_token_activate(token=older)
    assert list(organization.tokens.filter(active=True)) == [older]


def test_a_token_entered_for_another_origin_cannot_be_made_active() -> None:
    organization = OrganizationFactory.create()
    token = ApiTokenFactory.create(
        organization=organization, origin="https://elsewhere.invoca.net:443", active=False
    )
    with pytest.raises(
        ValidationError, match=re.escape("entered for https://elsewhere.invoca.net:443")
    ):
        api_token_activate(token=token)
    assert not ApiToken.objects.get(pk=token.pk).active


def test_a_base_url_no_token_may_go_to_is_a_validation_error() -> None:
    api_base_url_check(url="https://invoca.net/api/2022-08-01")
    with pytest.raises(ValidationError):
        api_base_url_check(url="https://user:pass@invoca.net/api/2022-08-01")
    with pytest.raises(ValidationError):
        api_base_url_check(url="https://example.com/api/2022-08-01")


def test_switching_polling_off_and_on_moves_the_poll_state() -> None:
    organization = OrganizationFactory.create()
    organization_set_enabled(organization=organization, enabled=False)
    state = poll_state(organization)
    assert not organization.enabled
    assert (state.status, state.next_poll_at) == (OrganizationStatus.DISABLED, None)

    organization_set_enabled(organization=organization, enabled=True)
    state = poll_state(organization)
    assert organization.enabled
    assert state.status == OrganizationStatus.OK and state.next_poll_at is not None
