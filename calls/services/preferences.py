"""A user's own display settings."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from calls.models import UserPreference, validate_time_zone


def user_preference_set(*, user: AbstractBaseUser, time_zone: str) -> UserPreference:
    """Store the user's time zone; "" means "use my organization's"."""
    if time_zone:
        validate_time_zone(time_zone)
    preference, _created = UserPreference.objects.update_or_create(
        user_id=user.pk, defaults={"time_zone": time_zone}
    )
    return preference
