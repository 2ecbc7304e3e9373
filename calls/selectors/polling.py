"""What a poll reads before it asks Invoca: the organization with its poll state and the
token to send, and the live calls it already holds; and, once the answer is in, the ended
calls it brings back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from calls.invoca import url_origin
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


class StoredCall(NamedTuple):  # thousands per poll: a tuple is the cheapest record to build
    """A call as the poll compares it with the answer: its row, the digest and length of its
    text as last received (a calls.invoca.KnownCall, so that the decoder recognises that text
    sent again), its content hash and where it stands in the sightings."""

    pk: int
    raw_hash: str
    raw_size: int  # 0: no text stored
    content_hash: str
    missed_polls: int
    sighting_current: bool
    ended: bool = False

    @property
    def sighted_now(self) -> bool:
        """In the answer before, and (so far) counted as in this one."""
        return self.sighting_current and not self.missed_polls and not self.ended


_STORED_COLUMNS = ("transaction_id", "id", "raw_hash", "raw_size", "content_hash", "missed_polls")


def live_calls_stored(*, organization: Organization) -> dict[str, StoredCall]:
    """The organization's live calls by transaction id. A poll reads them once, under the
    organization's lock, before its request: the decoder recognises the calls sent again
    unchanged by them, and the ingest compares the answer with them. No other poll or lookup
    writes them meanwhile; a call that calls_end_unconfirmed ends meanwhile (it takes no poll
    lock) and that the answer holds unchanged is reopened by the next poll.

    Planned per run (calls.sql.rows_select): a plan PostgreSQL made once for any organization,
    from the statistics of a young calls table, went on reading every row of the table."""
    rows = rows_select(
        Call,
        (*_STORED_COLUMNS, "sighting_current"),
        "{organization} = %s AND {ended_at} IS NULL",
        [organization.pk],
        planned_per_run=True,
    )
    return {
        transaction_id: StoredCall(pk, raw_hash, raw_size, digest, missed, bool(current))
        for transaction_id, pk, raw_hash, raw_size, digest, missed, current in rows
    }


def ended_calls_stored(
    *, organization: Organization, transaction_ids: Sequence[str]
) -> dict[str, StoredCall]:
    """Those of `transaction_ids` that are the organization's ended calls (an answer brings
    them back)."""
    if not transaction_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(transaction_ids))
    rows = rows_select(
        Call,
        _STORED_COLUMNS,
        "{organization} = %s AND {ended_at} IS NOT NULL"
        f" AND {{transaction_id}} IN ({placeholders})",
        [organization.pk, *transaction_ids],
        planned_per_run=True,
    )
    return {
        transaction_id: StoredCall(pk, raw_hash, raw_size, digest, missed, False, ended=True)
        for transaction_id, pk, raw_hash, raw_size, digest, missed in rows
    }
