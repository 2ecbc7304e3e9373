"""Apply one poll answer to the database: one transaction, a constant number of statements.

New calls and changed ones are written by one upsert and get a snapshot each. Unchanged ones
are not written at all: a call in the answer before and in this one is marked
sighting_current, and its last sighting moves with organization.sighted_at. Calls left out
get their last sighting written down then; after a clean poll they count a miss and end after
K misses, at their last sighting. Nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Greatest

from calls.invoca import CurrentCall, CurrentCallsResult
from calls.memory import cycle_collector_paused
from calls.models import CALL_INVOCA_COLUMNS, Call, CallSnapshot, Organization

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


def _call_row(organization: Organization, call: CurrentCall, now: datetime) -> Call:
    return Call(
        organization=organization,
        transaction_id=call.transaction_id,
        call_record_id=call.call_record_id,
        external_unique_id=call.external_unique_id,
        call_status=call.call_status,
        calling_phone_number=call.calling_phone.best[:40],
        calling_phone_number_raw=call.calling_phone.raw,
        destination_phone_number=call.destination_phone.best[:40],
        destination_phone_number_raw=call.destination_phone.raw,
        called_phone_number=call.called_phone.best[:40],
        called_phone_number_raw=call.called_phone.raw,
        phone_type=call.phone_type,
        bridge_start_time=call.bridge_start_time,
        start_time=call.start_time,
        general=dict(call.general),
        custom_data=call.custom_data_json(),
        demographics=dict(call.demographics),
        content_hash=call.content_hash,
        raw_hash=call.raw_digest,
        raw_size=call.raw_size,
        first_seen_at=now,
        last_seen_at=now,
        sighting_current=True,
        ended_at=None,
        missed_polls=0,
    )


def _snapshot_row(call_id: int, call: CurrentCall, now: datetime) -> CallSnapshot:
    return CallSnapshot(
        call_id=call_id,
        observed_at=now,
        content_hash=call.content_hash,
        call_status=call.call_status,
        general=dict(call.general),
        custom_data=call.custom_data_json(),
        demographics=dict(call.demographics),
        payload=dict(call.payload),
    )


def calls_apply(
    *, organization: Organization, result: CurrentCallsResult, now: datetime
) -> IngestCounts:
    """Write one answer's calls. Must run inside a transaction (poll_result_ingest's), which
    then sets organization.sighted_at to `now`."""
    with cycle_collector_paused():  # thousands of rows, no reference cycles (calls.memory)
        return _calls_write(organization=organization, result=result, now=now)


class _Stored(NamedTuple):  # thousands per poll: a tuple is the cheapest record to build
    pk: int
    raw_hash: str
    content_hash: str
    missed_polls: int
    sighting_current: bool
    ended: bool = False

    @property
    def sighted_now(self) -> bool:
        """In the answer before, and (so far) counted as in this one."""
        return self.sighting_current and not self.missed_polls and not self.ended


_STORED_COLUMNS = ("transaction_id", "pk", "raw_hash", "content_hash", "missed_polls")


def _stored_calls(
    organization: Organization, incoming: dict[str, CurrentCall]
) -> tuple[dict[str, _Stored], dict[str, _Stored]]:
    """The organization's live calls, and the ended ones this answer brings back."""
    calls = Call.objects.filter(organization=organization)
    live = {
        row[0]: _Stored(*row[1:])
        for row in calls.filter(ended_at__isnull=True).values_list(
            *_STORED_COLUMNS, "sighting_current"
        )
    }
    unknown = [transaction_id for transaction_id in incoming if transaction_id not in live]
    ended = {}
    if unknown:
        ended = {
            transaction_id: _Stored(pk, raw, digest, missed, False, ended=True)
            for transaction_id, pk, raw, digest, missed in calls.filter(
                ended_at__isnull=False, transaction_id__in=unknown
            ).values_list(*_STORED_COLUMNS)
        }
    return live, ended


def _sighted_before(organization: Organization) -> datetime | None:
    """When the answer before this one was applied. Locks the organization's row, late in the
    transaction (the poll's own UPDATE of it comes next): the answers of one organization, say
    a scheduled poll and an agent's lookup, record their misses one after the other, and the
    scheduler's claims wait for no more than that."""
    return (
        Organization.objects.select_for_update()
        .filter(pk=organization.pk)
        .values_list("sighted_at", flat=True)
        .get()
    )


def _calls_write(
    *, organization: Organization, result: CurrentCallsResult, now: datetime
) -> IngestCounts:
    incoming = {call.transaction_id: call for call in result.calls}
    live, ended_known = _stored_calls(organization, incoming)
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
    if to_write:
        _calls_upsert(organization, to_write, now, pks)
    if to_snapshot:
        CallSnapshot.objects.bulk_create(
            [_snapshot_row(pks[call.transaction_id], call, now) for call in to_snapshot]
        )
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


def _calls_upsert(
    organization: Organization, calls: list[CurrentCall], now: datetime, pks: dict[str, int]
) -> None:
    written = Call.objects.bulk_create(
        [_call_row(organization, call, now) for call in calls],
        update_conflicts=True,
        unique_fields=["organization", "transaction_id"],
        update_fields=_UPSERT_FIELDS,
    )
    # PostgreSQL and SQLite hand the new rows' ids back from the upsert (RETURNING).
    pks.update((row.transaction_id, row.pk) for row in written if row.pk is not None)
    missing = [call.transaction_id for call in calls if call.transaction_id not in pks]
    if missing:  # a backend that cannot return ids from an upsert
        pks.update(
            Call.objects.filter(organization=organization, transaction_id__in=missing).values_list(
                "transaction_id", "pk"
            )
        )


def _absent_record(
    organization: Organization,
    *,
    absent: list[_Stored],
    clean: bool,
) -> int:
    """Live calls left out of the answer: their last sighting was the answer before, if they
    were in it. Only a clean answer counts a miss, and ends calls after enough of them."""
    if not clean:
        absent = [stored for stored in absent if stored.sighting_current]
    if not absent:
        return 0
    sighted_before = _sighted_before(organization)
    # Never earlier than the time already written, should the organization's row be behind.
    sighting = (
        Greatest(F("last_seen_at"), Value(sighted_before, output_field=DateTimeField()))
        if sighted_before is not None
        else F("last_seen_at")
    )
    Call.objects.filter(pk__in=[stored.pk for stored in absent]).update(
        last_seen_at=Case(When(sighting_current=True, then=sighting), default=F("last_seen_at")),
        sighting_current=False,
        missed_polls=F("missed_polls") + (1 if clean else 0),
    )
    if not clean:
        return 0
    # Only a call that missed this answer can have reached the limit with it.
    return Call.objects.filter(
        pk__in=[stored.pk for stored in absent],
        missed_polls__gte=organization.clean_misses_to_end,
    ).update(ended_at=F("last_seen_at"))
