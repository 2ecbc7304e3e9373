"""/metrics shows the whole system: polls made by `manage.py poll` in processes of their own
(as Celery workers on other hosts make theirs) are counted in the web's scrape."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from calls.models import PollRun
from calls.selectors.metrics import RECENT_METRICS
from tests.export.data import HttpsClient
from tests.factories import ApiTokenFactory
from tests.faults.processes import ROOT, shared_database_environment
from tests.scrape import matching, samples_parse, value

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
TOKEN = "mtr-processes-8c1d2e3f4a5b"


def poll_processes(*organization_ids: int) -> list[subprocess.Popen[bytes]]:
    """`manage.py poll --org N` for each id, all at once."""
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "poll", "--org", str(organization_id)],
            cwd=ROOT,
            env=shared_database_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for organization_id in organization_ids
    ]


def test_polls_made_by_other_processes_are_counted_in_the_webs_scrape(feed, make_org, settings):
    good, refused, down = make_org(), make_org(), make_org()
    refused.organization.tokens.update(active=False)
    ApiTokenFactory.create(organization=refused.organization, secret="sbx-wrong-token-111111")
    feed.set_fault("503", invoca_id=down.invoca_id)
    ids = [org.organization.pk for org in (good, good, refused, down)]

    exit_codes = []
    for process in poll_processes(*ids):
        _out, err = process.communicate(timeout=120)
        exit_codes.append(process.returncode)
        assert b"Traceback" not in err, err.decode()
    assert exit_codes == [0, 0, 1, 1]  # the command's status: 0 only for a clean poll
    assert feed.request_count() == 4

    settings.METRICS_TOKEN = TOKEN
    RECENT_METRICS.clear()
    response = HttpsClient().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    samples = samples_parse(response.content.decode())

    def polls(org, outcome):  # type: ignore[no-untyped-def]
        return value(
            samples, "cipdash_polls_total", organization=org.organization.pk, outcome=outcome
        )

    assert polls(good, "clean") == 2
    assert polls(refused, "auth_failed") == 1
    assert polls(down, "unavailable") == 1
    assert sum(matching(samples, "cipdash_polls_total").values()) == 4
    assert Counter(PollRun.objects.values_list("organization_id", flat=True)) == Counter(ids)
    assert value(samples, "cipdash_poll_duration_seconds_count", organization=ids[0]) == 2
    assert (
        value(
            samples, "cipdash_invoca_responses_total", organization=down.organization.pk, status=503
        )
        == 1
    )
    assert value(samples, "cipdash_live_calls", organization=good.organization.pk) == len(
        feed.live_calls(good.invoca_id)
    )
    assert value(samples, "cipdash_poll_lag_seconds_count") == 0  # manual polls have no slot
