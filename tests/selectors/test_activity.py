"""The Activity page's selector: known calls and poll runs, written directly, and the numbers
each chart must show for them (minutes, local hours across a daylight-saving change, the week
earlier, top ten and other, highlights, durations, failing and stale feed spans)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from calls.models import (
    Call,
    HighlightRule,
    Organization,
    PollOutcome,
    PollRun,
    Role,
    UserPreference,
)
from calls.selectors.activity import (
    FeedSpan,
    activity_organization,
    activity_page,
    day_start,
    wall_trend,
)
from calls.selectors.activity_sources import OTHER
from calls.selectors.viewer import Viewer, viewer_get
from tests.factories import MembershipFactory, OrganizationFactory

NOW = datetime(2026, 12, 1, 12, 30, 30, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def make_call(
    org: Organization,
    name: str,
    *,
    seen: datetime,
    ended: datetime | None = None,
    bridge: datetime | None = None,
    campaign: str = "",
    custom: dict[str, str] | None = None,
    demographics: dict[str, Any] | None = None,
) -> Call:
    return Call.objects.create(
        organization=org,
        transaction_id=name,
        content_hash=name,
        first_seen_at=seen,
        last_seen_at=ended or seen,
        ended_at=ended,
        bridge_start_time=bridge,
        general={"advertiser_campaign_name": campaign} if campaign else {},
        custom_data={k: {"value": v, "source": "Api"} for k, v in (custom or {}).items()},
        demographics=demographics or {},
    )


def viewer_of(org: Organization, *, role: str = Role.SUPERVISOR, time_zone: str = "UTC") -> Viewer:
    user = MembershipFactory.create(organization=org, role=role).user
    UserPreference.objects.create(user=user, time_zone=time_zone)
    return viewer_get(user=user)


def page_for(viewer: Viewer, now: datetime = NOW) -> Any:
    return activity_page(viewer=viewer, organization_id=None, now=now, shown_version=None)


def quiet_org(**fields: Any) -> Organization:
    """An organization that has existed for weeks, its feed not watched (no stale spans)."""
    org = OrganizationFactory.create(enabled=False, **fields)
    Organization.objects.filter(pk=org.pk).update(created_at=NOW - timedelta(days=30))
    org.refresh_from_db()
    return org


def minute(hour: int, minute: int, *, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_live_per_minute_counts_calls_live_at_any_time_in_the_minute() -> None:
    org = quiet_org()
    make_call(org, "SHORT", seen=minute(12, 0) + timedelta(seconds=10), ended=minute(12, 5))
    make_call(org, "LONG", seen=NOW - timedelta(days=2))  # live since before the window
    blip = minute(12, 20) + timedelta(seconds=5)
    make_call(org, "BLIP", seen=blip, ended=blip + timedelta(seconds=40))
    make_call(org, "MORNING", seen=minute(9, 0), ended=minute(9, 30))
    make_call(org, "GONE", seen=NOW - timedelta(days=2), ended=NOW - timedelta(days=1, hours=1))
    live = page_for(viewer_of(org)).live
    by_minute = dict(zip(live.minutes, live.live, strict=True))
    assert len(live.minutes) == 1440 and live.minutes[-1] == minute(12, 30)
    assert live.minutes[0] == minute(12, 31) - timedelta(days=1)
    assert by_minute[minute(11, 59)] == 1
    assert by_minute[minute(12, 0)] == 2
    assert by_minute[minute(12, 5)] == 2  # SHORT ended at 12:05:00, within that minute
    assert by_minute[minute(12, 6)] == 1
    assert by_minute[minute(12, 20)] == 2
    assert by_minute[minute(12, 21)] == 1
    assert by_minute[minute(9, 15)] == 2
    assert live.live_now == 1


def test_week_earlier_line_is_the_same_local_minutes_seven_days_before() -> None:
    org = quiet_org()
    week_ago = NOW - timedelta(days=7)
    for index in range(3):
        make_call(
            org,
            f"W{index}",
            seen=week_ago - timedelta(minutes=2),
            ended=week_ago + timedelta(minutes=1),
        )
    make_call(
        org, "WE", seen=week_ago - timedelta(minutes=5), ended=week_ago - timedelta(minutes=3)
    )
    make_call(org, "NOWCALL", seen=NOW - timedelta(minutes=1))
    live = page_for(viewer_of(org)).live
    assert live.week_earlier_now == 3
    assert live.live_now == 1 and live.difference == -2
    by_minute = dict(zip(live.minutes, live.week_earlier, strict=True))
    assert by_minute[minute(12, 25)] == 1  # WE, a week earlier
    assert by_minute[minute(12, 28)] == 3


def test_hours_of_a_daylight_saving_day_are_local_and_25() -> None:
    org = quiet_org()
    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)  # the day the clocks go back
    start = day_start(now=now, zone=zone)
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    make_call(org, "FIRST-ONE", seen=datetime(2026, 11, 1, 5, 30, tzinfo=UTC))  # 01:30 EDT
    make_call(org, "SECOND-ONE", seen=datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 01:30 EST
    make_call(org, "YESTERDAY", seen=datetime(2026, 11, 1, 3, 59, tzinfo=UTC))
    make_call(org, "LAST-WEEK", seen=datetime(2026, 10, 25, 14, 10, tzinfo=UTC))  # 10:10 EDT
    hourly = page_for(viewer_of(org, time_zone="America/New_York"), now=now).hourly
    assert len(hourly.hours) == 25
    assert hourly.today[1] == 1 and hourly.today[2] == 1 and hourly.today_total == 2
    assert [hour.astimezone(zone).hour for hour in hourly.hours[:4]] == [0, 1, 1, 2]
    # Last week's 24 hours, padded to today's 25: its 10:00 is bin 10.
    assert hourly.last_week[10] == 1 and sum(hourly.last_week) == 1
    assert hourly.current_hour == 16  # 20:00 UTC is 15:00 EST, the 17th hour of 25


def test_sources_top_ten_and_other_with_highlights() -> None:
    org = quiet_org(pinned_fields=["lead_type"])
    HighlightRule.objects.create(organization=org, field="lead_type", value="HOT", label="HOT LEAD")
    for index in range(12):
        for repeat in range(12 - index):
            make_call(
                org,
                f"C{index}-{repeat}",
                seen=NOW - timedelta(minutes=10),
                ended=NOW - timedelta(minutes=5) if repeat else None,
                campaign=f"Campaign {index:02}",
                custom={"lead_type": "hot " if index == 0 else "cold"},
            )
    make_call(org, "YESTERDAY", seen=NOW - timedelta(days=1), ended=NOW - timedelta(days=1))
    sources = page_for(viewer_of(org)).sources
    campaign = sources.dimensions[0]
    assert [group.label for group in campaign.groups[:2]] == ["Campaign 00", "Campaign 01"]
    assert len(campaign.groups) == 11 and campaign.groups[-1].label == OTHER
    assert (campaign.groups[-1].today, campaign.groups[-1].live) == (2 + 1, 2)
    first = campaign.groups[0]
    assert (first.today, first.live, first.highlighted_today, first.highlighted_live) == (
        12,
        1,
        12,
        1,
    )
    lead = next(dim for dim in sources.dimensions if dim.title == "lead_type")
    assert {group.label: group.today for group in lead.groups} == {"hot ": 12, "cold": 66}
    assert sources.highlight_labels == ("HOT LEAD",)


def test_restricted_sees_no_place_field_groups_and_no_demographic_highlights() -> None:
    org = quiet_org(pinned_fields=["caller_city", "lead_type"])
    HighlightRule.objects.create(
        organization=org,
        scope="demographics",
        field="high_net_worth",
        operator="present",
        label="Rich",
    )
    make_call(
        org,
        "R1",
        seen=NOW - timedelta(minutes=1),
        custom={"caller_city": "Torrance"},
        demographics={"high_net_worth_data_append": True},
    )
    restricted = page_for(viewer_of(org, role=Role.RESTRICTED)).sources
    assert [dim.title for dim in restricted.dimensions] == ["Campaign", "Advertiser", "lead_type"]
    assert restricted.highlight_labels == ()
    supervisor = page_for(viewer_of(org)).sources
    assert "caller_city" in [dim.title for dim in supervisor.dimensions]
    assert supervisor.dimensions[0].groups[0].highlighted_live == 1


def test_durations_histogram_median_p90_longest_and_longest_live() -> None:
    org = quiet_org()
    start = NOW - timedelta(hours=2)
    for seconds in (10, 20, 40, 100, 700):
        make_call(
            org, f"D{seconds}", seen=start, bridge=start, ended=start + timedelta(seconds=seconds)
        )
    make_call(org, "ENDED-YESTERDAY", seen=NOW - timedelta(days=1), ended=NOW - timedelta(hours=13))
    live = make_call(org, "LIVE", seen=NOW - timedelta(minutes=9), campaign="Spring")
    make_call(org, "LIVE-NEWER", seen=NOW - timedelta(minutes=2))
    durations = page_for(viewer_of(org)).durations
    assert durations.count == 5
    assert [b.count for b in durations.bins[:4]] == [2, 1, 1, 0]  # <30, 30-60, 60-120, 120-180
    assert durations.bins[6].count == 1  # 600-1200
    assert (durations.median_seconds, durations.p90_seconds, durations.longest_seconds) == (
        40,
        700,
        700,
    )
    assert durations.longest_live is not None
    assert durations.longest_live.call_id == live.pk and durations.longest_live.seconds == 540
    assert durations.longest_live.campaign == "Spring"


def test_failing_and_stale_spans_come_from_poll_runs() -> None:
    org = OrganizationFactory.create(name="Feed Org", poll_interval_seconds=5)
    Organization.objects.filter(pk=org.pk).update(created_at=minute(11, 59))
    org.refresh_from_db()

    def poll(at: datetime, outcome: str) -> None:
        PollRun.objects.create(
            organization=org, started_at=at, finished_at=at, outcome=outcome, duration_ms=80
        )

    for m in range(0, 10):
        poll(minute(12, m), PollOutcome.CLEAN)
    for m in range(10, 15):
        poll(minute(12, m) + timedelta(seconds=20), PollOutcome.UNAVAILABLE)
    for m in range(21, 31):
        poll(minute(12, m), PollOutcome.CLEAN)
    page = page_for(viewer_of(org))
    assert page.live.spans == (
        FeedSpan("Feed Org", "failing", minute(12, 10), minute(12, 15)),
        FeedSpan("Feed Org", "stale", minute(12, 16), minute(12, 21)),
    )
    totals = page.feed.totals()
    assert (totals[0].polls, totals[0].clean, totals[0].clean_percent) == (25, 20, 80.0)
    assert totals[0].mean_ms == 80


def test_only_the_picked_organization_and_never_a_foreign_one() -> None:
    mine, other, foreign = quiet_org(name="Mine"), quiet_org(name="Other"), quiet_org()
    user = MembershipFactory.create(organization=mine, role=Role.AGENT).user
    MembershipFactory.create(organization=other, role=Role.AGENT, user=user)
    make_call(mine, "M", seen=NOW - timedelta(minutes=1))
    make_call(other, "O", seen=NOW - timedelta(minutes=1))
    make_call(foreign, "F", seen=NOW - timedelta(minutes=1))
    viewer = viewer_get(user=user)
    assert page_for(viewer).live.live_now == 2
    assert activity_organization(str(foreign.pk), viewer=viewer) is None
    picked = activity_organization(str(mine.pk), viewer=viewer)
    page = activity_page(viewer=viewer, organization_id=picked, now=NOW, shown_version=None)
    assert page.live is not None and page.feed is not None
    assert page.live.live_now == 1 and page.feed.organizations == ("Mine",)


def test_statements_do_not_grow_with_calls_and_unchanged_reads_nothing(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    org = quiet_org(pinned_fields=["lead_type"])
    HighlightRule.objects.create(organization=org, field="lead_type", value="hot", label="HOT")
    viewer = viewer_of(org)

    def add(count: int, prefix: str) -> None:
        for index in range(count):
            make_call(org, f"{prefix}{index}", seen=NOW - timedelta(minutes=index), ended=None)

    add(5, "A")
    with CaptureQueriesContext(connection) as few:
        first = page_for(viewer)
    add(50, "B")
    with django_assert_num_queries(len(few.captured_queries)):
        page_for(viewer)
    with django_assert_num_queries(0):
        again = activity_page(
            viewer=viewer, organization_id=None, now=NOW, shown_version=first.version
        )
    assert again.unchanged and again.live is None


def test_charts_named_are_the_only_ones_worked_out() -> None:
    org = quiet_org()
    make_call(org, "D1", seen=NOW - timedelta(minutes=3))
    viewer = viewer_of(org)
    with CaptureQueriesContext(connection) as every:
        page_for(viewer)
    with CaptureQueriesContext(connection) as one:
        page = activity_page(
            viewer=viewer, organization_id=None, now=NOW, shown_version=None, charts=("durations",)
        )
    assert page.durations is not None
    assert (page.live, page.hourly, page.sources, page.feed) == (None, None, None, None)
    assert len(one.captured_queries) < len(every.captured_queries)


def test_wall_trend_covers_the_last_hour_and_this_hour() -> None:
    org = quiet_org()
    make_call(org, "T1", seen=NOW - timedelta(minutes=3))
    make_call(org, "LW", seen=NOW - timedelta(days=7, minutes=1), ended=NOW - timedelta(days=7))
    other = quiet_org()
    make_call(other, "NOT-SHOWN", seen=NOW - timedelta(minutes=2))
    user = MembershipFactory.create(organization=org, role=Role.SUPERVISOR).user
    MembershipFactory.create(organization=other, user=user)
    viewer = viewer_get(user=user)
    assert wall_trend(viewer=viewer, organization_id=None, now=NOW).live.live_now == 2
    trend = wall_trend(viewer=viewer, organization_id=org.pk, now=NOW)
    assert len(trend.live.minutes) == 60 and trend.live.live[-1] == 1
    assert trend.hourly.this_hour == 1 and trend.hourly.this_hour_last_week == 1
