"""Organizations and their API tokens."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from calls.models import ApiToken, Organization, OrganizationStatus


# The secret must not show in an error report's frames: `with atomic()` rather than the
# decorator, whose wrapper frame would hold the arguments in plain sight.
@sensitive_variables("token")
def organization_create(
    *,
    name: str,
    organization_type: str,
    invoca_id: str,
    token: str,
    api_base_url: str | None = None,
    poll_interval_seconds: float | None = None,
) -> Organization:
    organization = Organization(name=name, organization_type=organization_type, invoca_id=invoca_id)
    if api_base_url:
        organization.api_base_url = api_base_url
    if poll_interval_seconds is not None:
        organization.poll_interval_seconds = poll_interval_seconds
    organization.full_clean()
    with transaction.atomic():
        organization.save()
        api_token_add(organization=organization, secret=token)
    return organization


@sensitive_variables("secret")
def api_token_add(*, organization: Organization, secret: str, label: str = "") -> ApiToken:
    """Add the organization's new active token; older ones are deactivated (rotation).

    A new token is the fix for a refused one, so an organization stopped for auth_failed is
    polled again at once."""
    secret = secret.strip()
    if not secret:
        raise ValueError("the token is empty")
    token = ApiToken(organization=organization, label=label)
    token.set_secret(secret)
    with transaction.atomic():
        organization.tokens.filter(active=True).update(active=False)
        token.save()
        api_token_changed(organization=organization)
    return token


def api_token_activate(*, token: ApiToken) -> None:
    """Make `token` the one its organization polls with: one active token at a time, as
    after api_token_add, and an organization stopped for auth_failed is polled again."""
    with transaction.atomic():
        token.organization.tokens.filter(active=True).exclude(pk=token.pk).update(active=False)
        ApiToken.objects.filter(pk=token.pk).update(active=True)
        token.active = True
        api_token_changed(organization=token.organization)


def api_token_changed(*, organization: Organization) -> None:
    """Resume polling an organization that stopped because its token was refused."""
    Organization.objects.filter(pk=organization.pk, status=OrganizationStatus.AUTH_FAILED).update(
        status=OrganizationStatus.OK if organization.enabled else OrganizationStatus.DISABLED,
        next_poll_at=timezone.now(),
        consecutive_failures=0,
        feed_version=F("feed_version") + 1,
    )


def organization_set_enabled(*, organization: Organization, enabled: bool) -> None:
    Organization.objects.filter(pk=organization.pk).update(
        enabled=enabled,
        status=OrganizationStatus.OK if enabled else OrganizationStatus.DISABLED,
        next_poll_at=timezone.now() if enabled else None,
        consecutive_failures=0,
        feed_version=F("feed_version") + 1,
    )
    organization.refresh_from_db()
