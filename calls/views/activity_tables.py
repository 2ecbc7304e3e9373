"""The Activity page's charts as the page shows them: for each, a title, a one-line summary
in words, the "Show data" table (also its CSV, cell for cell) and the data the browser draws
from. Times are the viewer's local times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calls.presentation import duration_text
from calls.selectors.activity import (
    ActivityPage,
    DurationBin,
    DurationsChart,
    FeedHealthChart,
    FeedSpan,
    HourlyChart,
    LiveChart,
    SourcesChart,
    WallTrend,
)

TIME_FORMAT = "%Y-%m-%d %H:%M"
# Between the two ends of a range of times or durations, as in print.
RANGE = "\N{EN DASH}"


@dataclass(frozen=True, slots=True)
class ChartView:
    key: str
    title: str
    summary: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    # What static/calls/activity.js draws; None for a chart drawn as HTML.
    data: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(TIME_FORMAT)


def _epoch(moments: Sequence[datetime]) -> list[int]:
    return [int(moment.timestamp()) for moment in moments]


def _compared(now: int, then: int, when: str) -> str:
    if now == then:
        return f"the same as {when}"
    return f"{abs(now - then)} {'more' if now > then else 'fewer'} than {when}"


def span_text(span: FeedSpan, zone: ZoneInfo) -> str:
    start = span.start.astimezone(zone).strftime("%H:%M")
    end = span.end.astimezone(zone).strftime("%H:%M")
    return f"{span.organization}: {span.words} {start}{RANGE}{end}"


def live_view(chart: LiveChart, zone: ZoneInfo) -> ChartView:
    minutes = chart.minutes
    feed: list[list[str]] = [[] for _ in minutes]
    for span in chart.spans:
        for index, moment in enumerate(minutes):
            if span.start <= moment < span.end:
                feed[index].append(f"{span.organization}: {span.words}")
    summary = (
        f"{chart.live_now} live now, "
        + _compared(chart.live_now, chart.week_earlier_now, "this time last week")
        + "."
    )
    if chart.spans:
        summary += f" The feed was failing or stale in {len(chart.spans)} period(s)."
    return ChartView(
        key="live",
        title="Live calls over the last 24 hours",
        summary=summary,
        columns=("Minute", "Live calls", "Same minute last week", "Feed"),
        rows=[
            (_local(moment, zone), str(live), str(week), "; ".join(notes))
            for moment, live, week, notes in zip(
                minutes, chart.live, chart.week_earlier, feed, strict=True
            )
        ],
        data={
            "kind": "time",
            "x": _epoch(minutes),
            "series": [
                {"label": "Live calls", "values": list(chart.live)},
                {"label": "Same time last week", "values": list(chart.week_earlier), "faint": True},
            ],
            "spans": [
                [int(span.start.timestamp()), int(span.end.timestamp()), span_text(span, zone)]
                for span in chart.spans
            ],
        },
        notes=tuple(span_text(span, zone) for span in chart.spans),
    )


def hourly_view(chart: HourlyChart, zone: ZoneInfo, now: datetime) -> ChartView:
    weekday = now.astimezone(zone).strftime("%A")
    rows = chart.rows()
    return ChartView(
        key="hourly",
        title="Calls started per hour today",
        summary=f"{chart.today_total} calls started today so far, "
        + _compared(chart.today_total, chart.last_week_same_time, f"by this hour last {weekday}")
        + f"; {chart.this_hour} this hour against {chart.this_hour_last_week}.",
        columns=("Hour", "Calls started today", f"Same hour last {weekday}"),
        rows=[
            (_local(hour, zone), "" if today is None else str(today), str(last_week))
            for hour, today, last_week in rows
        ],
        data={
            "kind": "bars",
            "x": _epoch(chart.hours),
            "series": [
                {"label": "Today", "values": [today for _, today, _ in rows]},
                {"label": f"Last {weekday}", "values": list(chart.last_week), "faint": True},
            ],
        },
    )


def sources_view(chart: SourcesChart) -> ChartView:
    campaigns = chart.dimensions[0].groups if chart.dimensions else ()
    top = max(campaigns, key=lambda group: group.today, default=None)
    summary = (
        f"Top campaign today: {top.label} with {top.today} call(s), {top.live} live now."
        if top is not None and top.today
        else "No calls live now or started today."
    )
    return ChartView(
        key="sources",
        title="Where calls come from",
        summary=summary,
        columns=(
            "Grouped by",
            "Group",
            "Live now",
            "Highlighted live",
            "Started today",
            "Highlighted today",
        ),
        rows=[
            (
                title,
                group.label,
                str(group.live),
                str(group.highlighted_live),
                str(group.today),
                str(group.highlighted_today),
            )
            for title, group in chart.rows()
        ],
    )


def bin_label(entry: DurationBin) -> str:
    lower = duration_text(entry.lower_seconds)
    if entry.upper_seconds is None:
        return f"{lower} or more"
    return f"{lower}{RANGE}{duration_text(entry.upper_seconds)}"


def _duration_tick(seconds: int) -> str:
    """ "30s", "2m", "1h": a bin's bound short enough to sit under its bar on the axis."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600 and seconds % 60 == 0:
        return f"{seconds // 60}m"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return duration_text(seconds)


