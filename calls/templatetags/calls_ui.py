"""Small display filters for the call pages, and the helpers that build HTML in Python."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from django import template
from django.template.defaultfilters import pluralize, stringfilter, truncatechars
from django.utils.safestring import SafeString

from calls.presentation import CallRow, duration_text

register = template.Library()


@register.filter
def epoch_ms(moment: datetime | None) -> str:
    """Milliseconds since the epoch, for the browser's timers."""
    return "" if moment is None else str(int(moment.timestamp() * 1000))


@register.simple_tag
def duration_between(start: datetime | None, end: datetime | None) -> str:
    """The no-JavaScript text of a ticking timer."""
    if start is None or end is None:
        return ""
    return duration_text((end - start).total_seconds())


@register.filter
def after_bridge(seconds: int | None) -> str:
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{duration_text(abs(seconds))} after bridge"


def clipped(text: str, length: int) -> str:
    """Django's `truncatechars`, except that text which fits (most of it) is returned at once:
    the filter itself walks it character by character and looks up the translated "…".
    Python callers (a live-list row's values) call it directly: the filter's wrapping costs
    about a microsecond a call."""
    normalized = unicodedata.normalize("NFC", text)
    if len(normalized) <= length:
        return normalized
    return truncatechars(text, length)


@register.filter(is_safe=True)
@stringfilter
def clip(value: str, length: int) -> str:
    """`clipped`, as a template filter."""
    return clipped(value, length)


def escaped(value: object) -> SafeString:
    """Django's `conditional_escape`, for values prepared in Python on the live list's hot
    path (calls/views/row_markup.py): escaped unless already safe, with the `html.escape`
    that Django's `escape` calls. Django's functions (`mark_safe` too) first look for lazy
    text in each value, ~1 µs a value, and a row has ~25: hence SafeString, as Django's
    `escape` itself returns it. The template engine prints a safe value as it is."""
    to_html = getattr(value, "__html__", None)
    return SafeString(to_html() if to_html is not None else html.escape(str(value)))


def format_escaped(markup: str, /, **values: object) -> SafeString:
    """Django's `format_html`, with `escaped` values (the badges, on every live-list row)."""
    return SafeString(markup.format_map({name: escaped(value) for name, value in values.items()}))


def joined(parts: Iterable[SafeString]) -> SafeString:
    """Safe pieces of HTML, one after the other (still safe)."""
    return SafeString("".join(parts))


@register.simple_tag(name="badges")
def badges_html(row: CallRow) -> SafeString:
    """The row's highlight badges, then its repeat-caller badge: one markup for the live list's
    rows, the wallboard and the detail page."""
    highlights = joined(
        format_escaped(
            '<span class="badge badge-{colour}">{label}</span>',
            colour=badge.colour,
            label=badge.label,
        )
        for badge in row.badges
    )
    if not row.repeat_count:
        return highlights
    return highlights + format_escaped(
        '<span class="badge badge-repeat" title="{count} earlier call{plural} from this number">'
        "Repeat \u00d7{count}</span>",  # the multiplication sign
        count=row.repeat_count,
        plural=pluralize(row.repeat_count),
    )
