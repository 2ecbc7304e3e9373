"""The audit trail: who changed organizations, tokens and memberships, and who exported what.

Events name what happened and to which object; they never copy model fields wholesale, so a
token secret or a caller's personal data cannot end up here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model

from calls.models import AuditEvent, Organization

Actor = AbstractBaseUser | AnonymousUser | None


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
    """Record an export as it starts; `audit_export_finish` adds its row count."""
    return audit_record(
        actor=actor,
        actor_name=actor_name,
        action=AuditEvent.Action.EXPORTED,
        organization=organization,
        summary=f"CSV export ({door})",
        details={"door": door, "filters": filters, "rows": None, "complete": False},
    )
