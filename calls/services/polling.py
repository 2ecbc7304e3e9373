"""One poll of one organization, from claiming its slot to recording the outcome.

Every poll holds the organization's lock (calls.services.poll_lock) from before its request
to after its commit. The fetch happens outside any transaction; its result (or failure) is
then written in one transaction together with the PollRun and the organization's poll state.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.crypto import SecretUndecryptable
from calls.invoca import (
    AuthenticationFailed,
    CallFilters,
    CurrentCallsRequest,
    CurrentCallsResult,
    InvalidRequest,
    InvocaError,
    RateLimited,
    current_calls_fetch,
    url_origin,
)
from calls.memory import cycle_collector_paused
from calls.models import (
    ApiToken,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    PollKind,
    PollOutcome,
    PollRun,
)
from calls.selectors.polling import (
    PollSubject,
    StoredCall,
    api_token_pick,
    live_calls_stored,
    poll_subject,
)
from calls.services.bulk_sql import db_datetime
from calls.services.ingest import IngestCounts, calls_apply
from calls.services.poll_lock import (
    PollInProgress,
    PollLease,
    interactive_lock_wait_seconds,
    organization_poll_lock,
    poll_lock_seconds,
)
from calls.services.tallies import poll_tally_add
from calls.sql import instance_insert, row_update

log = logging.getLogger("calls.poll")


@dataclass(frozen=True, slots=True)
class PollAttempt:
    run: PollRun
    counts: IngestCounts
    error: InvocaError | None = None

    @property
    def clean(self) -> bool:
        return self.run.outcome == PollOutcome.CLEAN


def backoff_seconds(*, interval: float, failures: int, rng: random.Random | None = None) -> float:
    """Exponential in the number of consecutive failures, capped, with ±20 % jitter so that
    many organizations failing together (an Invoca outage) do not retry in lockstep."""
    cap = settings.POLL_BACKOFF_MAX_SECONDS
    base = min(cap, interval * (2 ** min(max(failures, 1), 20)))
    jittered = base * (rng or random).uniform(0.8, 1.2)
    return float(min(cap, max(interval, jittered)))


@dataclass(frozen=True, slots=True)
class PollSlot:
    organization_id: int
    due_at: datetime
    interval_seconds: float
    # How long the organization's latest poll waited for its answer; None before its first.
    last_duration: timedelta | None = None


def polls_claim_due(*, now: datetime, ahead: timedelta = timedelta(0)) -> list[PollSlot]:
    """Claim the organizations whose poll is due by `now + ahead`, one slot each.

    A claim moves next_poll_at forward with a conditional UPDATE, so two beats (or a slow
    worker) never enqueue the same slot twice. Claiming `ahead` of time lets the caller hand
    each poll over before its slot comes (see calls.tasks.polls_dispatch_task)."""
    due = list(
        OrganizationPollState.objects.filter(organization__enabled=True)
        .exclude(status=OrganizationStatus.AUTH_FAILED)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now + ahead))
        # One order for every claimer: two beats lock rows in the same order, never crosswise.
        .order_by("pk")
        .values_list(
            "pk", "next_poll_at", "organization__poll_interval_seconds", "last_duration_ms"
        )
    )
    claimed: list[PollSlot] = []
    if not due:
        return claimed
    # One transaction for the whole tick: on SQLite one write lock instead of one per claim.
    with transaction.atomic():
        for pk, slot, interval, duration_ms in due:
            step = timedelta(seconds=interval)
            following = (slot or now) + step
            if following <= now:  # fell behind (downtime): resume from now, do not catch up
                following = now + step
            unchanged = "{next_poll_at} IS NULL" if slot is None else "{next_poll_at} = %s"
            taken = row_update(
                OrganizationPollState,
                pk,
                {"next_poll_at": following},
                condition=unchanged,
                params=[] if slot is None else [db_datetime(slot)],
            )
            if taken:
                last_duration = None if duration_ms is None else timedelta(milliseconds=duration_ms)
                claimed.append(PollSlot(pk, slot or now, interval, last_duration))
    return claimed


def api_token_active(*, organization: Organization) -> ApiToken | None:
    """The token to send, if one is active and bound to the base URL's origin."""
    return api_token_pick(
        organization.tokens.filter(active=True).order_by("-created_at"),
        base_url=organization.api_base_url,
    )


