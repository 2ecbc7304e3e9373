"""Caller detail (`/calls/<id>/`): the screen pop, live while the call is, and its refresh
button."""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from calls.models import Call
from calls.presentation import (
    call_row,
    custom_fields,
    demographics_groups,
    number_shown,
    snapshot_timeline,
)
from calls.selectors.live import (
    EARLIER_CALLS_LIMIT,
    call_detail_get,
    call_snapshots,
    call_unconfirmed_since,
    earlier_calls,
    highlight_rules_by_org,
    organizations_unconfirmed,
)
from calls.selectors.viewer import (
    Viewer,
    feed_problems,
    feed_version_token,
    viewer_get,
    viewer_time_zone,
)
from calls.services.lookups import call_refresh
from calls.views.common import HtmxHttpRequest, live_headers, no_change_response, unchanged


def _call_or_404(request: HtmxHttpRequest, call_id: int, *, now: datetime) -> tuple[Viewer, Call]:
    viewer = viewer_get(user=request.user)
    call = call_detail_get(user=request.user, viewer=viewer, call_id=call_id, now=now)
    if call is None:
        raise Http404("No such call")
    return viewer, call


@login_required
def call_detail(request: HtmxHttpRequest, call_id: int) -> HttpResponse:
    now = timezone.now()
    viewer, call = _call_or_404(request, call_id, now=now)
    organization = viewer.organization(call.organization_id)
    assert organization is not None  # call_detail_get only returns the viewer's calls
    own = Viewer(organizations=(organization,))
    unconfirmed_since = call_unconfirmed_since(
        call=call, unconfirmed=organizations_unconfirmed(viewer=own, now=now)
    )
    # The call turns unconfirmed by the clock alone, when its organization's polls stop.
    version = feed_version_token(
        viewer=own, now=now, extra=f"call:{call.pk}:{unconfirmed_since is not None}"
    )
    if unchanged(request, version):
        return no_change_response()

    role = organization.role
    restricted = organization.restricted
    rules = highlight_rules_by_org(organization_ids=[call.organization_id])
    earlier = earlier_calls(user=request.user, viewer=viewer, call=call, now=now)
    snapshots = call_snapshots(call=call)
    raw = snapshots[-1].payload_data() if snapshots else {}
    context = {
        "row": call_row(
            call=call,
            role=role,
            rules=rules.get(call.organization_id, ()),
            repeat_count=getattr(call, "earlier_count", 0),  # annotated by call_detail_get
            unconfirmed_since=unconfirmed_since,
        ),
        "call": call,
        "organization": organization,
        "restricted": restricted,
        "custom_fields": custom_fields(call.custom_data, restricted=restricted),
        "demographics": () if restricted else demographics_groups(call.demographics),
        "timeline": snapshot_timeline(
            snapshots=snapshots,
            bridge_start_time=call.bridge_start_time,
            restricted=restricted,
        ),
        "earlier": earlier,
        "earlier_limit": EARLIER_CALLS_LIMIT,
        "numbers": {
            "destination": number_shown(number=call.destination_phone_number, role=role),
            "dialled": number_shown(number=call.called_phone_number, role=role),
        },
        "raw_payload": "" if restricted else json.dumps(raw, indent=2, ensure_ascii=False),
        "problems": feed_problems(viewer=own, now=now),
        "version": version,
        "now": now,
        "user_time_zone": viewer_time_zone(user=request.user, viewer=viewer),
    }
    template = "calls/_detail_region.html" if request.htmx else "calls/detail.html"
    return live_headers(render(request, template, context))


@login_required
@require_POST
def call_refresh_now(request: HtmxHttpRequest, call_id: int) -> HttpResponse:
    _viewer, call = _call_or_404(request, call_id, now=timezone.now())
    outcome = call_refresh(call=call)
    level = messages.SUCCESS if outcome.ok else messages.WARNING
    messages.add_message(request, level, outcome.message)
    return redirect("calls:detail", call_id=call.pk)
