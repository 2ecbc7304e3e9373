"""Reads for the live list and the caller detail."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from calls.models import Call
from calls.selectors.access import calls_visible


def call_list_live(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Call]:
    return (
        calls_visible(user=user)
        .filter(ended_at__isnull=True)
        .select_related("organization")
        .order_by("-bridge_start_time", "-first_seen_at", "-pk")
    )