def api_token_missing(*, organization: Organization) -> AuthenticationFailed:
    return AuthenticationFailed(f"no active API token for {url_origin(organization.api_base_url)}")


def organization_request(
    *, organization: Organization, token: ApiToken, filters: CallFilters | None = None
) -> CurrentCallsRequest:
    """The request for one organization with its token (decrypted here, never stored)."""
    return CurrentCallsRequest(
        base_url=organization.api_base_url,
        organization_type=organization.organization_type,
        organization_id=organization.invoca_id,
        token=token.reveal_secret(),
        token_origin=token.origin,
        filters=filters or CallFilters(),
        allowed_hosts=tuple(settings.INVOCA_ALLOWED_HOSTS),
        connect_timeout=settings.POLL_CONNECT_TIMEOUT,
        read_timeout=settings.POLL_READ_TIMEOUT,
        total_timeout=settings.POLL_TOTAL_TIMEOUT,
        max_response_bytes=settings.POLL_MAX_RESPONSE_BYTES,
    )


def _outcome(result: CurrentCallsResult) -> str:
    if result.filtered:
        return PollOutcome.FILTERED
    if result.clean:
        return PollOutcome.CLEAN
    return PollOutcome.PARTIAL


def _result_error(result: CurrentCallsResult) -> str:
    """What the PollRun says of an answer: why it is partial, the calls left out, and the
    parser's notes (a repeated transaction id, bytes read as U+FFFD), which a clean answer
    may carry too."""
    reasons = [result.partial_reason] if result.partial else []
    if result.rejected:
        reasons.append(f"{len(result.rejected)} call(s) left out: " + "; ".join(result.rejected))
    reasons.extend(result.notes)
    return "; ".join(reasons)[:500]


def poll_result_ingest(
    *,
    organization: Organization,
    result: CurrentCallsResult,
    started_at: datetime,
    finished_at: datetime,
    kind: str = PollKind.SCHEDULED,
    token: ApiToken | None = None,
    lease: PollLease | None = None,
    slot_at: datetime | None = None,
    live: Mapping[str, StoredCall] | None = None,
) -> PollAttempt:
    """Apply a successful answer, record the run and the organization's state, atomically.
    `live`: the organization's live calls, read before the request (see calls_apply).

    Never an old answer: the organization's row is updated (and so locked until the commit)
    only if this answer's request started after the one behind the latest applied answer
    (`answer_started_at`); otherwise the whole transaction rolls back and the run is recorded
    as superseded, so an answer that arrives late (its poll outlived its lock) ends no call
    that a newer answer saw. A poll whose lease ran out does not apply its answer either,
    although that fence alone would make its late commit harmless."""
    outcome = _outcome(result)
    error = _result_error(result)
    before = organization.poll_state
    try:
        with transaction.atomic():
            counts = calls_apply(
                organization=organization, result=result, now=finished_at, live=live
            )
            run = _poll_run_create(
                organization=organization,
                kind=kind,
                started_at=started_at,
                finished_at=finished_at,
                outcome=outcome,
                http_status=result.http_status,
                calls_seen=counts.seen,
                calls_new=counts.new,
                calls_changed=counts.changed,
                calls_ended=counts.ended,
                calls_rejected=len(result.rejected),
                error=error,
                slot_at=slot_at,
            )
            state = _answer_state(organization=organization, run=run)
            feed_changed = (
                counts.anything_changed or state.get("status", before.status) != before.status
            )
            if lease is not None and lease.expired:
                raise PollOutlivedLock(
                    f"the poll took longer than its lock's {poll_lock_seconds()} s"
                )
            if not row_update(
                OrganizationPollState,
                organization.pk,
                state,
                increment=("feed_version",) if feed_changed else (),
                condition="{answer_started_at} IS NULL OR {answer_started_at} < %s",
                params=[db_datetime(started_at)],
            ):
                raise _AnswerSuperseded
            if token is not None and _token_use_worth_recording(token, finished_at):
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=finished_at)
    except _AnswerSuperseded:
        # Not applied: it changed nothing, the organization's state included (a newer answer
        # set it).
        run = _poll_run_create(
            organization=organization,
            kind=kind,
            started_at=started_at,
            finished_at=finished_at,
            outcome=PollOutcome.SUPERSEDED,
            http_status=result.http_status,
            calls_seen=len(result.calls),
            error="not applied: a newer answer was applied first",
            slot_at=slot_at,
        )
        counts = IngestCounts(seen=len(result.calls))
    _log_run(run)
    return PollAttempt(run=run, counts=counts)


