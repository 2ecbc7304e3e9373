"""Thin views: each reads through a selector and renders a page or its htmx fragment."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from calls.selectors.live import call_list_live


@login_required
def live_list(request: HttpRequest) -> HttpResponse:
    calls = call_list_live(user=request.user)[:500]
    template = "calls/_live_rows.html" if request.htmx else "calls/live.html"
    return render(request, template, {"calls": calls})
