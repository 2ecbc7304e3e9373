"""The audit trail: who changed organizations, tokens and memberships, and who exported what.

Events name what happened and to which object; they never copy model fields wholesale, so a
token secret or a caller's personal data cannot end up here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model

from calls.models import AuditEvent, Organization

Actor = AbstractBaseUser | AnonymousUser | None

# Digits with what people write between them in a phone number: "+1 (415) 555-0134".
_DIGIT_RUN = re.compile(r"\d(?:[\d\s().\-/]*\d)?")
# A run with this many digits may be a phone number (short codes have five).
_PHONE_DIGITS = 5
# A masked run keeps this many digits: enough to tell two searches apart, too few to name
# a caller (a restricted viewer sees four).
_DIGITS_KEPT = 2
_MASK = "•"


def _actor_fields(actor: Actor, actor_name: str) -> dict[str, Any]:
    if actor is not None and actor.is_authenticated:
        return {"actor": actor, "actor_name": actor_name or actor.get_username()}
    return {"actor": None, "actor_name": actor_name}


def audit_record(
    *,
    actor: Actor,
    action: str,
    organization: Organization | None = None,
    subject: Model | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
    actor_name: str = "",
) -> AuditEvent:
    """Record one event. `actor_name` names a non-user actor (e.g. the CLI's OS user)."""
    return AuditEvent.objects.create(
        **_actor_fields(actor, actor_name),
        action=action,
        organization=organization,
        object_type=(subject._meta.model_name or "") if subject is not None else "",
        object_id=str(subject.pk) if subject is not None and subject.pk is not None else "",
        summary=summary[:300],
        details=details or {},
    )


def search_text_mask(text: str) -> str:
    """Search text as the audit trail keeps it: each run of digits that may be a phone number
    has all but its last two digits replaced, so the trail never holds a caller's number."""
    return _DIGIT_RUN.sub(_digit_run_mask, text)


def _digit_run_mask(match: re.Match[str]) -> str:
    run = match.group()
    digits = sum(character.isdigit() for character in run)
    if digits < _PHONE_DIGITS:
        return run
    hidden = digits - _DIGITS_KEPT
    masked = []
    for character in run:
        if character.isdigit() and hidden:
            hidden -= 1
            character = _MASK
        masked.append(character)
    return "".join(masked)


def audit_events_purge(*, now: datetime, dry_run: bool = False) -> int:
    """Delete the events older than AUDIT_RETENTION_DAYS (count them with `dry_run`)."""
    old = AuditEvent.objects.filter(
        created_at__lt=now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    )
    if dry_run:
        return old.count()
    deleted, _by_model = old.delete()
    return deleted


def audit_export_finish(*, event: AuditEvent, rows: int, complete: bool) -> None:
    """An export is recorded when it starts (so an aborted download is still on record) and
    completed with its row count when the last row has been written."""
    details = {**event.details, "rows": rows, "complete": complete}
    AuditEvent.objects.filter(pk=event.pk).update(details=details)
    event.details = details


def audit_export_start(
    *,
    actor: Actor,
    door: str,
    filters: dict[str, Any],
    organization: Organization | None = None,
    actor_name: str = "",
) -> AuditEvent:
    """Record an export as it starts, its search text masked; `audit_export_finish` adds its
    row count."""
    if filters.get("q"):
        filters = {**filters, "q": search_text_mask(str(filters["q"]))}
    return audit_record(
        actor=actor,
        actor_name=actor_name,
        action=AuditEvent.Action.EXPORTED,
        organization=organization,
        summary=f"CSV export ({door})",
        details={"door": door, "filters": filters, "rows": None, "complete": False},
    )
