from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.test import override_settings

from calls.crypto import SecretUndecryptable
from calls.models import ApiToken, AuditEvent
from tests.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_rotation_re_encrypts_every_secret_with_the_new_key():
    with override_settings(TOKEN_ENCRYPTION_KEYS=[OLD_KEY]):
        first = ApiTokenFactory.create(secret="first-secret-1111")
        second = ApiTokenFactory.create(secret="second-secret-2222")
    before = dict(ApiToken.objects.values_list("pk", "secret_encrypted"))

    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Old keys still decrypt before the rotation has run.
        assert ApiToken.objects.get(pk=first.pk).reveal_secret() == "first-secret-1111"
        out = io.StringIO()
        call_command("rotate_token_key", stdout=out)
    assert "re-encrypted 2 token secret(s)" in out.getvalue()

    after = dict(ApiToken.objects.values_list("pk", "secret_encrypted"))
    assert all(after[pk] != before[pk] for pk in before)
    new_only = Fernet(NEW_KEY.encode())
    assert new_only.decrypt(after[first.pk].encode()) == b"first-secret-1111"
    assert new_only.decrypt(after[second.pk].encode()) == b"second-secret-2222"
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(after[first.pk].encode())
    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY]):  # the old key can now go
        assert ApiToken.objects.get(pk=second.pk).reveal_secret() == "second-secret-2222"
        assert ApiToken.objects.get(pk=second.pk).last4 == "2222"
    event = AuditEvent.objects.get()
    assert event.details == {"reencrypted": 2, "undecryptable": []}
    assert "secret-" not in str(event.details) + event.summary


def test_a_secret_no_key_opens_is_reported_and_the_others_rotate():
    lost_key = Fernet.generate_key().decode()
    with override_settings(TOKEN_ENCRYPTION_KEYS=[lost_key]):
        lost = ApiTokenFactory.create(secret="lost-secret-3333")
    with override_settings(TOKEN_ENCRYPTION_KEYS=[OLD_KEY]):
        kept = ApiTokenFactory.create(secret="kept-secret-4444")
    lost_cipher = ApiToken.objects.get(pk=lost.pk).secret_encrypted
    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        with pytest.raises(CommandError, match=rf"token ids {lost.pk}\b"):
            call_command("rotate_token_key", stdout=io.StringIO())
        assert ApiToken.objects.get(pk=kept.pk).reveal_secret() == "kept-secret-4444"
        with pytest.raises(SecretUndecryptable):
            ApiToken.objects.get(pk=lost.pk).reveal_secret()
    assert ApiToken.objects.get(pk=lost.pk).secret_encrypted == lost_cipher
    with override_settings(TOKEN_ENCRYPTION_KEYS=[NEW_KEY]):
        assert ApiToken.objects.get(pk=kept.pk).reveal_secret() == "kept-secret-4444"
