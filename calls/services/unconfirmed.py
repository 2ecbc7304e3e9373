"""Nothing stays "live" for ever: a live call that no poll has sighted for
CALL_UNCONFIRMED_END_SECONDS (its organization disabled, its token refused, its feed failing)
is ended at its last sighting, "not confirmed by the feed".

A healthy feed sights every live call on each poll, or ends it after K clean misses, so only
a feed that stopped answering leaves a call unsighted that long. Should the call come back in
a later answer, the poll reopens it as it reopens any ended call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Value

from calls.models import Call, CallEndReason, OrganizationPollState, call_last_seen_in_update


def calls_past_confirmation(
    *, now: datetime, sighted_before: datetime | None = None
) -> QuerySet[Call]:
    """Live calls last sighted more than CALL_UNCONFIRMED_END_SECONDS before `now` (and,
    if given, before `sighted_before`)."""
    cutoff = now - timedelta(seconds=settings.CALL_UNCONFIRMED_END_SECONDS)
    if sighted_before is not None:
        cutoff = min(cutoff, sighted_before)
    return (
        Call.objects.filter(ended_at__isnull=True).with_last_seen().filter(Q(last_seen__lt=cutoff))
    )


def calls_end_unconfirmed(*, now: datetime, dry_run: bool = False) -> dict[int, int]:
    """End every live call past confirmation at its last sighting, and bump its
    organization's feed version so that open pages show it ended. Answers how many calls each
    organization had ended (would have, with `dry_run`). Three statements, however many calls."""
    calls = calls_past_confirmation(now=now)
    with transaction.atomic():
        ended = dict(
            calls.order_by()
            .values("organization_id")
            .annotate(count=Count("pk"))
            .values_list("organization_id", "count")
        )
        if dry_run or not ended:
            return ended
        last_sighting = call_last_seen_in_update()
        calls.update(
            ended_at=last_sighting,
            last_seen_at=last_sighting,
            sighting_current=False,
            end_reason=Value(CallEndReason.UNCONFIRMED),
        )
        OrganizationPollState.objects.filter(pk__in=list(ended)).update(
            feed_version=F("feed_version") + 1
        )
    return ended
