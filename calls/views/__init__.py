"""Thin views: each parses its request, makes one selector or service call and renders the
result (a page, its htmx fragment when htmx asks, a CSV download or /healthz's JSON)."""

from calls.views.activity import activity, activity_csv
from calls.views.detail import call_detail, call_refresh_now
from calls.views.export import calls_export_csv
from calls.views.find import call_find
from calls.views.live import live_list, wallboard
from calls.views.preferences import preferences

__all__ = [
    "activity",
    "activity_csv",
    "call_detail",
    "call_find",
    "call_refresh_now",
    "calls_export_csv",
    "live_list",
    "preferences",
    "wallboard",
]
