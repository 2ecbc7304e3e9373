"""Moments that every database can write and read back, and every time zone can show.

Python's calendar runs from year 1 to 9999. A moment within two days of either end, moved past
it by its own offset or by a viewer's time zone, fails wherever it goes next: SQLite's adapter
(which writes UTC), psycopg reading back what PostgreSQL stored (its range is wider), and any
page that shows it in local time. Such a moment is refused where it comes in.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
LATEST = datetime(9999, 12, 29, tzinfo=UTC)


def moment_in_range(moment: datetime) -> bool:
    """Whether an aware `moment` lies between EARLIEST and LATEST."""
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # its own offset moves it off the calendar
        return False
    return EARLIEST <= in_utc <= LATEST