class _AnswerSuperseded(Exception):
    """Rolls back an answer older than the one the organization's calls already show."""


class PollOutlivedLock(InvocaError):
    """Its answer came too late to apply: another poll may have held the lock meanwhile."""


def _answer_state(*, organization: Organization, run: PollRun) -> dict[str, object]:
    """The organization's poll state after the answer `run` recorded is applied
    (feed_version aside)."""
    before = organization.poll_state
    kind, outcome, error = run.kind, run.outcome, run.error
    started_at, finished_at = run.started_at, run.finished_at
    # The last sighting of every call this answer held (calls.services.ingest), and the
    # start of its request, which any later answer must beat.
    state: dict[str, object] = {"sighted_at": finished_at, "answer_started_at": started_at}
    if kind == PollKind.LOOKUP:
        return state
    state |= {
        "last_attempt_at": finished_at,
        "last_duration_ms": run.duration_ms,
        "consecutive_failures": 0,
        "status": (
            OrganizationStatus.OK if outcome == PollOutcome.CLEAN else OrganizationStatus.DEGRADED
        ),
    }
    if outcome == PollOutcome.CLEAN:
        state["last_success_at"] = finished_at
    elif error:  # a clean answer's notes stay in its PollRun: they are no failure
        state.update(last_error=error, last_error_at=finished_at)
    if kind == PollKind.MANUAL and (
        before.status == OrganizationStatus.AUTH_FAILED or before.consecutive_failures
    ):
        # Invoca answers again (or the token works again): leave back-off and resume
        # the regular schedule rather than wait out a delay chosen for a failure.
        state["next_poll_at"] = finished_at + timedelta(seconds=organization.poll_interval_seconds)
    return state


# "Last used" tells an admin whether a token is in use, which a minute's precision answers:
# rewriting the token's row on every poll (every few seconds, for each organization) would
# add a write to each poll and tell nothing more.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def _token_use_worth_recording(token: ApiToken, used_at: datetime) -> bool:
    return token.last_used_at is None or used_at - token.last_used_at >= TOKEN_USE_RESOLUTION


def poll_failure_record(
    *,
    organization: Organization,
    error: InvocaError,
    started_at: datetime,
    finished_at: datetime,
    kind: str = PollKind.SCHEDULED,
    slot_at: datetime | None = None,
) -> PollAttempt:
    """Record a failed attempt and decide when to try again. Never ends a call."""
    before = organization.poll_state
    failures = before.consecutive_failures + 1
    message = str(error)[:500]
    with transaction.atomic():
        run = _poll_run_create(
            organization=organization,
            kind=kind,
            started_at=started_at,
            finished_at=finished_at,
            outcome=error.outcome,
            http_status=error.http_status,
            error=message,
            slot_at=slot_at,
        )
        if kind != PollKind.LOOKUP:
            state: dict[str, object] = {
                "last_attempt_at": finished_at,
                # A poll that failed slowly (a timeout) is not batched with others next time.
                "last_duration_ms": run.duration_ms,
                "last_error": message,
                "last_error_at": finished_at,
                "consecutive_failures": failures,
            }
            if isinstance(error, AuthenticationFailed):
                # Stops scheduled polling until the token changes (api_token_add).
                state["status"] = OrganizationStatus.AUTH_FAILED
            else:
                state["status"] = OrganizationStatus.DEGRADED
                state["next_poll_at"] = finished_at + timedelta(
                    seconds=_retry_delay(organization, error, failures)
                )
            feed_changed = state["status"] != before.status
            row_update(
                OrganizationPollState,
                organization.pk,
                state,
                increment=("feed_version",) if feed_changed else (),
            )
    _log_run(run)
    return PollAttempt(run=run, counts=IngestCounts(), error=error)


