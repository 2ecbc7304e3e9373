"""Organizations and their API tokens.

A token is bound to the origin (scheme://host:port) of the base URL it was entered for:
moving an organization to another origin deactivates its tokens, which must be entered
again for the new one (calls.invoca.origins)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from calls.invoca import OriginRefused, base_url_check, url_origin
from calls.models import (
    ApiToken,
    AuditEvent,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
)
from calls.services.audit import Actor, audit_record


def api_base_url_check(*, url: str) -> None:
    """ValidationError unless a token may be sent to `url`: no user info, a host that
    INVOCA_ALLOWED_HOSTS allows, no private or loopback address it does not list exactly."""
    try:
        base_url_check(url, allowed_hosts=settings.INVOCA_ALLOWED_HOSTS)
    except OriginRefused as exc:
        raise ValidationError(str(exc), code="origin_refused") from None


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
    try:
        api_base_url_check(url=organization.api_base_url)
    except ValidationError as exc:
        raise ValidationError({"api_base_url": exc.messages}) from None
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
    token = ApiToken(
        organization=organization, label=label, origin=url_origin(organization.api_base_url)
    )
    token.set_secret(secret)
    with transaction.atomic():
        organization.tokens.filter(active=True).update(active=False)
        token.save()
        api_token_changed(organization=organization)
    return token


def api_token_activate(*, token: ApiToken) -> None:
    """Make `token` the one its organization polls with: one active token at a time, as
    after api_token_add, and an organization stopped for auth_failed is polled again.
    A token entered for another origin than the base URL's cannot be: ValidationError."""
    problem = api_token_origin_problem(token=token)
    if problem:
        raise ValidationError(problem, code="origin_changed")
    with transaction.atomic():
        token.organization.tokens.filter(active=True).exclude(pk=token.pk).update(active=False)
        ApiToken.objects.filter(pk=token.pk).update(active=True)
        token.active = True
        api_token_changed(organization=token.organization)


def api_token_origin_problem(*, token: ApiToken) -> str:
    """Why `token` may not be used with its organization's base URL, or ""."""
    origin = url_origin(token.organization.api_base_url)
    if token.origin == origin:
        return ""
    return (
        f"This token was entered for {token.origin or 'another address'}; the API base URL "
        f"now points to {origin}. Enter the token again to send it there."
    )


def api_tokens_unbound_deactivate(*, organization: Organization, actor: Actor) -> int:
    """Deactivate the organization's active tokens entered for another origin than its base
    URL's (the base URL moved), each on the audit trail. How many were deactivated."""
    origin = url_origin(organization.api_base_url)
    with transaction.atomic():
        unbound = list(
            organization.tokens.select_for_update()
            .filter(active=True)
            .exclude(origin=origin)
            .order_by("-created_at", "-id")
        )
        ApiToken.objects.filter(pk__in=[token.pk for token in unbound]).update(active=False)
        for token in unbound:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.TOKEN_DEACTIVATED,
                organization=organization,
                subject=token,
                summary=f"API token {token} deactivated: the API base URL moved to {origin}",
                details={"entered_for": token.origin, "base_url_origin": origin},
            )
    return len(unbound)


def api_token_changed(*, organization: Organization) -> None:
    """Resume polling an organization that stopped because its token was refused."""
    OrganizationPollState.objects.filter(
        pk=organization.pk, status=OrganizationStatus.AUTH_FAILED
    ).update(
        status=OrganizationStatus.OK if organization.enabled else OrganizationStatus.DISABLED,
        next_poll_at=timezone.now(),
        consecutive_failures=0,
        feed_version=F("feed_version") + 1,
    )


def organization_set_enabled(*, organization: Organization, enabled: bool) -> None:
    """Switch polling on or off: the admin's setting and the poll state it implies, together."""
    with transaction.atomic():
        Organization.objects.filter(pk=organization.pk).update(enabled=enabled)
        OrganizationPollState.objects.filter(pk=organization.pk).update(
            status=OrganizationStatus.OK if enabled else OrganizationStatus.DISABLED,
            next_poll_at=timezone.now() if enabled else None,
            consecutive_failures=0,
            feed_version=F("feed_version") + 1,
        )
    organization.refresh_from_db()
