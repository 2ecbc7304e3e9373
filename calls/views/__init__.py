"""Thin views: each reads through a selector (or calls one service) and renders a page, or
its htmx fragment when htmx asks."""

from calls.views.detail import call_detail, call_refresh_now
from calls.views.find import call_find
from calls.views.live import live_list, wallboard
from calls.views.preferences import preferences

__all__ = ["call_detail", "call_find", "call_refresh_now", "live_list", "preferences", "wallboard"]
