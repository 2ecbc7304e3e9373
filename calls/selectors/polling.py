"""What a poll reads before it asks Invoca: the organization with its poll state and the
token to send, and the texts of the live calls it already holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from calls.invoca import KnownCall, url_origin
from calls.models import ApiToken, Call, Organization
from calls.sql import rows_select


@dataclass(frozen=True, slots=True)
class PollSubject:
    organization: Organization  # its poll_state read along
    token: ApiToken | None


def poll_subject(*, organization_id: int, enabled_only: bool = False) -> PollSubject | None:
    """The organization as the poll before this one left it, its poll state and the token to
    send, in one query while it has an active token (every poll reads them). None if there
    is no such organization (or it is disabled, with `enabled_only`)."""
    enabled = {"enabled": True} if enabled_only else {}
    tokens = ApiToken.objects.select_related("organization__poll_state").filter(
        organization_id=organization_id, active=True
    )
    if enabled_only:
        tokens = tokens.filter(organization__enabled=True)
    newest_first = list(tokens.order_by("-created_at"))
    organization = (
        newest_first[0].organization
        if newest_first
        # No active token: the organization alone, for the poll to record why.
        else Organization.objects.select_related("poll_state")
        .filter(pk=organization_id, **enabled)
        .first()
    )
    if organization is None:
        return None
    token = api_token_pick(newest_first, base_url=organization.api_base_url)
    return PollSubject(organization, token)


def api_token_pick(tokens: Iterable[ApiToken], *, base_url: str) -> ApiToken | None:
    """The first of `tokens` (newest first) bound to the base URL's origin: a token entered
    for another address never goes to this one."""
    origin = url_origin(base_url)
    return next((token for token in tokens if token.origin == origin), None)


def live_calls_known(*, organization: Organization) -> dict[str, KnownCall]:
    """Each live call's stored text (digest, length, content hash) by transaction id, so that
    the answer's unchanged calls are recognised instead of decoded. Read outside the poll's
    transaction: a stale entry only means a call is decoded after all."""
    rows = rows_select(
        Call,
        ("transaction_id", "raw_hash", "raw_size", "content_hash"),
        "{organization} = %s AND {ended_at} IS NULL AND {raw_size} > 0",
        [organization.pk],
    )
    return {
        transaction_id: KnownCall(raw_hash, raw_size, content_hash)
        for transaction_id, raw_hash, raw_size, content_hash in rows
    }
