"""The Activity page's feed charts, from poll runs: the spans in which an organization's feed
was failing or stale (shaded on the live calls chart), and its hourly poll health."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum

from calls.models import PollOutcome, PollRun
from calls.selectors.binning import HOUR, MINUTE, Bins, counted_rows
from calls.selectors.viewer import STALE_AFTER_INTERVALS, OrganizationView, Viewer

# Answers that were polls of a working feed, whatever they held.
ANSWERED_OUTCOMES = (
    PollOutcome.CLEAN,
    PollOutcome.FILTERED,
    PollOutcome.PARTIAL,
    PollOutcome.SUPERSEDED,
)
# A minute without a poll counts as stale only after this long without any, so that one slow
# or skipped slot is not shaded.
STALE_AT_LEAST = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class FeedSpan:
    """Consecutive minutes in which an organization's feed failed or stayed silent."""

    organization: str
    kind: str  # "failing" or "stale"
    start: datetime
    end: datetime

    @property
    def words(self) -> str:
        return "feed failing" if self.kind == "failing" else "no polls (feed stale)"


@dataclass(frozen=True, slots=True)
class FeedHour:
    organization: str
    hour: datetime
    polls: int
    clean: int
    total_ms: int
    max_ms: int

    @property
    def clean_percent(self) -> float | None:
        return None if not self.polls else round(100 * self.clean / self.polls, 1)

    @property
    def mean_ms(self) -> int | None:
        return None if not self.polls else round(self.total_ms / self.polls)


@dataclass(frozen=True, slots=True)
class FeedHealthChart:
    """Per organization and hour of the last 24 hours: polls, clean share, poll duration."""

    hours: tuple[datetime, ...]
    organizations: tuple[str, ...]
    rows: tuple[FeedHour, ...]

    def totals(self) -> list[FeedHour]:
        """One row per organization over the whole 24 hours."""
        totals = []
        for name in self.organizations:
            hours = [row for row in self.rows if row.organization == name]
            totals.append(
                FeedHour(
                    organization=name,
                    hour=self.hours[0],
                    polls=sum(row.polls for row in hours),
                    clean=sum(row.clean for row in hours),
                    total_ms=sum(row.total_ms for row in hours),
                    max_ms=max((row.max_ms for row in hours), default=0),
                )
            )
        return totals

    def series(self, name: str) -> list[float | None]:
        return [row.clean_percent for row in self.rows if row.organization == name]


def _poll_runs_binned(*, viewer: Viewer, bins: Bins) -> QuerySet[PollRun, tuple[Any, ...]]:
    """The viewer's poll runs inside the bins, grouped by organization and bin: the
    aggregates added to it are counted per group."""
    return (
        PollRun.objects.filter(
            organization_id__in=viewer.ids, started_at__gte=bins.start, started_at__lt=bins.end
        )
        .order_by()
        .annotate(bin=bins.index("started_at"))
        .values_list("organization_id", "bin")
    )


def _poll_minutes(*, viewer: Viewer, bins: Bins) -> dict[int, dict[int, tuple[int, int]]]:
    """Per organization and minute bin: (polls, answered polls)."""
    rows = _poll_runs_binned(viewer=viewer, bins=bins).annotate(
        polls=Count("pk"), answered=Count("pk", filter=Q(outcome__in=ANSWERED_OUTCOMES))
    )
    minutes: dict[int, dict[int, tuple[int, int]]] = {}
    for organization_id, index, polls, answered in counted_rows(rows):
        minutes.setdefault(organization_id, {})[index] = (polls, answered)
    return minutes


def _stale_lookback(organization: OrganizationView) -> int:
    grace = max(
        timedelta(seconds=organization.poll_interval_seconds * STALE_AFTER_INTERVALS),
        STALE_AT_LEAST,
    )
    return math.ceil(grace / MINUTE)


def feed_spans(*, viewer: Viewer, bins: Bins, now: datetime) -> tuple[FeedSpan, ...]:
    """Minutes in which an organization's polls all failed, or in which it had no poll for
    longer than its interval allows while polling was on, joined into spans."""
    lookback = max((_stale_lookback(org) for org in viewer.organizations), default=0)
    polled = Bins(start=bins.start - MINUTE * lookback, width=MINUTE, count=bins.count + lookback)
    minutes = _poll_minutes(viewer=viewer, bins=polled)
    spans: list[FeedSpan] = []
    for organization in viewer.organizations:
        kinds = _minute_kinds(
            organization=organization,
            polls=minutes.get(organization.id, {}),
            bins=bins,
            lookback=lookback,
            now=now,
        )
        spans.extend(_joined(organization.name, kinds, bins))
    return tuple(sorted(spans, key=lambda span: (span.start, span.organization)))


def _minute_kinds(
    *,
    organization: OrganizationView,
    polls: Mapping[int, tuple[int, int]],
    bins: Bins,
    lookback: int,
    now: datetime,
) -> list[str]:
    """ "failing", "stale" or "" for each minute of `bins` (`polls` counts from `lookback`
    minutes before its start)."""
    silence = _stale_lookback(organization)
    kinds = []
    for index, moment in enumerate(bins.moments()):
        polls_here, answered = polls.get(index + lookback, (0, 0))
        if polls_here:
            kinds.append("failing" if not answered else "")
            continue
        recent = any(
            polls.get(index + lookback - back, (0, 0))[0] for back in range(1, silence + 1)
        )
        started = moment - MINUTE * silence >= organization.created_at
        kinds.append(
            "stale" if organization.enabled and started and not recent and moment < now else ""
        )
    return kinds


def _joined(name: str, kinds: list[str], bins: Bins) -> list[FeedSpan]:
    spans: list[FeedSpan] = []
    moments = bins.moments()
    for index, kind in enumerate(kinds):
        if not kind:
            continue
        if spans and spans[-1].kind == kind and spans[-1].end == moments[index]:
            last = spans.pop()
            spans.append(FeedSpan(name, kind, last.start, moments[index] + MINUTE))
        else:
            spans.append(FeedSpan(name, kind, moments[index], moments[index] + MINUTE))
    return spans


def feed_health_chart(*, viewer: Viewer, now: datetime) -> FeedHealthChart:
    """Polls per organization and hour over the last 24 hours."""
    end = now.replace(minute=0, second=0, microsecond=0) + HOUR
    bins = Bins(start=end - HOUR * 24, width=HOUR, count=24)
    rows = _poll_runs_binned(viewer=viewer, bins=bins).annotate(
        polls=Count("pk"),
        clean_polls=Count("pk", filter=Q(outcome=PollOutcome.CLEAN)),
        total_ms=Sum("duration_ms"),
        max_ms=Max("duration_ms"),
    )
    found = {(org, index): values for org, index, *values in rows}
    hours = bins.moments()
    return FeedHealthChart(
        hours=tuple(hours),
        organizations=tuple(org.name for org in viewer.organizations),
        rows=tuple(
            FeedHour(org.name, hour, *found.get((org.id, index), (0, 0, 0, 0)))
            for org in viewer.organizations
            for index, hour in enumerate(hours)
        ),
    )