def _retry_delay(organization: Organization, error: InvocaError, failures: int) -> float:
    interval = organization.poll_interval_seconds
    # Invoca's own word on when to come back, within reason (a typo there must not stop
    # polling for days).
    asked = None
    if error.retry_after is not None:
        asked = min(error.retry_after, settings.POLL_BACKOFF_MAX_SECONDS * 12)
    if isinstance(error, RateLimited) and asked is not None:
        return max(interval, asked)
    if not error.retryable:  # a 4xx that is not about the token: a person must fix something
        return settings.POLL_BACKOFF_MAX_SECONDS
    return max(backoff_seconds(interval=interval, failures=failures), asked or 0.0)


def organization_poll(
    *,
    organization: Organization,
    kind: str = PollKind.SCHEDULED,
    filters: CallFilters | None = None,
    wait_seconds: float = 0.0,
) -> PollAttempt:
    """Poll now, whether due or not (the `poll` command, Poll now, a lookup): take the
    organization's lock, waiting up to `wait_seconds` for a poll in flight (PollInProgress
    if it is still held then), fetch once and record the outcome."""
    with organization_poll_lock(
        organization_id=organization.pk, wait_seconds=wait_seconds
    ) as lease:
        if lease is None:
            raise PollInProgress
        subject = poll_subject(organization_id=organization.pk)  # as the poll in flight left it
        if subject is None:
            raise Organization.DoesNotExist(f"no organization {organization.pk}")
        return _organization_poll_locked(subject=subject, kind=kind, filters=filters, lease=lease)


def organization_poll_slot(*, organization_id: int, slot_at: datetime | None) -> str:
    """The scheduled poll for the slot due at `slot_at` (None: due now), under the
    organization's lock. Its outcome, or why no request was made: "locked", "not-polled",
    "already-polled" or "expired"."""
    with organization_poll_lock(organization_id=organization_id) as lease:
        if lease is None:
            log.info("poll org=%s skipped: another poll holds the lock", organization_id)
            return "locked"
        subject = poll_subject(organization_id=organization_id, enabled_only=True)
        if (
            subject is None
            or subject.organization.poll_state.status == OrganizationStatus.AUTH_FAILED
        ):
            return "not-polled"
        if slot_at is not None:
            skipped = _slot_skipped(subject.organization, slot_at)
            if skipped:
                return skipped
        attempt = _organization_poll_locked(
            subject=subject,
            kind=PollKind.SCHEDULED,
            filters=None,
            lease=lease,
            slot_at=slot_at,
        )
        return str(attempt.run.outcome)


def _slot_skipped(organization: Organization, slot_at: datetime) -> str:
    last_attempt_at = organization.poll_state.last_attempt_at
    if last_attempt_at is not None and last_attempt_at > slot_at:
        # A poll that started after this slot was due (a slow one, or `manage.py poll`)
        # already covers it: one request per interval.
        return "already-polled"
    if timezone.now() > slot_at + timedelta(seconds=organization.poll_interval_seconds):
        # Celery checks `expires` when the worker takes a task, not when a pool thread gets
        # to it: a poll that waited a whole interval in the pool (an overloaded worker) is
        # obsolete too, and the next slot's poll replaces it.
        log.warning("poll org=%s skipped: its slot passed while it waited", organization.pk)
        return "expired"
    return ""


def _organization_poll_locked(
    *,
    subject: PollSubject,
    kind: str,
    filters: CallFilters | None,
    lease: PollLease,
    slot_at: datetime | None = None,
) -> PollAttempt:
    # The collector stays paused until the answer is freed: switched back on while the decoded
    # body is still alive, its first pass would walk every object of it (calls.memory).
    with cycle_collector_paused():
        return _organization_poll(
            organization=subject.organization,
            token=subject.token,
            kind=kind,
            filters=filters,
            lease=lease,
            slot_at=slot_at,
        )


