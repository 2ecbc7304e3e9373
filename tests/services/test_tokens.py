"""API tokens (calls.services.tokens): a check is one real request that stores nothing, and a
rotation re-encrypts every secret some key opens, batch by batch."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from calls.models import ApiToken, AuditEvent, Call, Organization, PollRun
from calls.sandbox.server import SandboxFeed
from calls.services.tokens import api_token_check, api_tokens_reencrypt
from tests.factories import ApiTokenFactory, OrganizationFactory, call_payload
from tests.invoca.conftest import FEED_ORG
from tests.tasks.conftest import feed, feed_org

pytestmark = pytest.mark.django_db
__all__ = ["feed", "feed_org"]  # fixtures
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_check_counts_the_live_calls_and_stores_nothing(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    feed.add_call(FEED_ORG, call_payload("A"))
    feed.add_call(FEED_ORG, call_payload("B"))
    check = api_token_check(organization=feed_org)
    assert (check.ok, check.message, check.live_calls, check.http_status) == (
        True,
        "ok: 2 live calls",
        2,
        200,
    )
    assert feed.request_count(FEED_ORG) == 1
    assert not Call.objects.exists() and not PollRun.objects.exists()


def test_a_refused_token_is_a_failed_check_with_its_status(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    ApiTokenFactory.create(organization=feed_org, secret="not-the-feeds-token")
    check = api_token_check(organization=feed_org)
    assert (check.ok, check.http_status, check.live_calls) == (False, 401, 0)


def test_without_an_active_token_nothing_is_asked(feed: SandboxFeed) -> None:
    organization = OrganizationFactory.create(invoca_id=FEED_ORG, api_base_url=feed.url)
    check = api_token_check(organization=organization)
    assert check.ok is False and "no active API token" in check.message
    assert feed.request_count(FEED_ORG) == 0


def test_a_rotation_in_small_batches_re_encrypts_every_secret_and_records_it() -> None:
    with override_settings(TOKEN_ENCRYPTION_KEYS=[OLD_KEY]):
        for number in range(3):
            ApiTokenFactory.create(secret=f"secret-{number}")
    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        counts = api_tokens_reencrypt(actor_name="ops", batch_size=2)
    assert (counts.reencrypted, counts.undecryptable) == (3, ())
    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY]):
        secrets = sorted(token.reveal_secret() for token in ApiToken.objects.order_by("pk"))
    assert secrets == ["secret-0", "secret-1", "secret-2"]
    event = AuditEvent.objects.get()
    assert (event.actor_name, event.details) == ("ops", {"reencrypted": 3, "undecryptable": []})
