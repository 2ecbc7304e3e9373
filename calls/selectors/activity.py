"""The Activity page (`/activity/`) and the wallboard's trend, read in one call.

Every chart is one grouped query over the viewer's organizations (or the one picked): counts
per minute, per hour, per group or per duration come from the database, and Python adds at
most one pass over the bins (a running sum over a day's 1,440 minutes), never one per call.
Day boundaries are the viewer's local midnights, built with zoneinfo so that a day of a
daylight-saving change has its 23 or 25 hours.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, QuerySet, Value
from django.db.models.functions import Coalesce

from calls.models import Call, CallQuerySet
from calls.selectors.access import calls_of_viewer
from calls.selectors.activity_feed import (
    FeedHealthChart,
    FeedHour,
    FeedSpan,
    feed_health_chart,
    feed_spans,
)
from calls.selectors.activity_sources import SourceGroup, SourcesChart, sources_chart
from calls.selectors.binning import HOUR, MINUTE, Bins, EpochSeconds, counted_rows
from calls.selectors.filters import FilterError, organization_id_parse
from calls.selectors.viewer import (
    Viewer,
    feed_version_token,
    viewer_time_zone,
)

DAY_MINUTES = 24 * 60
WEEK = timedelta(days=7)
WALL_MINUTES = 60
# Upper ends of the duration histogram's bins, in seconds; the last bin is open.
DURATION_EDGES = (30, 60, 120, 180, 300, 600, 1200, 1800, 3600)
# The page re-renders at least this often with nothing changed, so that the day boundary and
# the sliding windows move on.
VERSION_PERIOD_SECONDS = 900
CHARTS = ("live", "hourly", "sources", "durations", "feed")

__all__ = [
    "CHARTS",
    "FeedHealthChart",
    "FeedHour",
    "FeedSpan",
    "SourceGroup",
    "SourcesChart",
    "activity_page",
    "wall_trend",
]


@dataclass(frozen=True, slots=True)
class LiveChart:
    """Calls live in each minute of the last 24 hours, and in the same minutes a week earlier."""

    minutes: tuple[datetime, ...]
    live: tuple[int, ...]
    week_earlier: tuple[int, ...]
    live_now: int
    week_earlier_now: int
    spans: tuple[FeedSpan, ...] = ()

    @property
    def difference(self) -> int:
        return self.live_now - self.week_earlier_now


@dataclass(frozen=True, slots=True)
class HourlyChart:
    """Calls started in each hour of today and of the same weekday last week (local hours)."""

    hours: tuple[datetime, ...]
    today: tuple[int, ...]
    last_week: tuple[int, ...]
    current_hour: int

    @property
    def today_total(self) -> int:
        return sum(self.today)

    @property
    def last_week_same_time(self) -> int:
        return sum(self.last_week[: self.current_hour + 1])

    @property
    def this_hour(self) -> int:
        return self.today[self.current_hour] if self.today else 0

    @property
    def this_hour_last_week(self) -> int:
        return self.last_week[self.current_hour] if self.current_hour < len(self.last_week) else 0

    def rows(self) -> list[tuple[datetime, int | None, int]]:
        return [
            (hour, self.today[index] if index <= self.current_hour else None, last_week)
            for index, (hour, last_week) in enumerate(zip(self.hours, self.last_week, strict=True))
        ]


@dataclass(frozen=True, slots=True)
class DurationBin:
    lower_seconds: int
    upper_seconds: int | None
    count: int


@dataclass(frozen=True, slots=True)
class LongestLive:
    call_id: int
    started_at: datetime
    seconds: int
    campaign: str


@dataclass(frozen=True, slots=True)
class DurationsChart:
    """Calls ended today: how long they lasted; and the longest call live now."""

    bins: tuple[DurationBin, ...]
    count: int
    median_seconds: int | None
    p90_seconds: int | None
    longest_seconds: int | None
    longest_live: LongestLive | None


@dataclass(frozen=True, slots=True)
class ActivityPage:
    version: str
    now: datetime
    viewer: Viewer
    # The organization picked, None for all of the viewer's.
    organization_id: int | None
    unchanged: bool = False
    time_zone: str = "UTC"
    live: LiveChart | None = None
    hourly: HourlyChart | None = None
    sources: SourcesChart | None = None
    durations: DurationsChart | None = None
    feed: FeedHealthChart | None = None


def activity_organization(value: str | None, *, viewer: Viewer) -> int | None:
    """The organization a query string picks, if it is one of the viewer's; else None (all)."""
    try:
        organization_id = organization_id_parse(value)
    except FilterError:
        return None
    if organization_id is None or viewer.organization(organization_id) is None:
        return None
    return organization_id


