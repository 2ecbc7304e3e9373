"""The Activity page (`/activity/`): one view renders the page or, for htmx's minute refresh,
its region (204 when nothing changed); another serves one chart's data as CSV."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from calls.export.rows import cell_neutralise
from calls.selectors.activity import CHARTS, activity_organization, activity_page
from calls.views.activity_tables import ChartView, activity_views
from calls.views.common import (
    HtmxHttpRequest,
    live_headers,
    no_change_response,
    page_context,
    request_viewer,
    shown_version,
)

# The page refreshes itself this often (seconds); paused while its tab is hidden.
REFRESH_SECONDS = 60


@login_required
@require_GET
def activity(request: HtmxHttpRequest) -> HttpResponse:
    viewer = request_viewer(request)
    page = activity_page(
        viewer=viewer,
        organization_id=activity_organization(request.GET.get("org"), viewer=viewer),
        now=timezone.now(),
        shown_version=shown_version(request),
    )
    if page.unchanged:
        return no_change_response()
    context = page_context(
        page, charts=activity_views(page), refresh_seconds=REFRESH_SECONDS, nav="activity"
    )
    template = "calls/_activity_region.html" if request.htmx else "calls/activity.html"
    return live_headers(render(request, template, context))


def _csv_text(chart: ChartView) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell_neutralise(name) for name in chart.columns])
    writer.writerows([cell_neutralise(cell) for cell in row] for row in chart.rows)
    return out.getvalue()


@login_required
@require_GET
def activity_csv(request: HtmxHttpRequest, chart: str) -> HttpResponse:
    if chart not in CHARTS:
        raise Http404("no such chart")
    viewer = request_viewer(request)
    page = activity_page(
        viewer=viewer,
        organization_id=activity_organization(request.GET.get("org"), viewer=viewer),
        now=timezone.now(),
        shown_version=None,
        charts=(chart,),
    )
    (view,) = activity_views(page)
    response = HttpResponse(_csv_text(view), content_type="text/csv; charset=utf-8")
    stamp = page.now.strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="activity-{chart}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
