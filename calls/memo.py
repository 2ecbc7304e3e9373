"""A value worked out at most once per period in a process, for endpoints anyone may call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentMemo(Generic[T]):
    """A value computed at most once per `max_age_seconds` in this process (the read-only
    health of /healthz, the /metrics text): the first caller of a period computes, the others
    wait on the lock and share its result. Keyed by nothing a caller sends."""

    def __init__(
        self,
        *,
        compute: Callable[[], T],
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = 1.0,
    ) -> None:
        self.compute = compute
        self.clock = clock
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._computed_at = 0.0

    def get(self) -> T:
        with self._lock:
            now = self.clock()
            if self._value is None or now - self._computed_at >= self.max_age_seconds:
                self._value = self.compute()
                self._computed_at = now
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None
