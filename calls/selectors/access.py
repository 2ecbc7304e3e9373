"""Who may see what: every read of calls starts from these scoped querysets."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from calls.models import Call, Membership, Organization


def organizations_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    if getattr(user, "is_staff", False):
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user_id=user.pk).distinct()


def memberships_of(*, user: AbstractBaseUser) -> dict[int, str]:
    """organization id → role."""
    return dict(Membership.objects.filter(user_id=user.pk).values_list("organization_id", "role"))


def calls_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Call]:
    return Call.objects.filter(organization__in=organizations_visible(user=user))
