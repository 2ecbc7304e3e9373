"""Small display filters for the call pages."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from django import template
from django.template.defaultfilters import stringfilter, truncatechars

from calls.presentation import duration_text

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


@register.filter(is_safe=True)
@stringfilter
def clip(value: str, length: int) -> str:
    """Django's `truncatechars`, except that text which fits (most of it) is returned at once:
    the filter itself walks it character by character and looks up the translated "…"."""
    text = unicodedata.normalize("NFC", value)
    if len(text) <= length:
        return text
    return truncatechars(value, length)
