"""The CSV export door of the web UI: the live list's filters in, a streamed CSV out."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_GET

from calls.export.response import export_response
from calls.selectors.access import organizations_visible
from calls.selectors.export import (
    calls_for_export,
    export_filters_parse,
    export_source,
    organizations_exportable,
)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


@login_required
@require_GET
def calls_export(request: HttpRequest) -> HttpResponseBase:
    params = request.GET
    try:
        filters = export_filters_parse(
            organization=params.get("org"),
            query=params.get("q", ""),
            status=params.get("status", ""),
            since=params.get("since", ""),
            until=params.get("until", ""),
            snapshots=_flag(params.get("snapshots")),
            default_status="live",  # what the live list shows without a status filter
        )
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    organizations = organizations_exportable(user=request.user)
    if filters.organization_id is not None:
        if not organizations_visible(user=request.user).filter(pk=filters.organization_id):
            raise Http404("no such organization")
        organizations = organizations.filter(pk=filters.organization_id)
    if not organizations.exists():
        raise PermissionDenied("exporting needs the supervisor role in the organization")
    calls = calls_for_export(organizations=organizations, filters=filters)
    return export_response(
        source=export_source(calls=calls, filters=filters),
        actor=request.user,
        door="web",
        filters=filters.describe(),
        now=timezone.now(),
        organization_id=filters.organization_id,
        bom=_flag(params.get("bom")),
    )
