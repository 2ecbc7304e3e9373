"""The live list's rows as HTML, each rendered once per distinct content and then reused.

An agent's list refreshes every few seconds and, between two refreshes, most of its rows show
exactly what they showed before. A row's HTML (templates/calls/_row.html, rendered by
calls/views/row_markup.py) is a function of its `CallRow` (what the presentation layer derived
for this viewer's role, rules and pinned fields), a few of the call's own columns and the
viewer's time zone; all of them are hashed into the row's key, so a key never needs
invalidating: new content is a new key, and the old one ages out.

The only part of a row that depends on the clock, the ticking timer's no-JavaScript text, is
built as a slot and filled in on every render.

The cache is this process's memory (Django's LocMemCache, bounded), on purpose not the
shared `default` cache: keys are content-addressed, so processes never need to agree; a
refresh would otherwise fetch ~0.5 MB of rows from Redis (or, without Redis, write rows into
the database cache); and the list keeps rendering when Redis is down.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from django.core.cache.backends.locmem import LocMemCache
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from calls.presentation import CallRow, duration_text
from calls.views.row_markup import call_row_html

# About 2 kB a row: ~10 MB per process at most, enough for a few dozen distinct full lists.
ROW_CACHE_ENTRIES = 5000
# A row lives this long at most, so the rows of calls that are gone also leave a quiet
# process's memory; a long call's row is rendered again once per period, which is nothing.
ROW_CACHE_SECONDS = 600
# Where the timer text goes. A raw "<" never comes out of an escaped value, so the slot can
# only be the one call_row_html put there.
DURATION_SLOT = mark_safe("<!--duration-->")
# The CallRow fields `_row_key` reads (all but the call through _KEYED_DERIVED): what
# call_row_html shows. A test checks it against CallRow, so that a field added there cannot be
# forgotten here.
KEYED_ROW_FIELDS = frozenset(
    {
        "call",
        "caller",
        "dialled",
        "campaign",
        "advertiser",
        "pinned",
        "ecp_name",
        "ecp_city",
        "repeat_count",
        "badges",
        "restricted",
        "unconfirmed_since",
    }
)

# What the row shows of CallRow besides its call (keyed above by the columns shown).
_KEYED_DERIVED = tuple(sorted(KEYED_ROW_FIELDS - {"call"}))

row_cache = LocMemCache(
    "cipdash-live-rows",
    {"TIMEOUT": ROW_CACHE_SECONDS, "OPTIONS": {"MAX_ENTRIES": ROW_CACHE_ENTRIES}},
)


def _row_key(row: CallRow, *, setting: tuple[str, ...]) -> str:
    """Everything the row shows, hashed. Of the call it shows only these columns
    (and `timer_start`, derived from two of them); `setting` is what applies to every row."""
    call = row.call
    shown = (
        call.pk,
        call.ended_at,
        call.bridge_start_time,
        call.first_seen_at,
        call.organization.name,
        *(getattr(row, name) for name in _KEYED_DERIVED),
        setting,
    )
    return "row:" + hashlib.blake2b(repr(shown).encode(), digest_size=16).hexdigest()


def _detail_urls() -> Callable[[int], str]:
    """The detail page's URL for a call id: `reverse` once, then the id put in its place.
    Reversing for every row cost about a third of rendering it."""
    placeholder = 987_654_321_012
    head, found, tail = reverse("calls:detail", kwargs={"call_id": placeholder}).partition(
        str(placeholder)
    )
    if not found:
        raise ValueError("the detail URL does not show the call id")
    return lambda call_id: f"{head}{call_id}{tail}"


def _row_render(row: CallRow, *, detail_url: str) -> tuple[str, str]:
    """The row's HTML before and after its timer text."""
    html = call_row_html(row, detail_url=detail_url, duration=DURATION_SLOT)
    head, slot, tail = html.partition(DURATION_SLOT)
    if not slot:
        raise ValueError("the row has no timer slot")
    return head, tail


def call_rows_html(*, rows: Sequence[CallRow], time_zone: str, now: datetime) -> SafeString:
    """The rows' HTML, in order: cached rows reused, the others rendered and cached."""
    # Times are shown in the viewer's zone; links and the "…" of clipped text depend on the
    # deployment's URL prefix and the active language.
    setting = (time_zone, get_script_prefix(), translation.get_language() or "")
    keys = [_row_key(row, setting=setting) for row in rows]
    cached: dict[str, tuple[str, str]] = row_cache.get_many(keys)
    missing: dict[str, tuple[str, str]] = {}
    if len(cached) < len(keys):
        detail_url = _detail_urls()
        with timezone.override(time_zone):
            for key, row in zip(keys, rows, strict=True):
                if key not in cached and key not in missing:
                    missing[key] = _row_render(row, detail_url=detail_url(row.call.pk))
    if missing:
        row_cache.set_many(missing)
        cached.update(missing)
    parts: list[str] = []
    for key, row in zip(keys, rows, strict=True):
        head, tail = cached[key]
        timer = duration_text(((row.timer_end or now) - row.timer_start).total_seconds())
        parts += (head, timer, tail)
    # Every part came out of call_row_html, which escapes every value, or is digits and colons.
    return mark_safe("".join(parts))  # noqa: S308
