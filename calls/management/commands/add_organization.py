from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import services
from calls.models import OrganizationType


class Command(BaseCommand):
    help = (
        "Create an organization and its API token. Prints the new organization's id alone "
        "on the last line. The token is read from --token, or from --token-file / stdin "
        "('-') so it stays out of shell history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", required=True, choices=OrganizationType.values)
        parser.add_argument("--invoca-id", required=True, help="Invoca's numeric id")
        parser.add_argument("--token", help="API token (or use --token-file)")
        parser.add_argument("--token-file", help="read the token from this file ('-': stdin)")
        parser.add_argument(
            "--base-url",
            help="API base URL (default https://invoca.net/api/2022-08-01); its host must be "
            "one of INVOCA_ALLOWED_HOSTS, and the token is sent to its origin only",
        )
        parser.add_argument(
            "--poll-interval", type=_seconds, help="seconds between polls (default 5)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token = self._token(options)
        base_url = options["base_url"]
        if base_url is not None and not base_url.startswith(("https://", "http://")):
            raise CommandError("--base-url must start with https:// (or http:// for a test feed)")
        try:
            organization = services.organization_create(
                name=options["name"],
                organization_type=options["type"],
                invoca_id=options["invoca_id"],
                token=token,
                api_base_url=base_url,
                poll_interval_seconds=options["poll_interval"],
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"organization not created: {problems}") from None
        except ValueError as exc:
            raise CommandError(f"organization not created: {exc}") from None
        self.stdout.write(f"created {organization} with token …{token[-4:]}")
        self.stdout.write(str(organization.pk))

    def _token(self, options: dict[str, Any]) -> str:
        if options["token"] and options["token_file"]:
            raise CommandError("give --token or --token-file, not both")
        if options["token_file"]:
            path = options["token_file"]
            if path == "-":
                return sys.stdin.read().strip()
            try:
                with open(path) as handle:
                    return handle.read().strip()
            except OSError as exc:
                raise CommandError(f"cannot read --token-file: {exc.strerror}") from None
        if not options["token"]:
            raise CommandError("an API token is required: --token or --token-file")
        return str(options["token"]).strip()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value