def _scoped(viewer: Viewer, organization_id: int | None) -> Viewer:
    if organization_id is None:
        return viewer
    organization = viewer.organization(organization_id)
    assert organization is not None  # activity_organization picked one of the viewer's
    return Viewer(organizations=(organization,), user_id=viewer.user_id)


def activity_page(
    *,
    viewer: Viewer,
    organization_id: int | None,
    now: datetime,
    shown_version: str | None,
    charts: Collection[str] = CHARTS,
) -> ActivityPage:
    """The Activity page's charts (all, or those named in `charts`) for the viewer's
    organizations (or the one picked); unchanged when `shown_version` is the page's version."""
    scoped = _scoped(viewer, organization_id)
    version = feed_version_token(
        viewer=scoped,
        now=now,
        extra=f"activity:{organization_id}:{int(now.timestamp()) // VERSION_PERIOD_SECONDS}",
    )
    if version == shown_version:
        return ActivityPage(
            version=version,
            now=now,
            viewer=viewer,
            organization_id=organization_id,
            unchanged=True,
        )
    zone_name = viewer_time_zone(viewer=viewer)
    zone = ZoneInfo(zone_name)
    calls = calls_of_viewer(viewer=scoped)
    today = day_start(now=now, zone=zone)
    return ActivityPage(
        version=version,
        now=now,
        viewer=viewer,
        organization_id=organization_id,
        time_zone=zone_name,
        live=live_chart(calls=calls, viewer=scoped, now=now, minutes=DAY_MINUTES, zone=zone)
        if "live" in charts
        else None,
        hourly=hourly_chart(calls=calls, now=now, zone=zone) if "hourly" in charts else None,
        sources=sources_chart(calls=calls, viewer=scoped, since=today)
        if "sources" in charts
        else None,
        durations=durations_chart(calls=calls, since=today, now=now)
        if "durations" in charts
        else None,
        feed=feed_health_chart(viewer=scoped, now=now) if "feed" in charts else None,
    )


@dataclass(frozen=True, slots=True)
class WallTrend:
    """The wallboard's trend: live calls in each of the last 60 minutes, and calls started
    this hour against the same hour last week."""

    live: LiveChart
    hourly: HourlyChart


def wall_trend(*, viewer: Viewer, organization_id: int | None, now: datetime) -> WallTrend:
    """The trend of the viewer's organizations, or of the one the wallboard shows."""
    zone = ZoneInfo(viewer_time_zone(viewer=viewer))
    calls = calls_of_viewer(viewer=_scoped(viewer, organization_id))
    return WallTrend(
        live=live_chart(calls=calls, viewer=None, now=now, minutes=WALL_MINUTES, zone=zone),
        hourly=hourly_chart(calls=calls, now=now, zone=zone),
    )


def day_start(*, now: datetime, zone: ZoneInfo, days_back: int = 0) -> datetime:
    """Local midnight of the day `days_back` before `now`'s day, in UTC."""
    local_day = now.astimezone(zone).date() - timedelta(days=days_back)
    return datetime.combine(local_day, time(), tzinfo=zone).astimezone(UTC)


def _local_day_bins(*, start: datetime, zone: ZoneInfo) -> Bins:
    """The hours of the local day starting at `start`: 23, 24 or 25 of them."""
    local_day = start.astimezone(zone).date() + timedelta(days=1)
    end = datetime.combine(local_day, time(), tzinfo=zone).astimezone(UTC)
    return Bins(start=start, width=HOUR, count=round((end - start) / HOUR))


