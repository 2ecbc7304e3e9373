"""Find-a-call reads: the database first, by exactly the filters Invoca would take."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from calls.invoca import CallFilters
from calls.models import Call
from calls.phones import phone_e164
from calls.selectors.live import calls_openable
from calls.selectors.viewer import Viewer

FIND_LIMIT = 50


def calls_find(
    *,
    user: AbstractBaseUser | AnonymousUser,
    viewer: Viewer,
    organization_ids: list[int],
    filters: CallFilters,
    now: datetime,
) -> list[Call]:
    params = filters.params()
    if not params:
        return []
    condition = Q()
    for name in ("transaction_id", "external_unique_id", "call_record_id"):
        if name in params:
            condition &= Q(**{f"{name}__iexact": params[name]})
    for name in ("calling_phone_number", "destination_phone_number"):
        if name in params:
            text = params[name]
            condition &= Q(**{name: phone_e164(text) or text}) | Q(**{f"{name}_raw": text})
    calls = calls_openable(user=user, viewer=viewer, now=now)
    return list(
        calls.filter(condition, organization_id__in=organization_ids)
        .select_related("organization")
        .order_by("-first_seen_at", "-pk")[:FIND_LIMIT]
    )
