"""factory_boy factories and small payload builders shared by the tests."""

from __future__ import annotations

from typing import Any, cast

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from calls.invoca import url_origin
from calls.models import ApiToken, Membership, Organization, OrganizationPollState, Role

# OrganizationPollState's fields, which OrganizationFactory takes as its own: a test states
# the organization it needs in one call, e.g. create(status=..., last_success_at=...).
POLL_STATE_FIELDS = frozenset(
    field.name for field in OrganizationPollState._meta.concrete_fields if not field.primary_key
)


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    organization_type = "Network"
    invoca_id = factory.Sequence(lambda n: str(1000 + n))
    poll_interval_seconds = 5.0

    @classmethod
    def _create(cls, model_class: type[Organization], *args: Any, **kwargs: Any) -> Organization:
        state = {name: kwargs.pop(name) for name in POLL_STATE_FIELDS & kwargs.keys()}
        organization = super()._create(model_class, *args, **kwargs)
        if state:
            OrganizationPollState.objects.filter(pk=organization.pk).update(**state)
            organization.refresh_from_db()
        return organization


class ApiTokenFactory(factory.django.DjangoModelFactory[ApiToken]):
    class Meta:
        model = ApiToken
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    # Entered for the organization's base URL as it is when the token is made.
    origin = factory.LazyAttribute(lambda token: url_origin(token.organization.api_base_url))

    @factory.post_generation
    def secret(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        # factory_boy hands post-generation hooks the built ApiToken, not the factory.
        token = cast(ApiToken, self)
        token.set_secret(extracted or f"token-{token.organization.invoca_id}-s3cr3t")
        if create:
            token.save()


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.AGENT


def call_payload(transaction_id: str, **fields: Any) -> dict[str, Any]:
    """One current_calls entry in the documented shape."""
    payload: dict[str, Any] = {
        "transaction_id": transaction_id,
        "call_status": "bridged",
        "call_record_id": f"CR-{transaction_id}",
        "calling_phone_number": "+13105550147",
        "destination_phone_number": "+18885550199",
        "called_phone_number": "+18557174046",
        "bridge_start_time": "2026-11-23T09:14:07-08:00",
        "custom_data": {"utm_source": {"value": "google", "source": "DynamicAttribution"}},
    }
    payload.update(fields)
    return payload
