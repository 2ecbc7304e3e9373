"""The Prometheus text of /metrics: the whole system as its database knows it, whichever
process (a web, a Celery worker on another host, `manage.py poll`) made the polls.

Counters and histograms come from the cumulative tallies (calls.services.tallies), gauges
from the organizations' rows and their live calls. A scrape makes the same few statements
however many organizations there are, and its text is reused for METRICS_CACHE_SECONDS, so
however many Prometheus servers scrape, each process builds it at most once per period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from calls.memo import RecentMemo
from calls.metrics import NO_HTTP_STATUS, NO_LAG_BUCKET, POLL_DURATION_BOUNDS, POLL_LAG_BOUNDS
from calls.models import Call, ExportTally, Organization, PollTally

ORGANIZATION = "organization"


def _upper_bounds(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The buckets' `le` labels, +Inf last."""
    return (*map(repr, bounds), "+Inf")


# Worked out once: a scrape labels every organization's buckets with them.
_DURATION_LE = _upper_bounds(POLL_DURATION_BOUNDS)
_LAG_LE = _upper_bounds(POLL_LAG_BOUNDS)


class CipdashCollector(Collector):
    """Each collect() reads the database afresh, in the same six statements however many
    organizations there are."""

    def collect(self) -> Iterator[Metric]:
        yield from _organization_gauges()
        yield from _poll_counters()
        yield _poll_duration_histogram()
        yield _poll_lag_histogram()
        yield from _export_counters()


def metrics_text_build() -> bytes:
    """The exposition text, worked out now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CipdashCollector())
    return generate_latest(registry)


RECENT_METRICS = RecentMemo(
    compute=metrics_text_build, max_age_seconds=settings.METRICS_CACHE_SECONDS
)


def metrics_text() -> bytes:
    """The exposition text as of at most METRICS_CACHE_SECONDS ago (RecentMemo)."""
    return RECENT_METRICS.get()


def _organization_gauges() -> Iterator[Metric]:
    info = InfoMetricFamily(
        "cipdash_organization",
        "Each organization's name, Invoca id and type, by its id.",
        labels=[ORGANIZATION],
    )
    live = GaugeMetricFamily(
        "cipdash_live_calls", "Calls in progress, per organization.", labels=[ORGANIZATION]
    )
    last_clean = GaugeMetricFamily(
        "cipdash_last_successful_poll_timestamp_seconds",
        "When the organization's last clean poll finished (Unix time).",
        labels=[ORGANIZATION],
    )
    live_counts = dict(
        Call.objects.filter(ended_at__isnull=True)
        .values_list("organization_id")
        .annotate(live=Count("pk"))
        .order_by("organization_id")
        .values_list("organization_id", "live")
    )
    organizations = Organization.objects.order_by("pk").values_list(
        "pk", "name", "invoca_id", "organization_type", "poll_state__last_success_at"
    )
    for pk, name, invoca_id, organization_type, last_success_at in organizations:
        label = str(pk)
        info.add_metric([label], {"name": name, "invoca_id": invoca_id, "type": organization_type})
        live.add_metric([label], live_counts.get(pk, 0))
        if last_success_at is not None:
            last_clean.add_metric([label], last_success_at.timestamp())
    yield from (info, live, last_clean)


def _poll_counters() -> Iterator[Metric]:
    polls = CounterMetricFamily(
        "cipdash_polls",
        "Polls made, per organization and outcome.",
        labels=[ORGANIZATION, "outcome"],
    )
    responses = CounterMetricFamily(
        "cipdash_invoca_responses",
        "Answers from Invoca, per organization and HTTP status.",
        labels=[ORGANIZATION, "status"],
    )
    rows = (
        PollTally.objects.values_list("organization_id", "outcome", "http_status")
        .annotate(polls=Sum("count"))
        .order_by("organization_id", "outcome", "http_status")
    )
    by_outcome: defaultdict[tuple[str, str], int] = defaultdict(int)
    by_status: defaultdict[tuple[str, str], int] = defaultdict(int)
    for organization_id, outcome, http_status, count in rows:
        by_outcome[str(organization_id), outcome] += count
        if http_status != NO_HTTP_STATUS:
            by_status[str(organization_id), str(http_status)] += count
    for labels, count in by_outcome.items():
        polls.add_metric(list(labels), count)
    for labels, count in by_status.items():
        responses.add_metric(list(labels), count)
    yield from (polls, responses)


def _poll_duration_histogram() -> Metric:
    histogram = HistogramMetricFamily(
        "cipdash_poll_duration_seconds",
        "How long a poll took, request and recording, per organization.",
        labels=[ORGANIZATION],
    )
    rows = (
        PollTally.objects.values_list("organization_id", "duration_bucket")
        .annotate(polls=Sum("count"), seconds=Sum("duration_sum"))
        .order_by("organization_id", "duration_bucket")
    )
    by_organization: defaultdict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for organization_id, bucket, count, seconds in rows:
        by_organization[organization_id].append((bucket, count, seconds))
    for organization_id, counted in by_organization.items():
        buckets, total = _cumulative(counted, _DURATION_LE)
        histogram.add_metric([str(organization_id)], buckets, total)
    return histogram


def _poll_lag_histogram() -> Metric:
    histogram = HistogramMetricFamily(
        "cipdash_poll_lag_seconds",
        "How late a scheduled poll started after its slot was due.",
    )
    rows = (
        PollTally.objects.exclude(lag_bucket=NO_LAG_BUCKET)
        .values_list("lag_bucket")
        .annotate(polls=Sum("count"), seconds=Sum("lag_sum"))
        .order_by("lag_bucket")
    )
    buckets, total = _cumulative(rows, _LAG_LE)
    histogram.add_metric([], buckets, total)
    return histogram


def _cumulative(
    counted: Iterable[tuple[int, int, float]], upper_bounds: tuple[str, ...]
) -> tuple[list[tuple[str, float]], float]:
    """Prometheus buckets (each counts its own and every lower bucket's polls, the last is
    +Inf) from polls per bucket index, and the sum of the values."""
    per_bucket = [0] * len(upper_bounds)
    total = 0.0
    for bucket, count, seconds in counted:
        per_bucket[min(bucket, len(upper_bounds) - 1)] += count
        total += seconds
    buckets, running = [], 0
    for upper_bound, count in zip(upper_bounds, per_bucket, strict=True):
        running += count
        buckets.append((upper_bound, float(running)))
    return buckets, total


def _export_counters() -> Iterator[Metric]:
    exports = CounterMetricFamily(
        "cipdash_exports", "CSV exports, per door (web, admin, cli).", labels=["door"]
    )
    rows_written = CounterMetricFamily(
        "cipdash_export_rows", "Rows written by CSV exports, per door.", labels=["door"]
    )
    for door, count, rows in ExportTally.objects.order_by("door").values_list(
        "door", "count", "rows"
    ):
        exports.add_metric([door], count)
        rows_written.add_metric([door], rows)
    yield from (exports, rows_written)
