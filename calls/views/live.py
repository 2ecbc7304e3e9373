"""The live list (`/`) and the wallboard: one view renders the page or its rows fragment."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from calls.presentation import call_row
from calls.selectors.health import cache_health
from calls.selectors.live import (
    STATUS_ENDED,
    call_page,
    call_unconfirmed_since,
    highlight_rules_by_org,
    list_filters_parse,
    organizations_unconfirmed,
)
from calls.selectors.viewer import feed_problems, feed_version_token, viewer_get, viewer_time_zone
from calls.views.common import HtmxHttpRequest, live_headers, no_change_response, unchanged
from calls.views.live_rows import call_rows_html

REFRESH_CHOICES = (1, 2, 5, 10)


def _live(request: HtmxHttpRequest, *, wall: bool) -> HttpResponse:
    now = timezone.now()
    viewer = viewer_get(user=request.user)
    filters = list_filters_parse(params=request.GET, viewer=viewer)
    extra = f"{'wall' if wall else 'list'}:{filters.state}"
    if filters.status == STATUS_ENDED:
        # Recently ended calls age out of the window by the clock alone.
        extra += f":{int(now.timestamp() // 60)}"
    # Calls turn unconfirmed by the clock alone too, when their organization's polls stop.
    unconfirmed = organizations_unconfirmed(viewer=viewer, now=now)
    extra += f":unconfirmed:{sorted(unconfirmed)}"
    version = feed_version_token(viewer=viewer, now=now, extra=extra)
    if unchanged(request, version):
        return no_change_response()

    page = call_page(user=request.user, viewer=viewer, filters=filters, now=now)
    calls = page.calls
    rules = highlight_rules_by_org(organization_ids={call.organization_id for call in calls})
    rows = [
        call_row(
            call=call,
            role=viewer.role(call.organization_id),
            rules=rules.get(call.organization_id, ()),
            repeat_count=getattr(call, "earlier_count", 0),
            unconfirmed_since=call_unconfirmed_since(call=call, unconfirmed=unconfirmed),
        )
        for call in calls
    ]
    problems = feed_problems(viewer=viewer, now=now)
    user_time_zone = viewer_time_zone(user=request.user, viewer=viewer)
    context = {
        "rows": rows,
        # Every call the filters match: more than the list shows once it is full.
        "total": page.total,
        # The wallboard lays its rows out in its own template.
        "rows_html": "" if wall else call_rows_html(rows=rows, time_zone=user_time_zone, now=now),
        "filters": filters,
        "filter_query": urlencode(filters.query()),
        "viewer": viewer,
        "problems": problems,
        # Stale feeds may be our side's fault: say so rather than blame Invoca. Checked only
        # when something is stale, so a healthy page pays nothing for it.
        "services_down": bool(problems) and not cache_health().ok,
        "version": version,
        "now": now,
        "wall": wall,
        "user_time_zone": user_time_zone,
        "highlighted_count": sum(1 for row in rows if row.badges),
        "repeat_count": sum(1 for row in rows if row.repeat_count),
        "refresh_choices": REFRESH_CHOICES,
        "ended": filters.status == STATUS_ENDED,
        "nav": "live",
    }
    if request.htmx:
        template = "calls/_wall_region.html" if wall else "calls/_live_region.html"
    else:
        template = "calls/wall.html" if wall else "calls/live.html"
    return live_headers(render(request, template, context))


@login_required
def live_list(request: HtmxHttpRequest) -> HttpResponse:
    return _live(request, wall=request.GET.get("wall") == "1")


@login_required
def wallboard(request: HtmxHttpRequest) -> HttpResponse:
    return _live(request, wall=True)
