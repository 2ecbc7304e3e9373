"""The Activity page and its CSV: every role sees counts of its own organizations only, the
tables and CSVs hold the same cells (formulas neutralised), and an unchanged minute refresh
answers 204 for the cost of the list's."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.models import HighlightRule
from tests.factories import call_payload
from tests.views.conftest import World, ingest

HTMX = {"HX-Request": "true"}


def table_rows(body: str, chart: str) -> list[list[str]]:
    """The cells of a chart's "Show data" table, as the page shows them."""
    table = re.search(rf'<table class="data-table" data-table="{chart}">(.*?)</table>', body, re.S)
    assert table is not None, chart
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
        if "<td>" in row
    ]


def csv_rows(world: World, persona: str, chart: str, query: str = "") -> list[list[str]]:
    response = world.client_for(persona).get(f"/activity/{chart}.csv{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("persona", ["agent", "supervisor", "restricted", "staff"])
def test_every_role_sees_the_page_linked_from_the_navigation(world: World, persona: str) -> None:
    response = world.client_for(persona).get("/activity/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'href="/activity/" aria-current="page">Activity</a>' in body
    for chart in ("live", "hourly", "sources", "durations", "feed"):
        assert f'data-table="{chart}"' in body
        assert f'href="/activity/{chart}.csv' in body
    assert "<summary>Show data" in body
    live_now = 2 if persona == "staff" else 1  # staff see every organization
    label = f'role="img" aria-label="Live calls over the last 24 hours: {live_now} live now'
    assert label in body
    assert 'href="/activity/"' in world.client_for(persona).get("/").content.decode()


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    assert world.client_for("anonymous").get("/activity/").status_code == 302
    assert world.client_for("anonymous").get("/activity/live.csv").status_code == 302


def test_another_organizations_calls_never_show(world: World) -> None:
    outsider = world.client_for("outsider").get("/activity/").content.decode()
    assert "Spring Promo" not in outsider and "Home Org" not in outsider
    assert "Spring Promo" in world.client_for("agent").get("/activity/").content.decode()
    # Picking a foreign organization falls back to the viewer's own.
    picked = world.client_for("outsider").get(f"/activity/?org={world.home.pk}")
    assert "Spring Promo" not in picked.content.decode()
    rows = csv_rows(world, "outsider", "sources", f"?org={world.home.pk}")
    assert all("Spring Promo" not in row for row in rows)


def test_restricted_sees_no_place_groups(world: World) -> None:
    world.home.pinned_fields = ["lead_type", "caller_city"]
    world.home.save()
    ingest(
        world.home,
        [
            call_payload("HOME1", advertiser_campaign_name="Spring Promo"),
            call_payload("CITY", custom_data={"caller_city": {"value": "Torrance", "source": ""}}),
        ],
    )
    assert "Torrance" in world.client_for("supervisor").get("/activity/").content.decode()
    restricted = world.client_for("restricted").get("/activity/").content.decode()
    assert "Torrance" not in restricted and "caller_city" not in restricted
    assert all("Torrance" not in row for row in csv_rows(world, "restricted", "sources"))


def test_show_data_tables_and_csv_hold_the_same_cells(world: World) -> None:
    HighlightRule.objects.create(
        organization=world.home, field="lead_type", value="hot", label="HOT LEAD"
    )
    body = world.client_for("supervisor").get("/activity/").content.decode()
    for chart in ("live", "hourly", "sources", "durations", "feed"):
        rows = csv_rows(world, "supervisor", chart)
        assert table_rows(body, chart) == rows[1:], chart
    sources = table_rows(body, "sources")
    assert ["Campaign", "Spring Promo", "1", "1", "1", "1"] in sources
    assert ["lead_type", "hot", "1", "1", "1", "1"] in sources


def test_csv_cells_are_neutralised(world: World) -> None:
    ingest(
        world.home,
        [
            call_payload("HOME1", advertiser_campaign_name="Spring Promo"),
            call_payload("EVIL", advertiser_campaign_name='=HYPERLINK("http://x")'),
        ],
    )
    rows = csv_rows(world, "supervisor", "sources")
    assert ["Campaign", '\'=HYPERLINK("http://x")', "1", "0", "1", "0"] in rows
    assert world.client_for("supervisor").get("/activity/nope.csv").status_code == 404


def test_unchanged_refresh_answers_204_as_cheaply_as_the_list(world: World) -> None:
    client = world.client_for("agent")
    first = client.get("/activity/", headers=HTMX)
    version = first.context["version"]
    assert first.status_code == 200 and 'id="activity-region"' in first.content.decode()
    assert "<html" not in first.content.decode()  # the region only
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/activity/", headers={**HTMX, "X-Feed-Version": version})
    assert again.status_code == 204 and again.content == b""
    assert len(queries) <= 3  # session, user, the viewer's one query: as the list
    listed = client.get("/", headers=HTMX)
    with CaptureQueriesContext(connection) as list_queries:
        client.get("/", headers={**HTMX, "X-Feed-Version": listed.context["version"]})
    assert len(queries) <= len(list_queries)

    ingest(world.home, [call_payload("HOME1"), call_payload("HOME2")])
    changed = client.get("/activity/", headers={**HTMX, "X-Feed-Version": version})
    assert changed.status_code == 200 and changed.context["version"] != version
    assert changed.context["live"].live_now == 2


def test_wallboard_shows_the_last_hour_and_this_hour(world: World) -> None:
    body = world.client_for("agent").get("/wall/").content.decode()
    assert 'data-chart="wall-spark-data"' in body and 'id="wall-spark-data"' in body
    assert "Live calls over the last 60 minutes" in body
    hour = re.search(r'data-wall-hour><span class="wall-value">(\d+)</span> vs (\d+)', body)
    assert hour is not None and hour.groups() == ("1", "0")


def test_duration_axis_names_each_bin_in_a_few_characters(world: World) -> None:
    body = world.client_for("supervisor").get("/activity/").content.decode()
    found = re.search(
        r'<script id="chart-durations-data" type="application/json">(.*?)</script>', body
    )
    assert found is not None
    labels = json.loads(found.group(1))["labels"]
    assert labels == ["<30s", "<1m", "<2m", "<3m", "<5m", "<10m", "<20m", "<30m", "<1h", "1h+"]
