"""Members of organizations: a user and their role in one organization, as contact centers
provision agents by script (`manage.py add_member`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from calls.models import AuditEvent, Membership, Organization, Role
from calls.services.audit import audit_record

# Whoever runs a provisioning script is not a user of cipdash: events are recorded under this.
COMMAND_LINE_ACTOR = "command line"
GENERATED_PASSWORD_BYTES = 12  # 16 URL-safe characters


class MemberRefused(ValueError):
    """The member cannot be added as asked; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class MemberAdded:
    membership: Membership
    user_created: bool
    previous_role: str | None  # None: the user was not a member of the organization
    # Set only when one was generated for a new user: the one time it can be shown.
    generated_password: str = ""

    @property
    def role_changed(self) -> bool:
        return self.previous_role != self.membership.role


@sensitive_variables("password", "generated")
def member_add(
    *, organization_id: int, username: str, role: str, password: str = ""
) -> MemberAdded:
    """Make `username` a member of the organization with `role`, creating the user if
    missing. A new user gets `password`, or a generated one (returned, never stored in the
    clear or logged); an existing user keeps theirs unless `password` is given."""
    if role not in Role.values:
        raise MemberRefused(f"unknown role {role!r}: use {', '.join(Role.values)}")
    _username_check(username)
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        raise MemberRefused(f"no organization with id {organization_id}")
    with transaction.atomic():
        user, user_created = User.objects.get_or_create(username=username)
        generated = ""
        if user_created and not password:
            generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        if password:
            _password_set(user, password)
        membership, previous_role = _membership_set(user, organization, role)
        audit_record(
            actor=None,
            actor_name=COMMAND_LINE_ACTOR,
            action=AuditEvent.Action.CREATED
            if previous_role is None
            else AuditEvent.Action.CHANGED,
            organization=organization,
            subject=membership,
            summary=f"member {username} as {role}",
            details={
                "user_created": user_created,
                "role": role,
                "previous_role": previous_role,
                "password_set": bool(password),
            },
        )
    return MemberAdded(
        membership=membership,
        user_created=user_created,
        previous_role=previous_role,
        generated_password=generated,
    )


def _username_check(username: str) -> None:
    field = User._meta.get_field("username")
    try:
        if not username:
            raise ValidationError("it is empty")
        field.clean(username, None)
    except ValidationError as exc:
        raise MemberRefused(f"invalid username {username!r}: {' '.join(exc.messages)}") from None


@sensitive_variables("password")
def _password_set(user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise MemberRefused(f"password refused: {' '.join(exc.messages)}") from None
    user.set_password(password)
    user.save(update_fields=["password"])


def _membership_set(
    user: User, organization: Organization, role: str
) -> tuple[Membership, str | None]:
    membership = (
        Membership.objects.select_for_update().filter(user=user, organization=organization).first()
    )
    if membership is None:
        return Membership.objects.create(user=user, organization=organization, role=role), None
    previous_role = membership.role
    if previous_role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership, previous_role
