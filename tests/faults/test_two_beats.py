"""Two `celery beat` processes at once (a second one slipped in), with a worker, on the same
database and Redis: still exactly one Invoca request per organization per interval, counted
at the sandbox feed."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from calls.models import Call, OrganizationPollState, PollOutcome, PollRun
from tests.faults.processes import (
    ROOT,
    CeleryWorker,
    redis_worker_environment,
    wait_until,
)
from tests.servers import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

INTERVAL = 2.0
SLOTS = 5
FAR_AHEAD = datetime(2100, 1, 1, tzinfo=UTC)


class CeleryBeat:
    """A stand-alone `celery beat` with its own schedule file, as a second host would run."""

    def __init__(self, env: dict[str, str]) -> None:
        directory = Path(tempfile.mkdtemp(prefix="cipdash-beat-"))
        self.log_path = directory / "beat.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "cipdash", "beat"),
                *("--loglevel", "INFO", "--schedule", str(directory / "schedule")),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def __enter__(self) -> CeleryBeat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def arrivals(feed) -> Iterator[dict[str, list[float]]]:  # type: ignore[no-untyped-def]
    """When each organization's requests reached the feed (wall clock)."""
    seen: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    record = feed.record_request

    def recording(invoca_id: str | None) -> None:
        with lock:
            seen[str(invoca_id)].append(time.time())
        record(invoca_id)

    feed.record_request = recording
    try:
        yield seen
    finally:
        feed.record_request = record


def test_two_beats_still_make_one_request_per_organization_per_interval(feed, make_org, arrivals):
    orgs = [make_org(target_live=2, poll_interval_seconds=INTERVAL) for _ in range(3)]
    pks = [org.organization.pk for org in orgs]
    OrganizationPollState.objects.filter(pk__in=pks).update(next_poll_at=FAR_AHEAD)  # not yet
    redis = RedisServer().start()
    env = redis_worker_environment(redis.url, timeout="1")
    try:
        # The worker runs one beat (-B), the second beat runs on its own.
        with CeleryWorker(env) as worker, CeleryBeat(env) as second_beat:

            def logs() -> str:
                return worker.log()[-3000:] + "\n---\n" + second_beat.log()[-3000:]

            wait_until(
                lambda: (
                    "ready." in worker.log()
                    and "Starting..." in worker.log()
                    and "Starting..." in second_beat.log()
                ),
                timeout=60,
                explain=logs,
            )
            # Every organization's first slot just ahead, so that each slot is known exactly:
            # the k-th falls at first + k * interval for as long as the claims keep up.
            first = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
            OrganizationPollState.objects.filter(pk__in=pks).update(next_poll_at=first)
            wait_until(
                lambda: min(len(arrivals[org.invoca_id]) for org in orgs) >= SLOTS,
                timeout=60,
                explain=logs,
            )
            assert second_beat.process.poll() is None, logs()
            claimed = _claims_stop(pks, first)
            # Every claimed slot served, and past: a duplicate would have been sent by now.
            last_slot_passed = first + timedelta(seconds=max(claimed.values()) * INTERVAL)
            wait_until(
                lambda: (
                    timezone.now() > last_slot_passed
                    and all(
                        len(arrivals[org.invoca_id]) >= claimed[org.organization.pk] for org in orgs
                    )
                ),
                timeout=30,
                explain=logs,
            )
        # Stopped: the worker finished whatever it had started.
    finally:
        redis.stop()

    for org in orgs:
        slots = claimed[org.organization.pk]
        assert slots >= SLOTS
        # Exactly one request in each interval [first + k * interval, first + (k+1) * interval).
        times = sorted(arrivals[org.invoca_id])
        intervals = [math.floor((t - first.timestamp()) / INTERVAL) for t in times]
        assert intervals == list(range(slots)), (intervals, slots)
        runs = PollRun.objects.filter(organization=org.organization)
        assert set(runs.values_list("outcome", flat=True)) == {PollOutcome.CLEAN}
        assert runs.count() == slots
    assert Call.objects.filter(ended_at__isnull=False).count() == 0


def _claims_stop(pks: list[int], first: datetime) -> dict[int, int]:
    """Stop all further claims, and count the slots each organization's claims reached."""
    with transaction.atomic():
        reached = dict(
            OrganizationPollState.objects.select_for_update()
            .filter(pk__in=pks)
            .values_list("pk", "next_poll_at")
        )
        OrganizationPollState.objects.filter(pk__in=pks).update(next_poll_at=FAR_AHEAD)
    claimed = {}
    for pk, next_slot in reached.items():
        assert next_slot is not None
        count = (next_slot - first).total_seconds() / INTERVAL
        assert count == int(count), "a claim fell behind its slots"
        claimed[pk] = int(count)
    return claimed
