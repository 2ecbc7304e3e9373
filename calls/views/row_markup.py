"""A live-list row's HTML, built in Python rather than by the template engine.

The list shows up to 300 rows. calls/views/live_rows.py keeps each row's HTML per process, but a
process's first render builds every row (and a render after a poll, the rows it changed).
Through Django's template engine a row cost ~0.18 ms, most of that first render (~55 of its
~85 ms); built here it costs ~0.04 ms.

Every value is escaped: each goes into the markup through `format_escaped`, which escapes
whatever is not already safe, as `{{ }}` did. The template's filters are applied the same way:
`clip`, `epoch_ms`, `pluralize`, `default` (as `or`), and the `date`/`time` formats in the
active time zone. live_rows.py caches the row: whatever it shows must be in `_row_key` there.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import dateformat
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from calls.presentation import Caller, CallRow, Field
from calls.templatetags.calls_ui import badges_html, clip, epoch_ms, format_escaped, joined

_NO_VALUE = "—"
_NO_VALUE_MUTED = mark_safe('<span class="muted">—</span>')
_HIDDEN_MUTED = mark_safe('<span class="muted">Hidden</span>')
_NUMBER_MASKED = mark_safe("Number masked")
_NO_HTML = SafeString()

# The newline before the row, the blank line after it and the newline before the badges' </td>
# are the layout of the template this replaced: the page is byte for byte what it printed.
_ROW = (
    '\n<tr class="call-row{highlighted}{state}" data-call-id="{call_id}" data-caller="{number}"'
    ' data-campaign="{campaign}">\n'
    "{caller_cell}{dialled_cell}{duration_cell}"
    '  <td class="c-pinned" data-label="Fields">\n    {pinned}\n  </td>\n'
    '  <td class="c-ecp" data-label="Caller profile">\n    {profile}\n  </td>\n'
    '  <td class="c-badges" data-label="Flags">{badges}\n</td>\n'
    '  <td class="c-org" data-label="Organization"><span class="clip">{organization}</span></td>\n'
    "</tr>\n\n"
)
_CALLER_CELL = (
    '  <td class="c-caller" data-label="Caller">\n'
    '    <a class="call-link" id="call-link-{call_id}" href="{detail_url}">{number}</a>\n'
    '    <span class="sub">{facts}</span>\n'
    "  </td>\n"
)
_DIALLED_CELL = (
    '  <td class="c-campaign" data-label="Dialled">\n'
    '    <span class="clip">{dialled}</span>\n'
    "    {campaign}\n"
    "    {advertiser}\n"
    "  </td>\n"
)
_DURATION_CELL = (
    '  <td class="c-duration" data-label="On call">\n'
    '    <time class="timer" datetime="{bridged}" data-since="{since}"{until}>{duration}</time>\n'
    '    <span class="sub">{started_or_ended}</span>\n'
    "  </td>\n"
)
_PINNED_FIELD = '<div><dt>{name}</dt><dd class="clip">{value}</dd></div>'


def call_row_html(row: CallRow, *, detail_url: str, duration: str) -> SafeString:
    """The list's `<tr>` for a call; `duration` is the timer's text (or a slot for it)."""
    call = row.call
    return format_escaped(
        _ROW,
        highlighted=" is-highlighted" if row.badges else "",
        state=_row_state(row),
        call_id=call.pk,
        number=row.caller.number,
        campaign=clip(row.campaign, 60),
        caller_cell=_caller_cell(row, detail_url=detail_url),
        dialled_cell=_dialled_cell(row),
        duration_cell=_duration_cell(row, duration=duration),
        pinned=_pinned_fields(row.pinned),
        profile=_caller_profile(row),
        badges=badges_html(row),
        organization=call.organization.name,
    )


def _row_state(row: CallRow) -> str:
    if row.call.ended_at:
        return " is-ended"
    return " is-unconfirmed" if row.unconfirmed_since else ""


def _caller_cell(row: CallRow, *, detail_url: str) -> SafeString:
    return format_escaped(
        _CALLER_CELL,
        call_id=row.call.pk,
        detail_url=detail_url,
        number=row.caller.number,
        facts=_caller_facts(row.caller),
    )


def _caller_facts(caller: Caller) -> SafeString:
    """Where the number is from and its line type, unless the viewer may not see the number."""
    if caller.masked:
        return _NUMBER_MASKED
    place = caller.place or "Unknown place"
    if not caller.line_type:
        return format_escaped("{place}", place=place)
    return format_escaped("{place} · {line_type}", place=place, line_type=caller.line_type)


def _dialled_cell(row: CallRow) -> SafeString:
    return format_escaped(
        _DIALLED_CELL,
        dialled=row.dialled or _NO_VALUE,
        campaign=_second_line(row.campaign),
        advertiser=_second_line(row.advertiser),
    )


def _second_line(text: str) -> SafeString:
    """A clipped line under the dialled number; nothing when there is no text."""
    if not text:
        return _NO_HTML
    return format_escaped('<span class="sub clip">{text}</span>', text=clip(text, 80))


def _duration_cell(row: CallRow, *, duration: str) -> SafeString:
    """The timer (the browser counts it from `data-since`, up to `data-until` once the call
    ended or while it is unconfirmed) and when the call started, ended or was last sighted,
    in the active time zone."""
    ended_at, unconfirmed_since, timer_end = row.call.ended_at, row.unconfirmed_since, row.timer_end
    until = _NO_HTML
    if timer_end is not None:
        until = format_escaped(' data-until="{at}"', at=epoch_ms(timer_end))
    if ended_at:
        started_or_ended = format_escaped("ended {at}", at=_clock_time(ended_at))
    elif unconfirmed_since:
        started_or_ended = format_escaped(
            '<strong class="unconfirmed">unconfirmed since {at}</strong>',
            at=_clock_time(unconfirmed_since, "H:i"),
        )
    else:
        started_or_ended = format_escaped("since {at}", at=_clock_time(row.timer_start))
    return format_escaped(
        _DURATION_CELL,
        bridged=_iso_time(row.call.bridge_start_time),
        since=epoch_ms(row.timer_start),
        until=until,
        duration=duration,
        started_or_ended=started_or_ended,
    )


def _iso_time(moment: datetime | None) -> str:
    """The `date:'c'` filter: ISO 8601 in the active time zone, "" for no time."""
    return "" if moment is None else dateformat.format(localtime(moment), "c")


def _clock_time(moment: datetime | None, pattern: str = "H:i:s") -> str:
    """The `time:"H:i:s"` filter (or another pattern): the time of day in the active time
    zone, "" for no time."""
    return "" if moment is None else dateformat.time_format(localtime(moment), pattern)


def _pinned_fields(pinned: tuple[Field, ...]) -> SafeString:
    """The organization's pinned custom fields, "—" for a field the call lacks."""
    if not pinned:
        return _NO_VALUE_MUTED
    fields = joined(
        format_escaped(
            _PINNED_FIELD, name=clip(field.name, 30), value=clip(field.value or _NO_VALUE, 60)
        )
        for field in pinned
    )
    return format_escaped('<dl class="pinned">{fields}</dl>', fields=fields)


def _caller_profile(row: CallRow) -> SafeString:
    """The Enhanced Caller Profile's name and city; hidden from restricted viewers."""
    if row.restricted:
        return _HIDDEN_MUTED
    if not (row.ecp_name or row.ecp_city):
        return _NO_VALUE_MUTED
    name = format_escaped(
        '<span class="clip">{name}</span>', name=clip(row.ecp_name or _NO_VALUE, 60)
    )
    if not row.ecp_city:
        return name
    return name + format_escaped(
        '<span class="sub clip">{city}</span>', city=clip(row.ecp_city, 60)
    )
