"""Apply one poll answer to the database: one transaction, a constant number of statements.

new calls and changed ones are written by one upsert and get a snapshot each; unchanged ones
only have last_seen_at moved; after a clean poll, live calls that were not in the answer count
a miss and end after K misses, at their last sighting. Nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

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
    "last_seen_at",
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
        first_seen_at=now,
        last_seen_at=now,
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
    """Write one answer's calls. Must run inside a transaction (poll_result_ingest's)."""
    with cycle_collector_paused():  # thousands of rows, no reference cycles (calls.memory)
        return _calls_write(organization=organization, result=result, now=now)


def _calls_write(
    *, organization: Organization, result: CurrentCallsResult, now: datetime
) -> IngestCounts:
    by_id = {call.transaction_id: call for call in result.calls}
    known = {
        transaction_id: (pk, digest, ended_at)
        for pk, transaction_id, digest, ended_at in Call.objects.filter(
            organization=organization, transaction_id__in=list(by_id)
        ).values_list("pk", "transaction_id", "content_hash", "ended_at")
    }
    to_write: list[CurrentCall] = []
    to_snapshot: list[CurrentCall] = []
    unchanged: list[int] = []
    new = changed = reopened = 0
    for transaction_id, call in by_id.items():
        stored = known.get(transaction_id)
        if stored is None:
            new += 1
            to_write.append(call)
            to_snapshot.append(call)
            continue
        pk, digest, ended_at = stored
        content_changed = digest != call.content_hash
        if ended_at is not None:
            reopened += 1
        if content_changed:
            changed += 1
            to_snapshot.append(call)
        if content_changed or ended_at is not None:
            to_write.append(call)
        else:
            unchanged.append(pk)

    pks = {transaction_id: stored[0] for transaction_id, stored in known.items()}
    if to_write:
        written = Call.objects.bulk_create(
            [_call_row(organization, call, now) for call in to_write],
            update_conflicts=True,
            unique_fields=["organization", "transaction_id"],
            update_fields=_UPSERT_FIELDS,
        )
        # PostgreSQL and SQLite hand the new rows' ids back from the upsert (RETURNING).
        pks.update((row.transaction_id, row.pk) for row in written if row.pk is not None)
    if to_snapshot:
        missing = [call.transaction_id for call in to_snapshot if call.transaction_id not in pks]
        if missing:  # a backend that cannot return ids from an upsert
            pks.update(
                Call.objects.filter(
                    organization=organization, transaction_id__in=missing
                ).values_list("transaction_id", "pk")
            )
        CallSnapshot.objects.bulk_create(
            [_snapshot_row(pks[call.transaction_id], call, now) for call in to_snapshot]
        )
    if unchanged:
        Call.objects.filter(pk__in=unchanged).update(last_seen_at=now, missed_polls=0)

    ended = 0
    if result.clean:
        live_unseen = Call.objects.filter(organization=organization, ended_at__isnull=True).exclude(
            last_seen_at=now
        )
        live_unseen.update(missed_polls=F("missed_polls") + 1)
        ended = Call.objects.filter(
            organization=organization,
            ended_at__isnull=True,
            missed_polls__gte=organization.clean_misses_to_end,
        ).update(ended_at=F("last_seen_at"))
    return IngestCounts(seen=len(by_id), new=new, changed=changed, reopened=reopened, ended=ended)
