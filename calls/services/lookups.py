"""On-demand lookups at Invoca for one call or one search, throttled so a button cannot be
used to hammer the API. Each lookup is a filtered request: it is recorded like a poll and
never ends calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache

from calls.invoca import CallFilters, InvocaError
from calls.models import Call, Organization
from calls.selectors.find import calls_find
from calls.selectors.live import call_detail_get
from calls.selectors.viewer import Viewer
from calls.services.poll_lock import PollInProgress
from calls.services.polling import PollAttempt, call_lookup

CALL_REFRESH_THROTTLE_SECONDS = 10
SEARCH_THROTTLE_SECONDS = 5
MASKED_NUMBER_LOOKUP = (
    "Your role finds numbers by their last four digits only, so Invoca is not asked for a "
    "full number."
)


@dataclass(frozen=True, slots=True)
class LookupOutcome:
    ran: bool
    message: str
    attempt: PollAttempt | None = None

    @property
    def ok(self) -> bool:
        return self.attempt is not None and self.attempt.error is None


def _describe(attempt: PollAttempt) -> str:
    if attempt.error is not None:
        return f"Invoca could not answer: {attempt.error}"
    found = attempt.run.calls_seen
    if not found:
        return "Invoca has no live call matching this."
    return f"Invoca returned {found} live call{'s' if found != 1 else ''}."


@dataclass(frozen=True, slots=True)
class FindOutcome:
    calls: list[Call]
    # The lookup at Invoca, when the database knew no matching call; None when none was made.
    lookup: LookupOutcome | None = None


def call_find_or_lookup(
    *, viewer: Viewer, organization_id: int, filters: CallFilters, now: datetime
) -> FindOutcome:
    """The calls matching `filters` in one of the viewer's organizations: the database's, or
    when it knows none, those a lookup at Invoca stored (call_search_remote's rules)."""
    membership = viewer.organization(organization_id)
    if membership is None:  # not the viewer's organization: nothing of it may be found
        return FindOutcome(calls=[])

    def find() -> list[Call]:
        return calls_find(
            viewer=viewer, organization_ids=[organization_id], filters=filters, now=now
        )

    found = find()
    if found:
        return FindOutcome(calls=found)
    lookup = call_search_remote(
        organization=Organization.objects.get(pk=organization_id),
        filters=filters,
        user_id=viewer.user_id or 0,
        restricted=membership.restricted,
    )
    # Searched again, unchanged: the lookup may have stored the call.
    return FindOutcome(calls=find() if lookup.ran else [], lookup=lookup)


def call_refresh(*, call: Call) -> LookupOutcome:
    """Ask Invoca for this one call now, at most once per call per throttle window."""
    return _lookup_throttled(
        key=f"cipdash:lookup:call:{call.pk}",
        seconds=CALL_REFRESH_THROTTLE_SECONDS,
        busy=f"This call was refreshed moments ago; try again in "
        f"{CALL_REFRESH_THROTTLE_SECONDS} seconds.",
        organization=call.organization,
        filters=CallFilters(transaction_id=call.transaction_id),
    )


def call_refresh_for_viewer(*, viewer: Viewer, call_id: int, now: datetime) -> LookupOutcome | None:
    """call_refresh for a call the viewer may open; None when they may not (or it is gone)."""
    call = call_detail_get(viewer=viewer, call_id=call_id, now=now)
    return None if call is None else call_refresh(call=call)


def call_search_remote(
    *, organization: Organization, filters: CallFilters, user_id: int, restricted: bool
) -> LookupOutcome:
    """A find-a-call request at Invoca, throttled per user and organization. Never by phone
    number for a restricted viewer: Invoca matches the full number, which would confirm who
    a caller masked for them is."""
    if restricted and filters.calling_phone_number.strip():
        return LookupOutcome(ran=False, message=MASKED_NUMBER_LOOKUP)
    return _lookup_throttled(
        key=f"cipdash:lookup:search:{organization.pk}:{user_id}",
        seconds=SEARCH_THROTTLE_SECONDS,
        busy=f"One search at Invoca every {SEARCH_THROTTLE_SECONDS} seconds; try again shortly.",
        organization=organization,
        filters=filters,
    )


def _lookup_throttled(
    *, key: str, seconds: int, busy: str, organization: Organization, filters: CallFilters
) -> LookupOutcome:
    if not cache.add(key, 1, timeout=seconds):
        return LookupOutcome(ran=False, message=busy)
    try:
        attempt = call_lookup(organization=organization, filters=filters)
    except InvocaError as exc:  # refused before any request (e.g. no filter given)
        return LookupOutcome(ran=False, message=str(exc))
    except PollInProgress as exc:
        cache.delete(key)  # nothing was asked: the person may try again at once
        return LookupOutcome(ran=False, message=str(exc))
    return LookupOutcome(ran=True, message=_describe(attempt), attempt=attempt)
