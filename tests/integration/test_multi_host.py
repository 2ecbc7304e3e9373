"""The shape of a multi-host install: gunicorn, beat and two Celery workers, each started in a
working directory and CIPDASH_DATA_DIR of its own, sharing nothing but PostgreSQL and Redis.
The stack polls, serves and exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from calls.sandbox.clock import ManualClock
from calls.sandbox.server import SandboxFeed
from tests.stack import (
    feed_and_database_agree,
    listed_call_ids,
    logged_in,
    running_stack,
)

pytestmark = pytest.mark.integration

ORGANIZATIONS = ("83001", "83002", "83003")
WORKERS = ("worker-1", "worker-2")


def test_a_stack_sharing_only_its_servers_polls_serves_and_exports(tmp_path: Path) -> None:
    # A clock that stands still: the feed's calls stay live for the whole test. One task per
    # poll: the organizations' slots fall together, and as one batch their polls could all
    # go to one worker, while this test needs both hosts to poll.
    with (
        SandboxFeed(seed=5, clock=ManualClock(), target_live=3) as feed,
        running_stack(
            tmp_path / "hosts", feed, ORGANIZATIONS, WORKERS, POLL_BATCH_SIZE="1"
        ) as running,
    ):
        stack, database, base_url = running.stack, running.database, running.base_url

        # Polls from both workers' hosts, and every live call of the feed in the database.
        stack.wait_until(
            lambda: (
                all(stack.logged_since({}, name, "outcome=clean") for name in WORKERS)
                and feed_and_database_agree(feed, database, ORGANIZATIONS)
            ),
            timeout=90,
        )
        live = database.live_call_ids()
        assert live

        agent = logged_in(base_url, running.username, running.password)
        page = agent.get(f"{base_url}/", timeout=10)
        assert page.status_code == 200
        assert listed_call_ids(page.text) == live

        export = agent.get(f"{base_url}/export.csv", timeout=30)
        assert export.status_code == 200
        assert export.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert {row["transaction_id"] for row in rows} == {
            call["transaction_id"]
            for invoca_id in ORGANIZATIONS
            for call in feed.live_calls(invoca_id)
        }
        assert stack.exited() == []

    # Production keeps nothing on local disk that another host would need: no SQLite
    # database and no filesystem broker queue in any process's data directory.
    left = {path.name for path in (tmp_path / "hosts").rglob("*") if path.is_file()}
    assert not {name for name in left if name.endswith(".sqlite3")}
    assert not list((tmp_path / "hosts").rglob("broker"))
