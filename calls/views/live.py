"""The live list (`/`) and the wallboard: one view renders the page or its rows fragment."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from calls.selectors.filters import STATUS_ENDED, ListFilters
from calls.selectors.pages import live_page
from calls.views.activity_tables import wall_spark_data, wall_spark_summary
from calls.views.common import (
    HtmxHttpRequest,
    live_headers,
    no_change_response,
    page_context,
    request_viewer,
    shown_version,
)
from calls.views.live_rows import call_rows_html

REFRESH_CHOICES = (1, 2, 5, 10)


def _live(request: HtmxHttpRequest, *, wall: bool) -> HttpResponse:
    viewer = request_viewer(request)
    page = live_page(
        viewer=viewer,
        filters=ListFilters.from_query(request.GET, viewer=viewer),
        wall=wall,
        now=timezone.now(),
        shown_version=shown_version(request),
    )
    if page.unchanged:
        return no_change_response()
    context = page_context(
        page,
        highlighted_count=page.highlighted_count,
        repeat_count=page.repeat_count,
        # The wallboard lays its rows out in its own template.
        rows_html=""
        if wall
        else call_rows_html(rows=page.rows, time_zone=page.user_time_zone, now=page.now),
        filter_query=urlencode(page.filters.query()),
        wall=wall,
        refresh_choices=REFRESH_CHOICES,
        ended=page.filters.status == STATUS_ENDED,
        nav="live",
        trend_data=wall_spark_data(page.trend) if page.trend else None,
        trend_summary=wall_spark_summary(page.trend) if page.trend else "",
    )
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
