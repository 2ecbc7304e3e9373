"""Apply one poll answer to the database: one transaction, a constant number of statements.

New calls and changed ones are written by one upsert and get a snapshot each. Unchanged ones
are not written at all: a call in the answer before and in this one is marked
sighting_current, and its last sighting moves with the organization's poll_state.sighted_at
(calls.models.call_last_seen). Calls left out
get their last sighting written down then; after a clean poll they count a miss and end after
K misses, at their last sighting. Nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from calls.invoca import CurrentCall, CurrentCallsResult
from calls.models import (
    CALL_INVOCA_COLUMNS,
    Call,
    CallEndReason,
    CallSnapshot,
    Organization,
    OrganizationPollState,
)
from calls.selectors.polling import StoredCall, ended_calls_stored, live_calls_stored
from calls.services.bulk_sql import db_datetime, db_json, rows_insert, rows_upsert
from calls.sql import quoted_columns, quoted_table, rows_select, statement_cursor

_UPSERT_FIELDS = [
    *CALL_INVOCA_COLUMNS,
    "call_status",
    "general",
    "custom_data",
    "demographics",
    "content_hash",
    "raw_hash",
    "raw_size",
    "last_seen_at",
    "sighting_current",
    "ended_at",
    "end_reason",
    "missed_polls",
]


@dataclass(frozen=True, slots=True)
class IngestCounts:
    seen: int = 0
    new: int = 0
    changed: int = 0
    reopened: int = 0
    ended: int = 0

    @property
    def anything_changed(self) -> bool:
        return bool(self.new or self.changed or self.reopened or self.ended)


# The columns of a call's row, in the order _call_values gives them.
_CALL_FIELDS = ("organization", "transaction_id", *_UPSERT_FIELDS, "first_seen_at")
_SNAPSHOT_FIELDS = (
    "call",
    "observed_at",
    "content_hash",
    "call_status",
    "general",
    "custom_data",
    "demographics",
    "payload",
)


# A call's general fields, custom data and demographics as JSON text: its row and its
# snapshot hold the same, encoded once.
_FieldsJSON = tuple[str, str, str]


def _fields_json(call: CurrentCall) -> _FieldsJSON:
    general, custom_data, demographics = call.stored_parts()
    return (db_json(general), db_json(custom_data), db_json(demographics))


def _call_values(
    organization_id: int, call: CurrentCall, fields: _FieldsJSON, now: Any
) -> tuple[Any, ...]:
    """A call's row in _CALL_FIELDS order, each value in the database's form; `now` too."""
    calling, destination, called = call.calling_phone, call.destination_phone, call.called_phone
    return (
        organization_id,
        call.transaction_id,
        # CALL_INVOCA_COLUMNS
        call.call_record_id,
        call.external_unique_id,
        calling.best[:40],
        calling.raw,
        destination.best[:40],
        destination.raw,
        called.best[:40],
        called.raw,
        call.phone_type,
        db_datetime(call.bridge_start_time),
        db_datetime(call.start_time),
        # the rest of _UPSERT_FIELDS
        call.call_status,
        *fields,
        call.content_hash,
        call.raw_digest,
        call.raw_size,
        now,  # last_seen_at
        True,  # sighting_current
        None,  # ended_at
        "",  # end_reason: a call back from the ended is live again
        0,  # missed_polls
        now,  # first_seen_at (kept by the upsert when the call is known)
    )


def _snapshot_values(
    call_id: int, call: CurrentCall, fields: _FieldsJSON, now: Any
) -> tuple[Any, ...]:
    return (call_id, now, call.content_hash, call.call_status, *fields, _payload_text(call))


def _payload_text(call: CurrentCall) -> str:
    """The call's text as received; written out again from its decoded form when the decoder
    did not keep it, or when it holds what no UTF-8 database stores (a lone surrogate can
    reach the text itself, unescaped, through a body decoded with surrogatepass)."""
    text = call.sent_text
    if text is not None and (text.isascii() or _utf8_encodable(text)):
        return text
    return db_json(dict(call.payload))


def _utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sighted_before(organization: Organization) -> Any:
    """When the answer before this one was applied, as the database holds it (the misses'
    UPDATE compares it with other rows' times). Locks the organization's poll state, late in
    the transaction (the poll's own UPDATE of it comes next): the answers of one
    organization, say a scheduled poll and an agent's lookup, record their misses one after
    the other, and the scheduler's claims wait for no more than that. (SQLite has no row
    locks: its transaction already holds the database's write lock.)"""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    ((sighted_at,),) = rows_select(
        OrganizationPollState, ("sighted_at",), "{organization} = %s" + lock, [organization.pk]
    )
    return sighted_at


def calls_apply(
    *,
    organization: Organization,
    result: CurrentCallsResult,
    now: datetime,
    live: Mapping[str, StoredCall] | None = None,
) -> IngestCounts:
    """Write one answer's calls. Must run inside a transaction (poll_result_ingest's), which
    then sets the organization's poll_state.sighted_at to `now`. `live`: the organization's
    live calls as the poll read them before its request (calls.selectors.live_calls_stored);
    read here when not given."""
    if live is None:
        live = live_calls_stored(organization=organization)
    incoming = {call.transaction_id: call for call in result.calls}
    ended_known = ended_calls_stored(
        organization=organization,
        transaction_ids=[tid for tid in incoming if tid not in live],
    )
    to_write: list[CurrentCall] = []
    to_snapshot: list[CurrentCall] = []
    seen_again: list[int] = []  # unchanged, but missed or left out of the answer before
    new = changed = reopened = 0
    for transaction_id, call in incoming.items():
        stored = live.get(transaction_id) or ended_known.get(transaction_id)
        if stored is None:
            new += 1
            to_write.append(call)
            to_snapshot.append(call)
            continue
        same_bytes = bool(call.raw_digest) and call.raw_digest == stored.raw_hash
        content_changed = not same_bytes and call.content_hash != stored.content_hash
        reopened += stored.ended
        if content_changed:
            changed += 1
            to_snapshot.append(call)
        if content_changed or stored.ended or (call.raw_digest and not same_bytes):
            to_write.append(call)  # changed, back from the ended, or the same sent anew
        elif not stored.sighted_now:
            seen_again.append(stored.pk)

    pks = {transaction_id: stored.pk for transaction_id, stored in live.items()}
    pks.update((transaction_id, stored.pk) for transaction_id, stored in ended_known.items())
    db_now = db_datetime(now)
    encoded: dict[str, _FieldsJSON] = {}  # filled by the upsert, for the snapshots
    if to_write:
        _calls_upsert(organization, to_write, encoded, db_now, pks)
    if to_snapshot:
        snapshots = [
            _snapshot_values(pks[call.transaction_id], call, encoded[call.transaction_id], db_now)
            for call in to_snapshot
        ]
        rows_insert(CallSnapshot, _SNAPSHOT_FIELDS, snapshots)
    if seen_again:
        Call.objects.filter(pk__in=seen_again).update(
            last_seen_at=now, missed_polls=0, sighting_current=True
        )
    ended = _absent_record(
        organization,
        absent=[stored for tid, stored in live.items() if tid not in incoming],
        clean=result.clean,
    )
    return IngestCounts(
        seen=len(incoming), new=new, changed=changed, reopened=reopened, ended=ended
    )


def _call_rows(
    organization_id: int, calls: list[CurrentCall], encoded: dict[str, _FieldsJSON], now: Any
) -> Iterator[tuple[Any, ...]]:
    """The calls' rows, one at a time (PostgreSQL takes each in while the next is built);
    each call's JSON goes into `encoded` on the way, for its snapshot."""
    for call in calls:
        fields = encoded[call.transaction_id] = _fields_json(call)
        yield _call_values(organization_id, call, fields, now)


def _calls_upsert(
    organization: Organization,
    calls: list[CurrentCall],
    encoded: dict[str, _FieldsJSON],
    now: Any,
    pks: dict[str, int],
) -> None:
    """Insert new calls and overwrite known ones (keeping when each was first seen); record
    the new ones' ids in `pks` and each one's JSON in `encoded`."""
    written = rows_upsert(
        Call,
        _CALL_FIELDS,
        _call_rows(organization.pk, calls, encoded, now),
        conflict=("organization", "transaction_id"),
        update=_UPSERT_FIELDS,
        returning=("transaction_id", "id"),
    )
    pks.update(written)


def _absent_record(
    organization: Organization,
    *,
    absent: list[StoredCall],
    clean: bool,
) -> int:
    """Live calls left out of the answer: their last sighting was the answer before, if they
    were in it. Only a clean answer counts a miss, and ends calls after enough of them."""
    if not clean:
        absent = [stored for stored in absent if stored.sighting_current]
    if not absent:
        return 0
    limit = organization.clean_misses_to_end if clean else None
    _misses_write(
        [stored.pk for stored in absent],
        sighted_before=_sighted_before(organization),
        ends_at_misses=limit,
    )
    if limit is None:
        return 0
    # The rows as this transaction read them: the organization's poll lock keeps every
    # other writer of its calls' misses out, so these are the calls the UPDATE ended.
    return sum(1 for stored in absent if stored.missed_polls >= limit - 1)


def _misses_write(pks: list[int], *, sighted_before: Any, ends_at_misses: int | None) -> None:
    """One UPDATE of the calls left out of an answer (each right-hand side reads the row as
    it was): those in the answer before were last seen then (never earlier than the time
    already written, should the organization's row be behind); with `ends_at_misses`, each
    counts a miss and a call whose miss is its limit-th ends at its last sighting, as having
    left the feed. Written as SQL: built through the ORM, its CASE expressions cost more to
    compile than the statement costs to run, on most polls."""
    last_seen, current, missed, ended_at, reason = quoted_columns(
        Call, ("last_seen_at", "sighting_current", "missed_polls", "ended_at", "end_reason")
    )
    sighting = f"CASE WHEN {current} AND {last_seen} < %s THEN %s ELSE {last_seen} END"
    sighting_params = [sighted_before] * 2
    if sighted_before is None:
        sighting, sighting_params = last_seen, []
    assignments = [f"{last_seen} = {sighting}", f"{current} = %s"]
    params: list[Any] = [*sighting_params, False]
    if ends_at_misses is not None:
        ends_now = f"{missed} >= %s"
        assignments += [
            f"{missed} = {missed} + 1",
            f"{ended_at} = CASE WHEN {ends_now} THEN {sighting} ELSE {ended_at} END",
            f"{reason} = CASE WHEN {ends_now} THEN %s ELSE {reason} END",
        ]
        params += [ends_at_misses - 1, *sighting_params, ends_at_misses - 1, CallEndReason.MISSED]
    (pk,) = quoted_columns(Call, ("id",))
    placeholders = ", ".join(["%s"] * len(pks))
    with statement_cursor() as cursor:
        cursor.execute(
            f"UPDATE {quoted_table(Call)} SET {', '.join(assignments)} "  # noqa: S608
            f"WHERE {pk} IN ({placeholders})",
            [*params, *pks],
        )
