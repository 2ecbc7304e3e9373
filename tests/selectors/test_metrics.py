"""The /metrics text: what polls and exports made, counted from the tallies whichever
process made them, and the gauges from the organizations' rows; a scrape's statements do not
grow with the number of organizations, and its text is reused for a few seconds."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.invoca import current_calls_parse
from calls.metrics import POLL_DURATION_BOUNDS, POLL_LAG_BOUNDS
from calls.models import Call, OrganizationPollState, PollOutcome, PollRun, Role
from calls.selectors.metrics import RECENT_METRICS, metrics_text, metrics_text_build
from calls.services import poll_result_ingest
from calls.services.polling import organization_poll_slot
from calls.services.tallies import export_tally_add, poll_tally_add
from tests.export.data import T0, calls_ingest, https_client
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    call_payload,
)
from tests.faults.fixtures import feed, make_org
from tests.faults.support import FeedOrganization, poll
from tests.scrape import (
    Samples,
    bucket_values,
    families_parse,
    matching,
    samples_parse,
    value,
)

__all__ = ["feed", "make_org"]
pytestmark = pytest.mark.django_db


def scrape() -> Samples:
    return samples_parse(metrics_text_build().decode())


def refused(make_org: Callable[..., FeedOrganization]) -> FeedOrganization:
    """An organization whose only token the feed does not know."""
    org = make_org()
    org.organization.tokens.update(active=False)
    ApiTokenFactory.create(organization=org.organization, secret="sbx-wrong-token-000000")
    return org


def superseded(org: FeedOrganization) -> str:
    """An answer whose request started before the one already applied."""
    long_ago = timezone.now() - timedelta(minutes=5)
    return poll_result_ingest(
        organization=org.fresh(),
        result=current_calls_parse({"current_calls": []}, http_status=200),
        started_at=long_ago,
        finished_at=long_ago + timedelta(seconds=1),
    ).run.outcome


@pytest.fixture
def polled(feed, make_org) -> dict[str, FeedOrganization]:  # type: ignore[no-untyped-def]
    """Polls with known outcomes: clean twice and superseded once, refused, unavailable."""
    orgs = {"good": make_org(), "refused": refused(make_org), "down": make_org()}
    feed.set_fault("503", invoca_id=orgs["down"].invoca_id)
    assert [poll(orgs["good"]).run.outcome for _ in range(2)] == [PollOutcome.CLEAN] * 2
    assert superseded(orgs["good"]) == PollOutcome.SUPERSEDED
    assert poll(orgs["refused"]).run.outcome == PollOutcome.AUTH_FAILED
    assert poll(orgs["down"]).run.outcome == PollOutcome.UNAVAILABLE
    return orgs


def test_polls_are_counted_per_organization_and_outcome(polled):
    samples = scrape()
    good, refused_, down = (polled[name].organization.pk for name in ("good", "refused", "down"))
    assert value(samples, "cipdash_polls_total", organization=good, outcome="clean") == 2
    assert value(samples, "cipdash_polls_total", organization=good, outcome="superseded") == 1
    assert value(samples, "cipdash_polls_total", organization=refused_, outcome="auth_failed") == 1
    assert value(samples, "cipdash_polls_total", organization=down, outcome="unavailable") == 1
    runs = Counter(PollRun.objects.values_list("organization_id", "outcome"))
    counted = {
        (int(dict(labels)["organization"]), dict(labels)["outcome"]): count
        for labels, count in matching(samples, "cipdash_polls_total").items()
    }
    assert counted == dict(runs)


def test_invoca_responses_are_counted_per_http_status(polled):
    samples = scrape()
    good, refused_, down = (polled[name].organization.pk for name in ("good", "refused", "down"))
    assert value(samples, "cipdash_invoca_responses_total", organization=good, status=200) == 3
    assert value(samples, "cipdash_invoca_responses_total", organization=refused_, status=401) == 1
    assert value(samples, "cipdash_invoca_responses_total", organization=down, status=503) == 1


def test_the_duration_histogram_is_cumulative_and_counts_every_poll(polled):
    samples = scrape()
    for org in polled.values():
        runs = PollRun.objects.filter(organization=org.organization)
        buckets = bucket_values(
            samples,
            "cipdash_poll_duration_seconds",
            POLL_DURATION_BOUNDS,
            organization=org.organization.pk,
        )
        assert buckets == sorted(buckets)  # cumulative: never fewer under a higher bound
        assert buckets[-1] == runs.count()
        count = value(
            samples, "cipdash_poll_duration_seconds_count", organization=org.organization.pk
        )
        assert count == runs.count()
        seconds = value(
            samples, "cipdash_poll_duration_seconds_sum", organization=org.organization.pk
        )
        recorded = sum(run.duration_ms for run in runs) / 1000
        assert seconds == pytest.approx(recorded, abs=0.001 * runs.count())


def test_only_a_scheduled_slot_has_a_lag(feed, make_org):
    org = make_org(poll_interval_seconds=60.0)
    due = timezone.now() - timedelta(seconds=0.3)
    assert organization_poll_slot(organization_id=org.organization.pk, slot_at=due) == "clean"
    assert poll(org).clean  # not a slot: `manage.py poll`, Poll now
    samples = scrape()
    assert value(samples, "cipdash_poll_lag_seconds_count") == 1
    lag = value(samples, "cipdash_poll_lag_seconds_sum")
    assert lag is not None and lag >= 0.3
    assert value(samples, "cipdash_poll_lag_seconds_bucket", le="0.25") == 0
    assert value(samples, "cipdash_poll_lag_seconds_bucket", le="+Inf") == 1
    buckets = bucket_values(samples, "cipdash_poll_lag_seconds", POLL_LAG_BOUNDS)
    assert buckets == sorted(buckets)
    polls = value(samples, "cipdash_polls_total", organization=org.organization.pk, outcome="clean")
    assert polls == 2


def test_gauges_show_live_calls_last_clean_poll_and_names():
    busy = OrganizationFactory.create(name="Busy & Co", clean_misses_to_end=1)
    idle = OrganizationFactory.create(name="Idle")
    calls_ingest(busy, [call_payload("A"), call_payload("B")], T0)
    calls_ingest(busy, [call_payload("A")], T0 + timedelta(seconds=5))  # B ends
    samples = scrape()
    assert value(samples, "cipdash_live_calls", organization=busy.pk) == 1
    assert value(samples, "cipdash_live_calls", organization=idle.pk) == 0
    last = OrganizationPollState.objects.get(pk=busy.pk).last_success_at
    assert last is not None
    assert value(
        samples, "cipdash_last_successful_poll_timestamp_seconds", organization=busy.pk
    ) == pytest.approx(last.timestamp())
    assert not matching(
        samples, "cipdash_last_successful_poll_timestamp_seconds", organization=idle.pk
    )
    info = {
        "organization": str(busy.pk),
        "name": "Busy & Co",
        "invoca_id": busy.invoca_id,
        "type": busy.organization_type,
    }
    assert value(samples, "cipdash_organization_info", **info) == 1


def test_the_families_have_the_types_prometheus_expects():
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload("A")], T0)
    assert families_parse(metrics_text_build().decode()) == {
        # The text format has no info type: an info metric is a gauge of 1 named *_info.
        "cipdash_organization_info": "gauge",
        "cipdash_live_calls": "gauge",
        "cipdash_last_successful_poll_timestamp_seconds": "gauge",
        "cipdash_polls": "counter",
        "cipdash_invoca_responses": "counter",
        "cipdash_poll_duration_seconds": "histogram",
        "cipdash_poll_lag_seconds": "histogram",
        "cipdash_exports": "counter",
        "cipdash_export_rows": "counter",
    }


def test_exports_are_counted_per_door_with_their_rows():
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload("A"), call_payload("B")], T0)
    web = https_client()
    supervisor = UserFactory.create()
    MembershipFactory.create(user=supervisor, organization=org, role=Role.SUPERVISOR)
    web.force_login(supervisor)
    download: Any = web.get(reverse("calls:export"))
    assert b"".join(download.streaming_content).count(b"\n") == 3
    admin = https_client()
    admin.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    selected = Call.objects.get(transaction_id="A")
    response: Any = admin.post(
        reverse("admin:calls_call_changelist"),
        {"action": "export_csv", ACTION_CHECKBOX_NAME: [str(selected.pk)]},
    )
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))) == 2
    for _ in range(2):
        call_command("export_calls", stdout=StringIO())
    samples = scrape()
    assert value(samples, "cipdash_exports_total", door="web") == 1
    assert value(samples, "cipdash_export_rows_total", door="web") == 2
    assert value(samples, "cipdash_exports_total", door="admin") == 1
    assert value(samples, "cipdash_export_rows_total", door="admin") == 1
    assert value(samples, "cipdash_exports_total", door="cli") == 2
    assert value(samples, "cipdash_export_rows_total", door="cli") == 4


def tallied_organizations(count: int) -> None:
    for _ in range(count):
        org = OrganizationFactory.create()
        calls_ingest(org, [call_payload(f"{org.pk}-A")], T0)
        for outcome, status in (("clean", 200), ("unavailable", 503), ("error", None)):
            poll_tally_add(
                organization_id=org.pk,
                outcome=outcome,
                http_status=status,
                duration_seconds=0.2,
                lag_seconds=0.4,
            )


def test_a_scrape_makes_as_many_statements_for_twenty_organizations_as_for_two():
    statements = []
    for count in (2, 18):
        tallied_organizations(count)
        with CaptureQueriesContext(connection) as queries:
            text = metrics_text_build().decode()
        statements.append(len(queries))
        assert len(matching(samples_parse(text), "cipdash_live_calls")) == Call.objects.count()
    assert statements == [6, 6]  # organizations, live calls, three tally reads, exports


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    stopped = Clock()
    monkeypatch.setattr(RECENT_METRICS, "clock", stopped)
    RECENT_METRICS.clear()
    yield stopped
    RECENT_METRICS.clear()


def test_the_text_is_reused_for_its_cache_seconds(clock, settings):
    org = OrganizationFactory.create()
    first = metrics_text()
    calls_ingest(org, [call_payload("A")], T0)
    with CaptureQueriesContext(connection) as queries:
        assert metrics_text() == first
    assert len(queries) == 0
    clock.at += RECENT_METRICS.max_age_seconds
    assert (
        value(samples_parse(metrics_text().decode()), "cipdash_live_calls", organization=org.pk)
        == 1
    )
    assert RECENT_METRICS.max_age_seconds == settings.METRICS_CACHE_SECONDS


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "cipdash.json"


def test_the_grafana_dashboard_plots_only_what_the_endpoint_exposes():
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload("A")], T0)  # a live call, a last clean poll
    poll_tally_add(
        organization_id=org.pk,
        outcome="clean",
        http_status=200,
        duration_seconds=0.2,
        lag_seconds=0.1,
    )
    export_tally_add(door="web", rows=1)
    exposed = {name for name, _labels in scrape()}
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for expression in expressions for name in re.findall(r"cipdash_\w+", expression)}
    assert named and named <= exposed
    # Every family of the endpoint is plotted (the info metric names the organizations).
    plotted_families = {re.sub(r"_(bucket|total|info)$", "", name) for name in named}
    exposed_families = {re.sub(r"_(bucket|count|sum|total|info)$", "", name) for name in exposed}
    assert plotted_families == exposed_families
    # Imported, it asks which Prometheus to read, and every panel reads that one.
    assert [source["name"] for source in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["name"]) == ("datasource", "datasource")
    sources = {
        json.dumps(item["datasource"], sort_keys=True)
        for panel in dashboard["panels"]
        for item in (panel, *panel["targets"])
    }
    assert sources == {json.dumps({"type": "prometheus", "uid": "${datasource}"}, sort_keys=True)}
