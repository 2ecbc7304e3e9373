"""Find-a-call reads: the database first, by exactly the filters Invoca would take."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from calls.invoca import CallFilters
from calls.models import Call
from calls.phones import phone_e164
from calls.selectors.live import calls_openable
from calls.selectors.search import masked_number_q, phone_query_digits
from calls.selectors.viewer import Viewer

FIND_LIMIT = 50


def calls_find(
    *, viewer: Viewer, organization_ids: list[int], filters: CallFilters, now: datetime
) -> list[Call]:
    params = filters.params()
    if not params:
        return []
    condition = Q()
    for name in ("transaction_id", "external_unique_id", "call_record_id"):
        if name in params:
            condition &= Q(**{f"{name}__iexact": params[name]})
    restricted_ids = [org.id for org in viewer.organizations if org.restricted]
    for name in ("calling_phone_number", "destination_phone_number"):
        if name in params:
            condition &= _number_q(name, params[name], restricted_ids=restricted_ids)
    calls = calls_openable(viewer=viewer, now=now)
    return list(
        calls.filter(condition, organization_id__in=organization_ids)
        .select_related("organization")
        .order_by("-first_seen_at", "-pk")[:FIND_LIMIT]
    )


def _number_q(field: str, text: str, *, restricted_ids: list[int]) -> Q:
    """The number in any format; in organizations where the viewer's role is restricted,
    only by the last four digits their masked view shows (calls.selectors.search)."""
    full = Q(**{field: phone_e164(text) or text}) | Q(**{f"{field}_raw": text})
    if not restricted_ids:
        return full
    masked = masked_number_q(field, phone_query_digits(text))
    restricted = Q(organization_id__in=restricted_ids)
    return (restricted & masked) | (~restricted & full)
