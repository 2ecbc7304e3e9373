"""The CSV export door of the web UI: the live list's filters in, a streamed CSV out."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_GET

from calls.export.response import export_response
from calls.selectors.filters import ExportFilters, FilterError, query_flag
from calls.services.exports import ExportNotAllowed, ExportOrganizationUnknown, calls_export
from calls.views.common import request_viewer


@login_required
@require_GET
def calls_export_csv(request: HttpRequest) -> HttpResponseBase:
    try:
        filters = ExportFilters.from_query(request.GET)
    except FilterError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    try:
        export = calls_export(
            door="web",
            filters=filters,
            now=timezone.now(),
            viewer=request_viewer(request),
            actor=request.user,
            bom=query_flag(request.GET.get("bom")),
        )
    except ExportOrganizationUnknown:
        raise Http404("no such organization") from None
    except ExportNotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    return export_response(export=export)
