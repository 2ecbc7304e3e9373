"""Clocks for the sandbox: real UTC time, or a manual one that tests move by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

# A fixed, recognisable instant so seeded runs with a manual clock are fully reproducible.
DEFAULT_MANUAL_START = datetime(2026, 11, 23, 17, 0, 0, tzinfo=UTC)


def real_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """Stands still until `advance()` is called. Thread-safe: the server reads it concurrently."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or DEFAULT_MANUAL_START
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
