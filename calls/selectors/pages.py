"""Everything one live page shows, read in one call: the live list and the wallboard
(`live_page`), the caller detail (`call_detail_page`).

Each page has a version that changes whenever anything it shows may have changed. An htmx
poll that already shows it gets an unchanged page (`unchanged`), read at the cost of the
viewer's one query: nothing else is read, and the view answers 204.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calls.models import Call
from calls.presentation import (
    CallRow,
    Field,
    FieldGroup,
    TimelineEntry,
    call_row,
    custom_fields,
    demographics_groups,
    number_shown,
    snapshot_timeline,
)
from calls.selectors.activity import WallTrend, wall_trend
from calls.selectors.filters import STATUS_ENDED, ListFilters
from calls.selectors.health import cache_reachable
from calls.selectors.live import (
    call_detail_get,
    call_page,
    call_snapshots,
    call_unconfirmed_since,
    earlier_calls,
    highlight_rules_by_org,
    organizations_unconfirmed,
)
from calls.selectors.viewer import (
    FeedProblem,
    OrganizationView,
    Viewer,
    feed_problems,
    feed_version_token,
    viewer_time_zone,
)


@dataclass(frozen=True, slots=True)
class LivePage:
    """The live list or the wallboard: the rows the filters match and the feed's health."""

    version: str
    now: datetime
    viewer: Viewer
    filters: ListFilters
    # The poll asking already shows `version`: nothing below was read.
    unchanged: bool = False
    rows: list[CallRow] = field(default_factory=list)
    # Every call the filters match: more than the list shows once it is full.
    total: int = 0
    problems: list[FeedProblem] = field(default_factory=list)
    # Stale feeds may be our side's fault: then the page says so rather than blame Invoca.
    services_down: bool = False
    user_time_zone: str = "UTC"
    # The wallboard's trend (live calls over the last hour, this hour against last week).
    trend: WallTrend | None = None

    @property
    def highlighted_count(self) -> int:
        return sum(1 for row in self.rows if row.badges)

    @property
    def repeat_count(self) -> int:
        return sum(1 for row in self.rows if row.repeat_count)


def live_page(
    *, viewer: Viewer, filters: ListFilters, wall: bool, now: datetime, shown_version: str | None
) -> LivePage:
    """The list (or, with `wall`, the wallboard) as `filters` select it; unchanged when
    `shown_version` is the page's version."""
    extra = f"{'wall' if wall else 'list'}:{filters.state}"
    if filters.status == STATUS_ENDED:
        # Recently ended calls age out of the window by the clock alone.
        extra += f":{int(now.timestamp() // 60)}"
    # Calls turn unconfirmed by the clock alone too, when their organization's polls stop.
    unconfirmed = organizations_unconfirmed(viewer=viewer, now=now)
    extra += f":unconfirmed:{sorted(unconfirmed)}"
    version = feed_version_token(viewer=viewer, now=now, extra=extra)
    if version == shown_version:
        return LivePage(version=version, now=now, viewer=viewer, filters=filters, unchanged=True)

    page = call_page(viewer=viewer, filters=filters, now=now)
    rules = highlight_rules_by_org(organization_ids={call.organization_id for call in page.calls})
    rows = [
        call_row(
            call=call,
            role=viewer.role(call.organization_id),
            rules=rules.get(call.organization_id, ()),
            repeat_count=getattr(call, "earlier_count", 0),
            unconfirmed_since=call_unconfirmed_since(call=call, unconfirmed=unconfirmed),
        )
        for call in page.calls
    ]
    problems = feed_problems(viewer=viewer, now=now)
    return LivePage(
        version=version,
        now=now,
        viewer=viewer,
        filters=filters,
        rows=rows,
        total=page.total,
        problems=problems,
        # Checked only when something is stale, so a healthy page pays nothing for it; a read
        # only, as every page read is (cache_health writes a probe).
        services_down=bool(problems) and not cache_reachable().ok,
        user_time_zone=viewer_time_zone(viewer=viewer),
        trend=wall_trend(viewer=viewer, organization_id=filters.organization_id, now=now)
        if wall
        else None,
    )


@dataclass(frozen=True, slots=True)
class CallDetailPage:
    """One call as its detail page shows it, masked as the viewer's role there requires."""

    version: str
    now: datetime
    call: Call
    organization: OrganizationView
    # The poll asking already shows `version`: nothing below was read.
    unchanged: bool = False
    row: CallRow | None = None
    custom_fields: tuple[Field, ...] = ()
    demographics: tuple[FieldGroup, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    # Calls from the same number before this one that the viewer may open, newest first.
    earlier: list[Call] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)
    # The latest snapshot as Invoca sent it; empty for the restricted role.
    raw_payload: str = ""
    problems: list[FeedProblem] = field(default_factory=list)
    user_time_zone: str = "UTC"

    @property
    def restricted(self) -> bool:
        return self.organization.restricted


def call_detail_page(
    *, viewer: Viewer, call_id: int, now: datetime, shown_version: str | None
) -> CallDetailPage | None:
    """The call's detail page, or None when the viewer may not open it (the view's 404);
    unchanged when `shown_version` is the page's version."""
    call = call_detail_get(viewer=viewer, call_id=call_id, now=now)
    if call is None:
        return None
    organization = viewer.organization(call.organization_id)
    assert organization is not None  # call_detail_get only returns the viewer's calls
    # The page follows its call's organization's feed only.
    own = Viewer(organizations=(organization,), user_id=viewer.user_id)
    unconfirmed_since = call_unconfirmed_since(
        call=call, unconfirmed=organizations_unconfirmed(viewer=own, now=now)
    )
    # The call turns unconfirmed by the clock alone, when its organization's polls stop.
    version = feed_version_token(
        viewer=own, now=now, extra=f"call:{call.pk}:{unconfirmed_since is not None}"
    )
    if version == shown_version:
        return CallDetailPage(
            version=version, now=now, call=call, organization=organization, unchanged=True
        )
    return CallDetailPage(
        version=version,
        now=now,
        call=call,
        organization=organization,
        row=call_row(
            call=call,
            role=organization.role,
            rules=highlight_rules_by_org(organization_ids=[call.organization_id]).get(
                call.organization_id, ()
            ),
            repeat_count=getattr(call, "earlier_count", 0),  # annotated by call_detail_get
            unconfirmed_since=unconfirmed_since,
        ),
        earlier=earlier_calls(viewer=viewer, call=call, now=now),
        problems=feed_problems(viewer=own, now=now),
        user_time_zone=viewer_time_zone(viewer=viewer),
        **_call_content(call=call, role=organization.role, restricted=organization.restricted),
    )


def _call_content(*, call: Call, role: str, restricted: bool) -> dict[str, Any]:
    """What the detail page shows of the call's data and its snapshots."""
    snapshots = call_snapshots(call=call)
    raw = snapshots[-1].payload_data() if snapshots else {}
    return {
        "custom_fields": custom_fields(call.custom_data, restricted=restricted),
        "demographics": () if restricted else demographics_groups(call.demographics),
        "timeline": snapshot_timeline(
            snapshots=snapshots, bridge_start_time=call.bridge_start_time, restricted=restricted
        ),
        "numbers": {
            "destination": number_shown(number=call.destination_phone_number, role=role),
            "dialled": number_shown(number=call.called_phone_number, role=role),
        },
        "raw_payload": "" if restricted else json.dumps(raw, indent=2, ensure_ascii=False),
    }
