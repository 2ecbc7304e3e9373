"""A user's own display settings (calls.services.preferences): one row per user, a known time
zone or none."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from calls.models import UserPreference
from calls.services.preferences import user_preference_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_time_zone_is_stored_and_then_replaced_in_the_same_row() -> None:
    user = UserFactory.create()
    user_preference_set(user=user, time_zone="Europe/Paris")
    user_preference_set(user=user, time_zone="America/New_York")
    assert list(UserPreference.objects.filter(user=user).values_list("time_zone", flat=True)) == [
        "America/New_York"
    ]


def test_no_time_zone_means_the_organizations() -> None:
    user = UserFactory.create()
    user_preference_set(user=user, time_zone="Europe/Paris")
    assert user_preference_set(user=user, time_zone="").time_zone == ""


def test_an_unknown_time_zone_is_refused_and_the_setting_kept() -> None:
    user = UserFactory.create()
    user_preference_set(user=user, time_zone="Europe/Paris")
    with pytest.raises(ValidationError, match="not a known time zone"):
        user_preference_set(user=user, time_zone="Mars/Olympus")
    assert UserPreference.objects.get(user=user).time_zone == "Europe/Paris"
