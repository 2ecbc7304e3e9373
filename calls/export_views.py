"""The CSV export door of the web UI."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def calls_export(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)
