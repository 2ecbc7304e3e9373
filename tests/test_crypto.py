from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from calls.crypto import SecretUndecryptable, secret_decrypt, secret_encrypt, secret_reencrypt


def test_round_trip_and_no_plain_text(settings):
    cipher = secret_encrypt("tok-abcdef123456")
    assert "tok-abcdef123456" not in cipher
    assert secret_decrypt(cipher) == "tok-abcdef123456"


def test_key_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    cipher = secret_encrypt("tok-rotate-me")
    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    assert secret_decrypt(cipher) == "tok-rotate-me"  # old secrets still open
    rotated = secret_reencrypt(cipher)
    settings.TOKEN_ENCRYPTION_KEYS = [new]
    assert secret_decrypt(rotated) == "tok-rotate-me"
    with pytest.raises(SecretUndecryptable) as caught:
        secret_decrypt(cipher)
    assert "tok-rotate-me" not in str(caught.value)
