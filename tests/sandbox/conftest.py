from __future__ import annotations

from collections.abc import Iterator

import pytest

from calls.sandbox import ManualClock, SandboxFeed

from . import two_org_feed


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    """The two-organization feed on a clock that moves only when a test says so."""
    feed = two_org_feed(seed=1, clock=ManualClock())
    yield feed
    feed.stop()
