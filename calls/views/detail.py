"""Caller detail (`/calls/<id>/`): the screen pop, live while the call is, and its refresh
button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from calls.selectors.live import EARLIER_CALLS_LIMIT
from calls.selectors.pages import call_detail_page
from calls.services.lookups import call_refresh_for_viewer
from calls.views.common import (
    HtmxHttpRequest,
    live_headers,
    no_change_response,
    page_context,
    request_viewer,
    shown_version,
)


@login_required
def call_detail(request: HtmxHttpRequest, call_id: int) -> HttpResponse:
    page = call_detail_page(
        viewer=request_viewer(request),
        call_id=call_id,
        now=timezone.now(),
        shown_version=shown_version(request),
    )
    if page is None:
        raise Http404("No such call")
    if page.unchanged:
        return no_change_response()
    context = page_context(page, restricted=page.restricted, earlier_limit=EARLIER_CALLS_LIMIT)
    template = "calls/_detail_region.html" if request.htmx else "calls/detail.html"
    return live_headers(render(request, template, context))


@login_required
@require_POST
def call_refresh_now(request: HtmxHttpRequest, call_id: int) -> HttpResponse:
    outcome = call_refresh_for_viewer(
        viewer=request_viewer(request), call_id=call_id, now=timezone.now()
    )
    if outcome is None:
        raise Http404("No such call")
    level = messages.SUCCESS if outcome.ok else messages.WARNING
    messages.add_message(request, level, outcome.message)
    return redirect("calls:detail", call_id=call_id)
