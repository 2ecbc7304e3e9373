"""On-demand lookups at Invoca for one call or one search, throttled so a button cannot be
used to hammer the API. Each lookup is a filtered request: it is recorded like a poll and
never ends calls."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from calls.invoca import CallFilters, InvocaError
from calls.models import Call, Organization
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
