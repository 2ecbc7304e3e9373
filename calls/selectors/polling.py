"""What a poll reads before it asks Invoca: the organization with its poll state and the
token to send, and the texts of the live calls it already holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from calls.invoca import KnownCall, url_origin
from calls.models import ApiToken, Call, Organization, OrganizationPollState
from calls.sql import instances_select, rows_select


@dataclass(frozen=True, slots=True)
class PollSubject:
    organization: Organization  # its poll_state read along
    token: ApiToken | None


# The organization, its poll state and each of its active tokens, newest first: one row per
# token, or one row with the token's columns NULL when it has none.
_SUBJECT = (
    "LEFT JOIN {organizationpollstate} "
    "ON {organizationpollstate[organization]} = {organization[id]} "
    "LEFT JOIN {apitoken} ON {apitoken[organization]} = {organization[id]} "
    "AND {apitoken[active]} = %s "
    "WHERE {organization[id]} = %s"
)
_ENABLED = " AND {organization[enabled]} = %s"
_NEWEST_FIRST = " ORDER BY {apitoken[created_at]} DESC"


def poll_subject(*, organization_id: int, enabled_only: bool = False) -> PollSubject | None:
    """The organization as the poll before this one left it, its poll state and the token to
    send, in one query (every poll reads them: a statement written once, not compiled by the
    ORM on each call). None if there is no such organization (or it is disabled, with
    `enabled_only`)."""
    tail = _SUBJECT + (_ENABLED if enabled_only else "") + _NEWEST_FIRST
    params = [True, organization_id] + ([True] if enabled_only else [])
    rows = instances_select((Organization, OrganizationPollState, ApiToken), tail, params)
    if not rows:
        return None
    organization, state = cast(Organization, rows[0][0]), rows[0][1]
    if state is not None:
        organization.poll_state = cast(OrganizationPollState, state)
    tokens = [cast(ApiToken, token) for _, _, token in rows if token is not None]
    for token in tokens:
        token.organization = organization
    return PollSubject(organization, api_token_pick(tokens, base_url=organization.api_base_url))


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
        planned_per_run=True,
    )
    return {
        transaction_id: KnownCall(raw_hash, raw_size, content_hash)
        for transaction_id, raw_hash, raw_size, content_hash in rows
    }
