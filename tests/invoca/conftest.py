from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from calls.invoca import CallFilters, CurrentCallsRequest
from calls.sandbox.server import SandboxFeed

# A copy of shared/invoca-samples.json, so the suite does not depend on files outside the repo.
SAMPLES_PATH = Path(__file__).with_name("invoca-samples.json")
FEED_ORG = "1001"
FEED_TOKEN = "sbx-token-1001-Zq8"
DEFAULT_TOKEN = "raw-token-abc123"


def samples() -> dict[str, Any]:
    return json.loads(SAMPLES_PATH.read_text())


def make_request(
    base_url: str = "https://invoca.net/api/2022-08-01",
    token: str = DEFAULT_TOKEN,
    filters: CallFilters | None = None,
    **timing: Any,
) -> CurrentCallsRequest:
    return CurrentCallsRequest(
        base_url=base_url,
        organization_type="Network",
        organization_id=FEED_ORG,
        token=token,
        filters=filters or CallFilters(),
        **timing,
    )


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    """The sandbox feed over real HTTP, with one organization and no calls of its own."""
    with SandboxFeed(seed=3, target_live=0) as sandbox:
        sandbox.add_organization(FEED_ORG, FEED_TOKEN, target_live=0)
        yield sandbox
