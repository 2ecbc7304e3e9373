"""Reads for the live list and the caller detail, scoped by the viewer's roles.

Agents and restricted members see live calls and those that ended within the last hour;
supervisors and staff also see the whole history. Each read is a fixed number of queries,
whatever the number of calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from calls.models import Call, CallQuerySet, CallSnapshot, HighlightRule, OrganizationStatus
from calls.selectors.access import calls_of_viewer
from calls.selectors.filters import STATUS_ENDED, ListFilters
from calls.selectors.search import viewer_search_q
from calls.selectors.viewer import STALE_AFTER_INTERVALS, OrganizationView, Viewer

RECENTLY_ENDED = timedelta(hours=1)
LIST_LIMIT = 300
# A live call shows as unconfirmed once its organization has had no clean poll for as long as
# the feed banner waits before it calls the feed stale, and never sooner than this: at a short
# interval, one slow poll (up to POLL_TOTAL_TIMEOUT) must not make every row flicker.
UNCONFIRMED_AFTER_AT_LEAST = timedelta(seconds=30)
# Organizations no poll runs for: their calls are unconfirmed from the start.
_UNPOLLED_STATUSES = (OrganizationStatus.DISABLED, OrganizationStatus.AUTH_FAILED)
EARLIER_CALLS_LIMIT = 20
# What the list's rows read (calls.presentation.call_row, calls/views/row_markup.py and the
# wallboard's template); loading the rest, the organization's poll state above all, was a
# quarter of the cost of the rows.
LIST_COLUMNS = (
    "organization__name",
    "organization__pinned_fields",
    "transaction_id",
    "calling_phone_number",
    "called_phone_number",
    "bridge_start_time",
    "first_seen_at",
    "ended_at",
    "general",
    "custom_data",
    "demographics",
)


def viewable_calls(calls: CallQuerySet, *, viewer: Viewer, now: datetime) -> CallQuerySet:
    """Live calls and recently ended ones everywhere; all ended ones where the role allows."""
    history_orgs = [org.id for org in viewer.organizations if org.sees_history]
    return calls.filter(
        Q(ended_at__isnull=True)
        | Q(ended_at__gte=now - RECENTLY_ENDED)
        | Q(organization_id__in=history_orgs)
    )


def calls_openable(*, viewer: Viewer, now: datetime) -> CallQuerySet:
    """Every call the viewer may open: in their organizations and visible to their role."""
    return viewable_calls(calls_of_viewer(viewer=viewer), viewer=viewer, now=now)


def _calls_listed(*, viewer: Viewer, filters: ListFilters, now: datetime) -> CallQuerySet:
    """Every call the list's filters match, in the list's order."""
    calls = calls_of_viewer(viewer=viewer)
    if filters.organization_id is not None:
        calls = calls.filter(organization_id=filters.organization_id)
    if filters.status == STATUS_ENDED:
        calls = viewable_calls(
            calls.filter(ended_at__isnull=False), viewer=viewer, now=now
        ).order_by("-ended_at", "-pk")
    else:
        calls = calls.filter(ended_at__isnull=True).order_by(
            "-bridge_start_time", "-first_seen_at", "-pk"
        )
    if filters.search:
        calls = calls.filter(viewer_search_q(filters.search, viewer=viewer))
    return calls


def call_list(*, viewer: Viewer, filters: ListFilters, now: datetime) -> list[Call]:
    """The first LIST_LIMIT calls the filters match, each with its `earlier_count` and its
    `last_seen`."""
    calls = _calls_listed(viewer=viewer, filters=filters, now=now)
    calls = with_earlier_count(calls, viewer=viewer).with_last_seen()
    return list(calls.select_related("organization").only(*LIST_COLUMNS)[:LIST_LIMIT])


@dataclass(frozen=True, slots=True)
class CallPage:
    calls: list[Call]
    # How many calls the filters match, listed or not.
    total: int


def call_page(*, viewer: Viewer, filters: ListFilters, now: datetime) -> CallPage:
    """The list's calls and how many the filters match: a full list is counted by the
    database (one COUNT, no rows loaded), since more calls may match than it shows."""
    calls = call_list(viewer=viewer, filters=filters, now=now)
    total = len(calls)
    if total >= LIST_LIMIT:
        total = _calls_listed(viewer=viewer, filters=filters, now=now).count()
    return CallPage(calls=calls, total=total)


def organizations_unconfirmed(*, viewer: Viewer, now: datetime) -> frozenset[int]:
    """The viewer's organizations whose live calls no clean poll confirms at present: polling
    switched off, the token refused, or no clean poll for STALE_AFTER_INTERVALS intervals (when
    the feed banner calls the feed stale) and UNCONFIRMED_AFTER_AT_LEAST."""
    return frozenset(
        organization.id
        for organization in viewer.organizations
        if _organization_unconfirmed(organization, now=now)
    )


def _organization_unconfirmed(organization: OrganizationView, *, now: datetime) -> bool:
    if not organization.enabled or organization.status in _UNPOLLED_STATUSES:
        return True
    grace = max(
        timedelta(seconds=organization.poll_interval_seconds * STALE_AFTER_INTERVALS),
        UNCONFIRMED_AFTER_AT_LEAST,
    )
    return now - (organization.last_success_at or organization.created_at) > grace


def call_unconfirmed_since(*, call: Call, unconfirmed: frozenset[int]) -> datetime | None:
    """The last sighting of a live call of an unconfirmed organization (see
    organizations_unconfirmed), as call_list and call_detail_get annotate it; None for any
    other call."""
    if call.ended_at is not None or call.organization_id not in unconfirmed:
        return None
    last_seen: datetime = call.last_seen  # type: ignore[attr-defined]
    return last_seen


# Only a parsed (E.164) number identifies a caller: raw leftovers such as "0" or "anonymous"
# are shared by strangers and must never make them "repeat callers" of each other.
E164_PREFIX = "+"


def with_earlier_count(calls: CallQuerySet, *, viewer: Viewer) -> CallQuerySet:
    """Annotate `earlier_count`: calls from the same E.164 number first seen before this one,
    in the viewer's organizations. A correlated subquery keeps the list at one statement.

    The organization test goes through `organization_id + 0` so that no index can serve it:
    without table statistics (SQLite never gathers them; PostgreSQL lacks them until its
    next analyze) the planners otherwise walk the organization's index, i.e. every call of
    the organization for every row listed, instead of the few calls from one number."""
    earlier = (
        Call.objects.alias(unindexed_organization_id=F("organization_id") + 0)
        .filter(
            unindexed_organization_id__in=viewer.ids,
            calling_phone_number=OuterRef("calling_phone_number"),
            first_seen_at__lt=OuterRef("first_seen_at"),
        )
        .filter(calling_phone_number__startswith=E164_PREFIX)
        .order_by()
        .values("calling_phone_number")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return calls.annotate(earlier_count=Coalesce(Subquery(earlier), Value(0)))


def highlight_rules_by_org(*, organization_ids: Iterable[int]) -> dict[int, list[HighlightRule]]:
    rules: dict[int, list[HighlightRule]] = {}
    rows = HighlightRule.objects.filter(organization_id__in=list(organization_ids))
    # A call's badges appear in the order the admin gave the rules.
    for rule in rows.order_by("position", "id"):
        rules.setdefault(rule.organization_id, []).append(rule)
    return rules


def call_detail_get(*, viewer: Viewer, call_id: int, now: datetime) -> Call | None:
    """One call the viewer may open, or None (which the view turns into a 404); with its
    `earlier_count` counted as the live list counts it, and its `last_seen`."""
    calls = calls_openable(viewer=viewer, now=now)
    calls = with_earlier_count(
        calls.select_related("organization").filter(pk=call_id), viewer=viewer
    )
    return calls.with_last_seen().first()


def call_snapshots(*, call: Call) -> list[CallSnapshot]:
    return list(CallSnapshot.objects.filter(call=call).order_by("observed_at", "id"))


def earlier_calls(*, viewer: Viewer, call: Call, now: datetime) -> list[Call]:
    """Calls from the same number first seen before this one that the viewer may open,
    newest first."""
    if not call.calling_phone_number.startswith(E164_PREFIX):
        return []
    return list(
        calls_openable(viewer=viewer, now=now)
        .filter(
            calling_phone_number=call.calling_phone_number, first_seen_at__lt=call.first_seen_at
        )
        .order_by("-first_seen_at", "-pk")[:EARLIER_CALLS_LIMIT]
    )
