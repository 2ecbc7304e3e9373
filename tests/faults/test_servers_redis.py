"""Redis killed (SIGKILL) and started again under a production install: two Celery workers
(threads pool), beat and gunicorn, each a process of its own, with Redis as their broker,
cache and lock store. Polling resumes by itself, and nothing is lost, duplicated or ended
wrongly."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import requests

from calls.sandbox.server import SandboxFeed
from tests.stack import (
    ProductionStack,
    StackDatabase,
    feed_and_database_agree,
    listed_call_ids,
    logged_in,
    running_stack,
)

pytestmark = pytest.mark.integration

ORGANIZATIONS = ("81001", "81002", "81003")
WORKERS = ("worker-1", "worker-2")


def health_checks(base_url: str) -> dict[str, bool]:
    answer = requests.get(f"{base_url}/healthz", timeout=5).json()
    return {name: check["ok"] for name, check in answer["checks"].items()}


def polled_since(
    stack: ProductionStack, database: StackDatabase, moment: object, marks: dict[str, int]
) -> bool:
    """Each organization polled cleanly twice since the moment, and each worker took part."""
    return all(
        database.clean_polls_since(moment, invoca_id) >= 2 for invoca_id in ORGANIZATIONS
    ) and all(stack.logged_since(marks, name, "outcome=clean") for name in WORKERS)


def reconnecting(stack: ProductionStack, marks: dict[str, int]) -> bool:
    return all(stack.logged_since(marks, name, "Cannot connect to redis") for name in WORKERS)


def test_redis_killed_and_restarted_polling_resumes_by_itself(
    feed: SandboxFeed, tmp_path: Path
) -> None:
    # One task per poll: the organizations' slots fall together, and as one batch their polls
    # could all go to one worker, while this test needs every worker to poll and recover.
    with running_stack(tmp_path, feed, ORGANIZATIONS, WORKERS, POLL_BATCH_SIZE="1") as running:
        stack, database, base_url = running.stack, running.database, running.base_url

        stack.wait_until(partial(polled_since, stack, database, database.now(), {}), timeout=90)
        stack.wait_until(
            partial(feed_and_database_agree, feed, database, ORGANIZATIONS), timeout=30
        )
        agent = logged_in(base_url, running.username, running.password)

        ended_meanwhile: list[tuple[str, str]] = []
        # Back at once, as a supervisor restarts a crashed Redis; then away until every worker
        # has noticed and is trying to reconnect. Each time the workers hold polls due later
        # (beat hands them out ahead of their slots), unacknowledged.
        for wait_for_workers in (False, True):
            marks = stack.log_marks()
            running.redis.kill()
            if wait_for_workers:
                stack.wait_until(partial(reconnecting, stack, marks), timeout=30)
                stack.wait_until(lambda: not health_checks(base_url)["cache"], timeout=10)
                # Pages come from the database: agents still see the calls.
                page = agent.get(f"{base_url}/", timeout=10)
                assert page.status_code == 200
                assert listed_call_ids(page.text) == database.live_call_ids()
                # The feed moves on while polling cannot: a call ends, the feed starts another.
                invoca_id = ORGANIZATIONS[0]
                gone = feed.live_calls(invoca_id)[0]["transaction_id"]
                assert feed.end_call(invoca_id, gone)
                ended_meanwhile.append((invoca_id, gone))
            running.redis.start()
            since = partial(polled_since, stack, database, database.now(), stack.log_marks())
            stack.wait_until(since, timeout=90)

        # Every process recovered by itself: web's cache client, beat's heartbeat, the workers.
        stack.wait_until(lambda: all(health_checks(base_url).values()), timeout=30)
        stack.wait_until(lambda: feed_and_database_agree(feed, database, ORGANIZATIONS), timeout=30)
        for invoca_id, transaction_id in ended_meanwhile:
            assert database.calls(invoca_id, live=False) == {transaction_id: "missed"}
        for invoca_id in ORGANIZATIONS[1:]:
            assert database.calls(invoca_id, live=False) == {}
        assert database.duplicated_calls() == []
        assert database.repeated_snapshots() == 0
        for name in (*WORKERS, "beat"):
            assert "Unrecoverable error" not in stack.log(name), stack.explain()


def test_workers_never_stop_retrying_the_broker():
    # Celery's own default gives up after 100 attempts (under an hour of a Redis outage), and
    # a worker that exits stops every poll it would have run.
    from cipdash.celery import app

    assert app.conf.broker_connection_max_retries is None
