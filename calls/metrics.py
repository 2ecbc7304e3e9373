"""The histogram buckets of /metrics, shared by the poll tallies that fill them
(calls.services.tallies) and the scrape that reads them (calls.selectors.metrics).

A tally row keeps the index of its bucket, not the value, so changing a bound reassigns the
polls already counted: append bounds rather than move them."""

from __future__ import annotations

from bisect import bisect_left

# Upper bounds in seconds (Prometheus `le`); an index past the last one is +Inf.
POLL_DURATION_BOUNDS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Start of a scheduled poll minus its slot: how far behind the schedule the workers are.
POLL_LAG_BOUNDS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

# The key values that stand for "none" (a unique key never matches NULLs).
NO_HTTP_STATUS = 0
NO_LAG_BUCKET = -1


def bucket_index(value: float, bounds: tuple[float, ...]) -> int:
    """The first bucket whose upper bound holds `value` (len(bounds): only +Inf does)."""
    return bisect_left(bounds, value)
