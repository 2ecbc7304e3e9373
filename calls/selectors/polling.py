"""What a poll reads before it asks Invoca: the texts of the live calls it already holds."""

from __future__ import annotations

from calls.invoca import KnownCall
from calls.models import Call, Organization


def live_calls_known(*, organization: Organization) -> dict[str, KnownCall]:
    """Each live call's stored text (digest, length, content hash) by transaction id, so that
    the answer's unchanged calls are recognised instead of decoded. Read outside the poll's
    transaction: a stale entry only means a call is decoded after all."""
    rows = Call.objects.filter(
        organization=organization, ended_at__isnull=True, raw_size__gt=0
    ).values_list("transaction_id", "raw_hash", "raw_size", "content_hash")
    return {
        transaction_id: KnownCall(raw_hash, raw_size, content_hash)
        for transaction_id, raw_hash, raw_size, content_hash in rows
    }
