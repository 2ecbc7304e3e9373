"""Encryption at rest for API token secrets (Fernet, with key rotation).

The first key in TOKEN_ENCRYPTION_KEYS encrypts; every key decrypts, so a new key can be put
in front and old secrets re-encrypted at leisure (`rotate_token_key`).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class SecretUndecryptable(Exception):
    """No configured key opens this secret: the key it was written with was removed."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.TOKEN_ENCRYPTION_KEYS])


@sensitive_variables()
def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


@sensitive_variables()
def secret_decrypt(cipher: str) -> str:
    try:
        return _fernet().decrypt(cipher.encode()).decode()
    except InvalidToken:
        raise _undecryptable() from None


def secret_reencrypt(cipher: str) -> str:
    """The same secret under the current first key (no-op cost if it already is)."""
    try:
        return _fernet().rotate(cipher.encode()).decode()
    except InvalidToken:
        raise _undecryptable() from None


def _undecryptable() -> SecretUndecryptable:
    return SecretUndecryptable(
        "token secret cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS"
    )
