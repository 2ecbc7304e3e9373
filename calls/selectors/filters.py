"""The filters of the live list, the wallboard and the CSV export, read from a query string
(or the command line) by one set of rules.

The live pages are forgiving: a value that is malformed or not the viewer's falls back to its
default, so an old bookmark still opens. The export is strict: it says what is wrong rather
than export something else than was asked for (FilterError, a ValueError).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.utils.dateparse import parse_datetime

from calls.moments import EARLIEST, LATEST, moment_in_range
from calls.selectors.viewer import Viewer

STATUS_LIVE = "live"
STATUS_ENDED = "ended"
STATUS_ALL = "all"
STATUSES = (STATUS_LIVE, STATUS_ENDED, STATUS_ALL)
# The live pages list live or ended calls, never both.
LIST_STATUSES = (STATUS_LIVE, STATUS_ENDED)
SEARCH_MAX_LENGTH = 200
_T = TypeVar("_T")


class FilterError(ValueError):
    """A filter's value is malformed; the message says which and what it should be."""


def organization_id_parse(value: str | int | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FilterError("org must be an organization id (a number)") from None


def status_parse(value: str | None, *, default: str, allowed: tuple[str, ...] = STATUSES) -> str:
    status = (value or default).strip().lower()
    if status not in allowed:
        raise FilterError("status must be live, ended or all")
    return status


def moment_parse(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 date (its midnight) or time; UTC when it names no zone."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise FilterError(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-25T09:00Z")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not moment_in_range(moment):
        earliest, latest = EARLIEST.date().isoformat(), LATEST.date().isoformat()
        raise FilterError(f"{name} must lie between {earliest} and {latest} (UTC)")
    return moment


def query_parse(text: str) -> str:
    """The export's search text, as the live list's (ListFilters.search) would be."""
    text = text.strip()
    if "\x00" in text:
        raise FilterError("q must not contain a NUL character")
    if len(text) > SEARCH_MAX_LENGTH:
        raise FilterError(f"q must be at most {SEARCH_MAX_LENGTH} characters")
    return text


def query_flag(value: str | None) -> bool:
    """A checkbox or a flag in a query string: on for 1, true, on or yes."""
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def _or_default(parse: Callable[[], _T], default: _T) -> _T:
    try:
        return parse()
    except FilterError:
        return default


@dataclass(frozen=True, slots=True)
class ListFilters:
    """What the live list and the wallboard show: one organization or all, a search, live or
    recently ended calls."""

    organization_id: int | None = None
    search: str = ""
    status: str = STATUS_LIVE

    @classmethod
    def from_query(cls, params: Mapping[str, str], *, viewer: Viewer) -> ListFilters:
        """The page's query string; anything malformed or not the viewer's is the default."""
        organization_id = _or_default(lambda: organization_id_parse(params.get("org")), None)
        if organization_id is not None and viewer.organization(organization_id) is None:
            organization_id = None
        status = _or_default(
            lambda: status_parse(params.get("status"), default=STATUS_LIVE, allowed=LIST_STATUSES),
            STATUS_LIVE,
        )
        # NUL: no PostgreSQL text holds one, so no call could match it.
        search = (params.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
        return cls(organization_id=organization_id, search=search, status=status)

    @property
    def state(self) -> str:
        return f"{self.organization_id}:{self.status}:{self.search}"

    def query(self) -> dict[str, str]:
        """The non-default filters, for links that keep them."""
        params = {}
        if self.organization_id is not None:
            params["org"] = str(self.organization_id)
        if self.search:
            params["q"] = self.search
        if self.status != STATUS_LIVE:
            params["status"] = self.status
        return params


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """Which calls an export holds, and whether one row per call or per snapshot."""

    organization_id: int | None = None
    query: str = ""
    status: str = STATUS_ALL
    since: datetime | None = None
    until: datetime | None = None
    snapshots: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ExportFilters:
        """The web export's query string: the live list's filters and the export's own.
        Without a status it exports what the list shows: the live calls."""
        return export_filters_parse(
            organization=params.get("org"),
            query=params.get("q", ""),
            status=params.get("status", ""),
            since=params.get("since", ""),
            until=params.get("until", ""),
            snapshots=query_flag(params.get("snapshots")),
            default_status=STATUS_LIVE,
        )

    def describe(self) -> dict[str, Any]:
        """The filters as plain JSON, for the audit trail."""
        return {
            "org": self.organization_id,
            "q": self.query,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "snapshots": self.snapshots,
        }


def export_filters_parse(
    *,
    organization: str | int | None = None,
    query: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    snapshots: bool = False,
    default_status: str = STATUS_ALL,
) -> ExportFilters:
    """The export's filters from user text (a query string or the command line); FilterError
    says what is wrong."""
    organization_id = organization_id_parse(organization)
    status = status_parse(status, default=default_status)
    since_at, until_at = moment_parse(since, "since"), moment_parse(until, "until")
    if since_at and until_at and since_at >= until_at:
        raise FilterError("since must be before until")
    return ExportFilters(
        organization_id=organization_id,
        query=query_parse(query),
        status=status,
        since=since_at,
        until=until_at,
        snapshots=snapshots,
    )