def _week_earlier(moment: datetime, zone: ZoneInfo) -> datetime:
    """The same local wall-clock time seven days before (aware arithmetic in one zone is
    wall-clock arithmetic)."""
    return (moment.astimezone(zone) - WEEK).astimezone(UTC)


def _grouped_counts(parts: Sequence[QuerySet[Call]]) -> dict[int, list[tuple[int, int]]]:
    """One statement for several grouped parts: each part's (bin, count) rows by its number."""
    queries = [
        # COUNT(*), not of a column: PostgreSQL may then count from the index alone.
        part.annotate(part=Value(number)).values_list("part", "bin").annotate(n=Count("*"))
        for number, part in enumerate(parts)
    ]
    rows: dict[int, list[tuple[int, int]]] = {number: [] for number in range(len(parts))}
    combined = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
    for number, index, count in counted_rows(combined):
        rows[number].append((index, count))
    return rows


# The parts _live_parts returns, in order.
LIVE_PARTS = 5


def _live_parts(calls: CallQuerySet, bins: Bins) -> list[QuerySet[Call]]:
    """The calls started and ended in each bin, and three counts that make up the calls
    already live when the first bin opens: those live now, plus those ended since it opened,
    less those started since it opened (each of which is live now or ended since). Every
    part follows an index over the window's calls or the live ones, whatever the length of
    the history: "started before and not ended before" would read every older call."""
    start, end = bins.start, bins.end
    parts = [
        calls.filter(first_seen_at__gte=start, first_seen_at__lt=end).annotate(
            bin=bins.index("first_seen_at")
        ),
        calls.filter(ended_at__gte=start, ended_at__lt=end).annotate(bin=bins.index("ended_at")),
        calls.filter(ended_at__isnull=True).annotate(bin=Value(0)),
        calls.filter(ended_at__gte=start).annotate(bin=Value(0)),
        calls.filter(first_seen_at__gte=start).annotate(bin=Value(0)),
    ]
    return [part.order_by() for part in parts]


@dataclass(frozen=True, slots=True)
class _LiveCounts:
    started: list[int]
    ended: list[int]
    live_before: int

    @classmethod
    def of(cls, rows: Sequence[list[tuple[int, int]]], bins: Bins) -> _LiveCounts:
        """From the rows of _live_parts' parts."""
        live_now, ended_since, started_since = (sum(n for _, n in part) for part in rows[2:])
        return cls(
            started=bins.tally(rows[0]),
            ended=bins.tally(rows[1]),
            live_before=live_now + ended_since - started_since,
        )

    @property
    def live_at_end(self) -> int:
        return self.live_before + sum(self.started) - sum(self.ended)

    def series(self) -> list[int]:
        """Calls live at some time in each bin: started by its end, not ended before its
        start."""
        live, live_so_far = [], self.live_before
        for started_here, ended_here in zip(self.started, self.ended, strict=True):
            live_so_far += started_here
            live.append(live_so_far)
            live_so_far -= ended_here
        return live


def live_chart(
    *,
    calls: CallQuerySet,
    viewer: Viewer | None,
    now: datetime,
    minutes: int,
    zone: ZoneInfo,
) -> LiveChart:
    """Calls live per minute over the last `minutes` and the same minutes a week earlier;
    with a viewer, the spans in which a feed was failing or stale."""
    end = now.replace(second=0, microsecond=0) + MINUTE
    bins = Bins(start=end - MINUTE * minutes, width=MINUTE, count=minutes)
    earlier = Bins(start=_week_earlier(bins.start, zone), width=MINUTE, count=minutes)
    counts = _grouped_counts([*_live_parts(calls, bins), *_live_parts(calls, earlier)])
    rows = [counts[number] for number in range(2 * LIVE_PARTS)]
    current = _LiveCounts.of(rows[:LIVE_PARTS], bins)
    week = _LiveCounts.of(rows[LIVE_PARTS:], earlier)
    return LiveChart(
        minutes=tuple(bins.moments()),
        live=tuple(current.series()),
        week_earlier=tuple(week.series()),
        # The last bin's figure also holds the calls that ended in it.
        live_now=current.live_at_end,
        week_earlier_now=week.live_at_end,
        spans=() if viewer is None else feed_spans(viewer=viewer, bins=bins, now=now),
    )