def _organization_poll(
    *,
    organization: Organization,
    token: ApiToken | None,
    kind: str,
    filters: CallFilters | None,
    lease: PollLease,
    slot_at: datetime | None,
) -> PollAttempt:
    """`slot_at`: when the scheduled slot this poll serves was due (None: not a slot)."""
    started_at = timezone.now()
    error: InvocaError
    try:
        if token is None:
            raise api_token_missing(organization=organization)
        request = organization_request(organization=organization, token=token, filters=filters)
        live = live_calls_stored(organization=organization)
        result = current_calls_fetch(request, known=live)
        return poll_result_ingest(
            organization=organization,
            result=result,
            started_at=started_at,
            finished_at=timezone.now(),
            kind=kind,
            token=token,
            lease=lease,
            slot_at=slot_at,
            live=live,
        )
    except SecretUndecryptable as exc:
        error = AuthenticationFailed(str(exc))
    except InvocaError as exc:
        error = exc
    except Exception as exc:  # a bug must still leave a PollRun and a back-off, not a loop
        poll_unexpected_error_log(organization_id=organization.pk, error=exc)
        error = InvocaError(f"internal error ({type(exc).__name__})")
    return poll_failure_record(
        organization=organization,
        error=error,
        started_at=started_at,
        finished_at=timezone.now(),
        kind=kind,
        slot_at=slot_at,
    )


def poll_unexpected_error_log(*, organization_id: int, error: Exception) -> None:
    # Type and stack only: the message of an unexpected error may quote personal data.
    log.error(
        "poll org=%s failed unexpectedly: %s\n%s",
        organization_id,
        type(error).__name__,
        "".join(traceback.format_tb(error.__traceback__)),
    )


def call_lookup(*, organization: Organization, filters: CallFilters) -> PollAttempt:
    """An on-demand, filtered request: it may add or refresh calls, never end any. It waits
    a few seconds for a poll in flight, then raises PollInProgress."""
    if not filters.any:
        raise InvalidRequest("a lookup needs at least one filter")
    return organization_poll(
        organization=organization,
        kind=PollKind.LOOKUP,
        filters=filters,
        wait_seconds=interactive_lock_wait_seconds(),
    )


def _poll_run_create(
    *, started_at: datetime, finished_at: datetime, slot_at: datetime | None, **fields: Any
) -> PollRun:
    """Record the run and count it in the poll tallies (/metrics), in the caller's
    transaction: an answer rolled back as superseded is counted once, as superseded.
    `slot_at`: the scheduled slot the poll served, which gives its lag (None: no slot)."""
    with transaction.atomic(savepoint=False):
        run = PollRun(
            started_at=started_at,
            finished_at=finished_at,
            duration_ms=_milliseconds(started_at, finished_at),
            **fields,
        )
        instance_insert(run)
        poll_tally_add(
            organization_id=run.organization_id,
            outcome=run.outcome,
            http_status=run.http_status,
            duration_seconds=(finished_at - started_at).total_seconds(),
            lag_seconds=None if slot_at is None else (started_at - slot_at).total_seconds(),
        )
    return run


# The largest a PositiveIntegerField holds on every database: a wall clock set forward by
# weeks while a poll ran must not fail the poll's bookkeeping.
_MILLISECONDS_MAX = 2**31 - 1


def _milliseconds(started_at: datetime, finished_at: datetime) -> int:
    return min(_MILLISECONDS_MAX, max(0, int((finished_at - started_at).total_seconds() * 1000)))


_RUN_MESSAGE = (
    "poll org=%(org_id)s kind=%(kind)s outcome=%(outcome)s http=%(http_status)s "
    "seen=%(calls_seen)s new=%(calls_new)s changed=%(calls_changed)s ended=%(calls_ended)s "
    "rejected=%(calls_rejected)s duration_ms=%(duration_ms)s"
)


def _log_run(run: PollRun) -> None:
    # One structured event per poll: ids, outcome, counts and timing only — no token, no PII.
    # Its fields are gathered once, for the message and the event alike, and only when the
    # event goes anywhere.
    if not log.isEnabledFor(logging.INFO):
        return
    fields = {
        "org_id": run.organization_id,
        "kind": run.kind,
        "outcome": run.outcome,
        "http_status": run.http_status,
        "calls_seen": run.calls_seen,
        "calls_new": run.calls_new,
        "calls_changed": run.calls_changed,
        "calls_ended": run.calls_ended,
        "calls_rejected": run.calls_rejected,
        "duration_ms": run.duration_ms,
    }
    log.info(_RUN_MESSAGE, fields, extra={"event": "poll", **fields})
