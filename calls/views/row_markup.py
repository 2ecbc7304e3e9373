"""A live-list row's HTML: templates/calls/_row.html, compiled once per process, filled with
the values prepared here.

The list shows up to 300 rows. calls/views/live_rows.py keeps each row's HTML per process, but a
process's first render renders every row (and a render after a poll, the rows it changed). So
the template only places values: each reaches it ready to print (clipped, its times formatted
in the active time zone, escaped) at the top of a flat context, where the engine finds it with
one dictionary lookup and prints it as it is. Escaped here (`escaped`: the same `html.escape`)
rather than by the template's autoescaping, which first looks for lazy text in every value:
about a third of the template's work. Autoescaping stays on for anything else the template
prints. live_rows.py caches the row: whatever it shows must be in `_row_key` there.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.template import Context, Engine, Template
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from calls.presentation import Caller, CallRow, Field
from calls.templatetags.calls_ui import clipped, epoch_ms, escaped

ROW_TEMPLATE = "calls/_row.html"
_NO_VALUE = "—"


@cache
def _row_template() -> Template:
    """The row's template, compiled on first use and kept for the life of the process."""
    return Engine.get_default().get_template(ROW_TEMPLATE)


def call_row_html(row: CallRow, *, detail_url: str, duration: str) -> SafeString:
    """The list's `<tr>` for a call; `duration` is the timer's text (or a slot for it)."""
    values = _row_values(row, detail_url=detail_url, duration=duration)
    return _row_template().render(Context(values))


def _row_values(row: CallRow, *, detail_url: str, duration: str) -> dict[str, object]:
    """What the row's template prints, each value as it is printed, escaped here once."""
    call = row.call
    text = {
        "row_class": _row_class(row),
        "call_id": call.pk,
        "detail_url": detail_url,
        "number": row.caller.number,
        "caller_facts": _caller_facts(row.caller),
        "dialled": row.dialled or _NO_VALUE,
        "campaign_short": clipped(row.campaign, 60),
        "campaign": clipped(row.campaign, 80),
        "advertiser": clipped(row.advertiser, 80),
        "bridged": _iso_time(call.bridge_start_time),
        "since_ms": epoch_ms(row.timer_start),
        "until_ms": epoch_ms(row.timer_end),
        "duration": duration,
        **_started_or_ended(row),
        **_caller_profile(row),
        "organization": call.organization.name,
    }
    return {name: escaped(value) for name, value in text.items()} | {
        "row": row,  # for its badges, printed by {% badges %} as on every page
        "pinned": _pinned_fields(row.pinned),
        "restricted": row.restricted,
    }


def _row_class(row: CallRow) -> str:
    highlighted = " is-highlighted" if row.badges else ""
    if row.call.ended_at:
        return f"call-row{highlighted} is-ended"
    if row.unconfirmed_since:
        return f"call-row{highlighted} is-unconfirmed"
    return f"call-row{highlighted}"


def _caller_facts(caller: Caller) -> str:
    """Where the number is from and its line type, unless the viewer may not see the number."""
    if caller.masked:
        return "Number masked"
    place = caller.place or "Unknown place"
    return f"{place} · {caller.line_type}" if caller.line_type else place


def _started_or_ended(row: CallRow) -> dict[str, str]:
    """When the call ended, else since when it is unconfirmed, else when it started: the
    line under the timer (the browser counts the timer from `data-since`, up to `data-until`
    once the call ended or while it is unconfirmed). Every key is given: a name the context
    lacks costs the engine an exception."""
    ended_at, unconfirmed_since = row.call.ended_at, row.unconfirmed_since
    if ended_at:
        return {"ended_at": _clock_time(ended_at), "unconfirmed_since": "", "started_at": ""}
    if unconfirmed_since:
        since = _clock_time(unconfirmed_since, "%H:%M")
        return {"ended_at": "", "unconfirmed_since": since, "started_at": ""}
    return {"ended_at": "", "unconfirmed_since": "", "started_at": _clock_time(row.timer_start)}


def _iso_time(moment: datetime | None) -> str:
    """The `date:'c'` filter (which is `isoformat`) in the active time zone, "" for no time."""
    return "" if moment is None else localtime(moment).isoformat()


def _clock_time(moment: datetime, pattern: str = "%H:%M:%S") -> str:
    """The `time:"H:i:s"` filter (or another pattern): the time of day in the active time
    zone."""
    return localtime(moment).strftime(pattern)


def _pinned_fields(pinned: tuple[Field, ...]) -> list[dict[str, SafeString]]:
    """The organization's pinned custom fields, escaped, "—" for a field the call lacks (as
    dictionaries: the engine finds a key at its first try, an attribute at its second)."""
    return [
        {
            "name": escaped(clipped(field.name, 30)),
            "value": escaped(clipped(field.value or _NO_VALUE, 60)),
        }
        for field in pinned
    ]


def _caller_profile(row: CallRow) -> dict[str, str]:
    """The Enhanced Caller Profile's name and city ("—" for a city without a name); nothing
    when there is neither, or for a restricted viewer (who sees it hidden)."""
    if row.restricted or not (row.ecp_name or row.ecp_city):
        return {"profile_name": "", "profile_city": ""}
    return {
        "profile_name": clipped(row.ecp_name or _NO_VALUE, 60),
        "profile_city": clipped(row.ecp_city, 60),
    }