def hourly_chart(*, calls: CallQuerySet, now: datetime, zone: ZoneInfo) -> HourlyChart:
    """Calls started per local hour of today and of the same weekday a week ago."""
    today = _local_day_bins(start=day_start(now=now, zone=zone), zone=zone)
    last_week = _local_day_bins(start=day_start(now=now, zone=zone, days_back=7), zone=zone)
    counts = _grouped_counts(
        [
            calls.filter(first_seen_at__gte=day.start, first_seen_at__lt=day.end)
            .order_by()
            .annotate(bin=day.index("first_seen_at"))
            for day in (today, last_week)
        ]
    )
    week_counts = last_week.tally(counts[1])
    # A day of 25 hours is compared with one of 23 (or the other way round): pad or cut.
    week_counts = (week_counts + [0] * today.count)[: today.count]
    return HourlyChart(
        hours=tuple(today.moments()),
        today=tuple(today.tally(counts[0])),
        last_week=tuple(week_counts),
        current_hour=min(today.index_of(now), today.count - 1),
    )


def _percentile(durations: Sequence[tuple[int, int]], total: int, share: float) -> int | None:
    """The nearest-rank percentile of sorted (seconds, count) rows."""
    if not total:
        return None
    rank, seen = math.ceil(share * total), 0
    for seconds, count in durations:
        seen += count
        if seen >= rank:
            return seconds
    return durations[-1][0]


def _call_start() -> Coalesce:
    return Coalesce("bridge_start_time", "first_seen_at")


def durations_chart(*, calls: CallQuerySet, since: datetime, now: datetime) -> DurationsChart:
    """Calls that ended since `since` by how long they lasted, in whole seconds."""
    ended = calls.filter(ended_at__gte=since, ended_at__lte=now).order_by()
    # Bridged calls apart: the index on the end holds their bridge, so the database reads
    # the index alone for them, and the calls themselves only for the few never bridged.
    parts = [
        ended.filter(bridge_start_time__isnull=False).annotate(
            seconds=EpochSeconds("ended_at") - EpochSeconds("bridge_start_time")
        ),
        ended.filter(bridge_start_time__isnull=True).annotate(
            seconds=EpochSeconds("ended_at") - EpochSeconds("first_seen_at")
        ),
    ]
    grouped = [part.values_list("seconds").annotate(n=Count("*")) for part in parts]
    durations = sorted(
        (max(0, value), count) for value, count in grouped[0].union(grouped[1], all=True)
    )
    total = sum(count for _, count in durations)
    lowers = (0, *DURATION_EDGES)
    uppers: tuple[int | None, ...] = (*DURATION_EDGES, None)
    bins = [
        DurationBin(
            lower_seconds=lower,
            upper_seconds=upper,
            count=sum(
                n for value, n in durations if value >= lower and (upper is None or value < upper)
            ),
        )
        for lower, upper in zip(lowers, uppers, strict=True)
    ]
    return DurationsChart(
        bins=tuple(bins),
        count=total,
        median_seconds=_percentile(durations, total, 0.5),
        p90_seconds=_percentile(durations, total, 0.9),
        longest_seconds=durations[-1][0] if durations else None,
        longest_live=_longest_live(calls=calls, now=now),
    )


def _longest_live(*, calls: CallQuerySet, now: datetime) -> LongestLive | None:
    call = (
        calls.filter(ended_at__isnull=True)
        .annotate(started=_call_start())
        .order_by("started", "pk")
        .only("pk", "general", "bridge_start_time", "first_seen_at")
        .first()
    )
    if call is None:
        return None
    started: datetime = call.started  # type: ignore[attr-defined]
    return LongestLive(
        call_id=call.pk,
        started_at=started,
        seconds=max(0, int((now - started).total_seconds())),
        campaign=str(call.general.get("advertiser_campaign_name") or ""),
    )
