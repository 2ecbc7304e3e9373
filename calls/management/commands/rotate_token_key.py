from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calls.services.tokens import api_tokens_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every API token secret with the first key of TOKEN_ENCRYPTION_KEYS. "
        "To rotate: put the new key first and keep the old one after it, run this command, "
        "then remove the old key. Exit status 1 if a secret could not be decrypted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = api_tokens_reencrypt(actor_name="cli:rotate_token_key")
        self.stdout.write(f"re-encrypted {counts.reencrypted} token secret(s)")
        if counts.undecryptable:
            ids = ", ".join(str(pk) for pk in counts.undecryptable)
            raise CommandError(
                f"{len(counts.undecryptable)} secret(s) open with no configured key "
                f"(token ids {ids}): add the key they were written with, or replace the tokens"
            )
