"""End to end: known calls served by the sandbox feed over real HTTP, polled by the product,
some ended, the feed failing for a while; the Activity page's "Show data" tables must hold
what the feed served and what the polls recorded."""

from __future__ import annotations

from django.utils import timezone

from calls.models import HighlightRule, PollRun
from calls.sandbox.server import SandboxFeed
from calls.services.polling import organization_poll
from tests.factories import ApiTokenFactory, call_payload
from tests.views.conftest import World
from tests.views.test_activity import table_rows

TOKEN = "home-token-activity-1"
CAMPAIGNS = {"SRV-A": "Spring Promo", "SRV-B": "Spring Promo", "SRV-C": "Summer Sale"}


def test_show_data_tables_hold_what_the_feed_served(world: World) -> None:
    HighlightRule.objects.create(
        organization=world.home, field="lead_type", value="hot", label="HOT LEAD"
    )
    with SandboxFeed(seed=3, target_live=0) as feed:
        feed.add_organization(world.home.invoca_id, TOKEN)
        for transaction_id, campaign in CAMPAIGNS.items():
            lead = "hot" if transaction_id == "SRV-A" else "cold"
            feed.add_call(
                world.home.invoca_id,
                call_payload(
                    transaction_id,
                    advertiser_campaign_name=campaign,
                    bridge_start_time=timezone.now().isoformat(),
                    custom_data={"lead_type": {"value": lead, "source": "Api"}},
                ),
            )
        world.home.api_base_url = feed.url
        world.home.save(update_fields=["api_base_url"])
        ApiTokenFactory.create(organization=world.home, secret=TOKEN)

        def poll() -> str:
            return str(organization_poll(organization=world.home).run.outcome)

        outcomes = [poll()]
        feed.end_call(world.home.invoca_id, "SRV-C")
        outcomes += [poll(), poll()]  # two clean misses end it
        feed.set_fault("503", world.home.invoca_id, count=2)
        outcomes += [poll(), poll(), poll()]
        served = feed.request_count(world.home.invoca_id)

    # HOME1 (from the world) is absent from the feed: the first clean polls ended it too.
    assert outcomes == ["clean", "clean", "clean", "unavailable", "unavailable", "clean"]
    assert served == 6
    body = world.client_for("supervisor").get("/activity/").content.decode()
    sources = table_rows(body, "sources")
    assert ["Campaign", "Spring Promo", "2", "1", "3", "2"] in sources  # HOME1 + SRV-A, SRV-B
    assert ["Campaign", "Summer Sale", "0", "0", "1", "0"] in sources
    assert ["lead_type", "cold", "1", "0", "2", "0"] in sources
    assert ["lead_type", "hot", "1", "1", "2", "2"] in sources  # HOME1 was hot too

    durations = table_rows(body, "durations")
    assert sum(int(count) for _, count in durations) == 2  # SRV-C and HOME1 ended
    assert "2 calls ended today" in body

    feed_rows = [row for row in table_rows(body, "feed") if row[0] == world.home.name]
    runs = PollRun.objects.filter(organization=world.home)
    # The six polls of the feed, and the world's own first answer.
    assert sum(int(row[2]) for row in feed_rows) == served + 1 == runs.count()
    assert sum(int(row[3]) for row in feed_rows) == 5 == runs.filter(outcome="clean").count()
    assert "2 live now" in body
    live = table_rows(body, "live")
    assert live[-1][1] in ("2", "3", "4")  # the current minute also holds calls that ended in it
    hourly = table_rows(body, "hourly")
    assert sum(int(row[1] or 0) for row in hourly) == 4  # HOME1 and the three served today
