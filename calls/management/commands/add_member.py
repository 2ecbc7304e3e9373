from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.models import Role
from calls.services.members import MemberRefused, member_add


class Command(BaseCommand):
    help = (
        "Make a user a member of an organization with a role, creating the user if missing. "
        "A new user's password comes from the environment variable --password-env names, or "
        "is generated and printed once; an existing user keeps theirs unless --password-env "
        "is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, type=int, help="the organization's id")
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, metavar="|".join(Role.values))
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="read the password from this environment variable (keeps it out of "
            "shell history and process lists)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            added = member_add(
                organization_id=options["org"],
                username=options["username"],
                role=options["role"],
                password=_password_from_env(options["password_env"]),
            )
        except MemberRefused as exc:
            raise CommandError(f"member not added: {exc}") from None
        membership = added.membership
        if added.user_created:
            self.stdout.write(f"created user {membership.user}")
        if added.previous_role is None:
            change = "is now"
        elif added.role_changed:
            change = f"changed from {added.previous_role} to"
        else:
            change = "is already"
        organization = membership.organization
        self.stdout.write(
            f"{membership.user} {change} {membership.role} in {organization.name} "
            f"(organization {organization.pk})"
        )
        if options["password_env"]:
            self.stdout.write(f"password set from ${options['password_env']}")
        if added.generated_password:
            self.stdout.write(f"password (shown only now): {added.generated_password}")


def _password_from_env(name: str | None) -> str:
    if name is None:
        return ""
    value = os.environ.get(name, "")
    if not value:
        raise CommandError(f"--password-env names {name}, which is unset or empty")
    return value
