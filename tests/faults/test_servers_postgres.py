"""PostgreSQL stopped (`pg_ctl stop -m fast`) while a production install polls, then started
again: two Celery workers (threads pool), beat and gunicorn, each a process of its own, keep
running and recover by themselves. Meanwhile pages answer 503 and /healthz says so; afterwards
nothing is lost, duplicated or ended wrongly."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import requests

from calls.sandbox.server import SandboxFeed
from tests.stack import (
    StackDatabase,
    feed_and_database_agree,
    listed_call_ids,
    logged_in,
    production_environment,
    running_stack,
    throwaway_servers,
)

pytestmark = pytest.mark.integration

ORGANIZATIONS = ("82001", "82002")
WORKERS = ("worker-1", "worker-2")


def polled_since(database: StackDatabase, moment: object) -> bool:
    return all(database.clean_polls_since(moment, invoca_id) >= 2 for invoca_id in ORGANIZATIONS)


def status(session: requests.Session, url: str) -> int:
    return session.get(url, timeout=10).status_code


def test_postgres_stopped_and_started_again_everything_recovers_by_itself(
    feed: SandboxFeed, tmp_path: Path
) -> None:
    with running_stack(tmp_path, feed, ORGANIZATIONS, WORKERS) as running:
        stack, database, base_url = running.stack, running.database, running.base_url
        stack.wait_until(partial(polled_since, database, database.now()), timeout=90)
        agent = logged_in(base_url, running.username, running.password)

        marks = stack.log_marks()
        running.postgres.server_stop("fast")

        # Pages: a short 503 page for the signed-in agent, and health says so too.
        stack.wait_until(lambda: status(agent, f"{base_url}/") == 503, timeout=20)
        page = agent.get(f"{base_url}/", timeout=10)
        assert "cannot reach its database" in page.text
        assert page.headers["Retry-After"].isdigit()
        assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 503
        # Beat ticks on: it tried to claim polls, could not, and goes on.
        stack.wait_until(lambda: stack.logged_since(marks, "beat", "poll tick failed"), timeout=20)
        # The feed moves on while polling cannot: a call ends, the feed starts another.
        invoca_id = ORGANIZATIONS[0]
        gone = feed.live_calls(invoca_id)[0]["transaction_id"]
        assert feed.end_call(invoca_id, gone)

        running.postgres.server_start()
        # Nobody restarts anything: the same processes serve, claim and poll again.
        stack.wait_until(partial(polled_since, database, database.now()), timeout=90)
        stack.wait_until(lambda: status(agent, f"{base_url}/") == 200, timeout=30)
        stack.wait_until(lambda: feed_and_database_agree(feed, database, ORGANIZATIONS), timeout=30)
        assert listed_call_ids(agent.get(f"{base_url}/", timeout=10).text) == (
            database.live_call_ids()
        )
        stack.wait_until(lambda: status(agent, f"{base_url}/healthz") == 200, timeout=30)
        assert database.calls(invoca_id, live=False) == {gone: "missed"}
        assert database.calls(ORGANIZATIONS[1], live=False) == {}
        assert database.duplicated_calls() == []
        assert database.repeated_snapshots() == 0
        assert stack.exited() == []


# A process of the stack between two tasks or requests: its connection was opened before the
# restart and sat idle through it. At the start of the next one it does what Django (web) and
# cipdash.celery (tasks) do there, then queries.
_IDLE_THROUGH_A_RESTART = """
import sys
import django
django.setup()
from django.db import close_old_connections, connection
connection.ensure_connection()
print("connected", flush=True)
sys.stdin.readline()
close_old_connections()
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
print("answered", flush=True)
"""


def test_a_connection_idle_through_a_restart_is_replaced_before_it_fails(tmp_path: Path) -> None:
    with throwaway_servers() as (postgres, redis):
        env = production_environment(database_url=postgres.url, redis_url=redis.url)
        process = subprocess.Popen(
            [sys.executable, "-c", _IDLE_THROUGH_A_RESTART],
            cwd=tmp_path,
            env=env | {"CIPDASH_DATA_DIR": str(tmp_path)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None and process.stdin is not None
            line = process.stdout.readline()
            assert line == "connected\n", process.stderr.read() if process.stderr else ""
            postgres.server_stop("fast")
            postgres.server_start()
            process.stdin.write("go\n")
            process.stdin.flush()
            output, errors = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        assert (output, process.returncode) == ("answered\n", 0), errors[-2000:]