def durations_view(chart: DurationsChart) -> ChartView:
    if chart.count:
        summary = (
            f"{chart.count} calls ended today: median {duration_text(chart.median_seconds or 0)}, "
            f"90th percentile {duration_text(chart.p90_seconds or 0)}, "
            f"longest {duration_text(chart.longest_seconds or 0)}."
        )
    else:
        summary = "No calls ended today yet."
    labels = [bin_label(entry) for entry in chart.bins]
    return ChartView(
        key="durations",
        title="How long calls last",
        summary=summary,
        columns=("Duration (m:ss)", "Calls ended today"),
        rows=[(label, str(entry.count)) for label, entry in zip(labels, chart.bins, strict=True)],
        data={
            "kind": "bars",
            # The axis names each bin by its upper end, short enough for a phone.
            "labels": [
                f"<{_duration_tick(entry.upper_seconds)}"
                if entry.upper_seconds is not None
                else f"{_duration_tick(entry.lower_seconds)}+"
                for entry in chart.bins
            ],
            "x": list(range(len(labels))),
            "series": [{"label": "Calls", "values": [entry.count for entry in chart.bins]}],
        },
    )


def feed_view(chart: FeedHealthChart, zone: ZoneInfo) -> ChartView:
    totals = chart.totals()
    parts = [
        f"{row.organization}: {row.clean_percent} % of {row.polls} polls clean, "
        f"mean {row.mean_ms} ms"
        if row.polls
        else f"{row.organization}: no polls"
        for row in totals
    ]
    return ChartView(
        key="feed",
        title="Feed health over 24 hours",
        summary="; ".join(parts) + "." if parts else "No organizations.",
        columns=(
            "Organization",
            "Hour",
            "Polls",
            "Clean polls",
            "Clean share (%)",
            "Mean poll (ms)",
            "Longest poll (ms)",
        ),
        rows=[
            (
                row.organization,
                _local(row.hour, zone),
                str(row.polls),
                str(row.clean),
                "" if row.clean_percent is None else str(row.clean_percent),
                "" if row.mean_ms is None else str(row.mean_ms),
                str(row.max_ms) if row.polls else "",
            )
            for row in chart.rows
        ],
        data={
            "kind": "time",
            "x": _epoch(chart.hours),
            "percent": True,
            "series": [
                {"label": f"{name}: clean polls (%)", "values": chart.series(name)}
                for name in chart.organizations
            ],
        },
    )


def activity_views(page: ActivityPage) -> list[ChartView]:
    """The charts the page holds, in the order it shows them."""
    zone = ZoneInfo(page.time_zone)
    views = [
        page.live and live_view(page.live, zone),
        page.hourly and hourly_view(page.hourly, zone, page.now),
        page.sources and sources_view(page.sources),
        page.durations and durations_view(page.durations),
        page.feed and feed_view(page.feed, zone),
    ]
    return [view for view in views if view]


def wall_spark_data(trend: WallTrend) -> dict[str, Any]:
    """The wallboard's sparkline: live calls in each of the last 60 minutes."""
    return {
        "kind": "spark",
        "x": _epoch(trend.live.minutes),
        "series": [{"label": "Live calls", "values": list(trend.live.live)}],
    }


def wall_spark_summary(trend: WallTrend) -> str:
    live = trend.live.live
    return (
        f"Live calls over the last 60 minutes: {live[0]} an hour ago, "
        f"{max(live)} at most, {trend.live.live_now} now."
    )
