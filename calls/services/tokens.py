"""API tokens: checking one against Invoca, and re-encrypting secrets under the current key."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from calls.crypto import SecretUndecryptable, secret_reencrypt
from calls.invoca import InvocaError, current_calls_fetch
from calls.models import ApiToken, AuditEvent, Organization
from calls.services.audit import audit_record
from calls.services.poll_lock import (
    PollInProgress,
    interactive_lock_wait_seconds,
    organization_poll_lock,
)
from calls.services.polling import api_token_active, api_token_missing, organization_request


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    message: str
    live_calls: int = 0
    http_status: int | None = None


def api_token_check(*, organization: Organization) -> ConnectionCheck:
    """One real request with the organization's active token; nothing is stored.

    The answer is not ingested and no PollRun is recorded: a check must not end calls, move
    the poll schedule or change the organization's status. "Poll now" does all of that.
    Like every request to Invoca, it holds the organization's poll lock, and waits a few
    seconds for a poll in flight."""
    token = api_token_active(organization=organization)
    if token is None:
        return ConnectionCheck(ok=False, message=str(api_token_missing(organization=organization)))
    with organization_poll_lock(
        organization_id=organization.pk, wait_seconds=interactive_lock_wait_seconds()
    ) as lease:
        if lease is None:
            return ConnectionCheck(ok=False, message=str(PollInProgress()))
        return _token_check(organization, token)


def _token_check(organization: Organization, token: ApiToken) -> ConnectionCheck:
    try:
        result = current_calls_fetch(organization_request(organization=organization, token=token))
    except SecretUndecryptable as exc:
        return ConnectionCheck(ok=False, message=str(exc))
    except InvocaError as exc:
        return ConnectionCheck(ok=False, message=str(exc), http_status=exc.http_status)
    live = len(result.calls)
    message = f"ok: {live} live call{'s' if live != 1 else ''}"
    reasons = [result.partial_reason or "partial answer"] if result.partial else []
    if result.rejected:
        reasons.append(f"{len(result.rejected)} call(s) could not be read")
    if reasons:
        message += " (" + "; ".join(reasons) + ")"
    return ConnectionCheck(
        ok=True, message=message, live_calls=live, http_status=result.http_status
    )


@dataclass(frozen=True, slots=True)
class ReencryptCounts:
    reencrypted: int = 0
    undecryptable: tuple[int, ...] = ()


def api_tokens_reencrypt(*, actor_name: str, batch_size: int = 500) -> ReencryptCounts:
    """Re-encrypt every stored secret with the first key of TOKEN_ENCRYPTION_KEYS, and put
    the rotation on the audit trail under `actor_name`.

    Secrets no configured key opens are left as they are and reported by id, so one lost
    key does not stop the others from being rotated."""
    reencrypted = 0
    undecryptable: list[int] = []
    with transaction.atomic():
        tokens = ApiToken.objects.select_for_update().only("pk", "secret_encrypted").order_by("pk")
        changed: list[ApiToken] = []
        for token in tokens.iterator(chunk_size=batch_size):
            try:
                token.secret_encrypted = secret_reencrypt(token.secret_encrypted)
            except SecretUndecryptable:
                undecryptable.append(token.pk)
                continue
            changed.append(token)
            if len(changed) >= batch_size:
                ApiToken.objects.bulk_update(changed, ["secret_encrypted"])
                reencrypted += len(changed)
                changed.clear()
        if changed:
            ApiToken.objects.bulk_update(changed, ["secret_encrypted"])
            reencrypted += len(changed)
    audit_record(
        actor=None,
        actor_name=actor_name,
        action=AuditEvent.Action.CHANGED,
        summary=f"re-encrypted {reencrypted} token secret(s) with the current key",
        details={"reencrypted": reencrypted, "undecryptable": undecryptable},
    )
    return ReencryptCounts(reencrypted=reencrypted, undecryptable=tuple(undecryptable))
