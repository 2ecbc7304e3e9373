"""cipdash's data: organizations and their tokens and members, calls, snapshots, poll runs."""

from __future__ import annotations

import zoneinfo
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Case, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce, Greatest
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables

from calls.crypto import secret_decrypt, secret_encrypt
from calls.invoca.jsontext import json_text_decode
from calls.jsoncolumns import CompactJSONField, json_object

DEFAULT_API_BASE_URL = "https://invoca.net/api/2022-08-01"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. America/New_York)")


class OrganizationType(models.TextChoices):
    NETWORK = "Network"
    ADVERTISER = "Advertiser"


class OrganizationStatus(models.TextChoices):
    OK = "ok"
    DEGRADED = "degraded"
    AUTH_FAILED = "auth_failed"
    DISABLED = "disabled"


class Organization(models.Model):
    """An Invoca account and the settings an admin edits for it. What polling writes about
    it lives apart, in its OrganizationPollState (`poll_state`)."""

    name = models.CharField(max_length=200)
    organization_type = models.CharField(max_length=10, choices=OrganizationType.choices)
    invoca_id = models.CharField(
        "Invoca id",
        max_length=20,
        validators=[RegexValidator(r"^[0-9]+$", "Invoca organization ids are numeric.")],
    )
    api_base_url = models.URLField("API base URL", max_length=300, default=DEFAULT_API_BASE_URL)
    enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.FloatField(
        default=5.0, validators=[MinValueValidator(1.0), MaxValueValidator(3600.0)]
    )
    clean_misses_to_end = models.PositiveSmallIntegerField(
        "clean misses before a call ends",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A call ends after missing from this many consecutive clean polls.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    retention_days = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    pinned_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Custom data field names shown as columns on the live list.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.organization_type} {self.invoca_id})"

    @property
    def pinned_names(self) -> list[str]:
        """The pinned custom data fields, in order; anything but a name is left out (the admin
        form accepts a list of names only, but a JSON column holds whatever was written)."""
        return pinned_field_names(self.pinned_fields)


def pinned_field_names(pinned_fields: object) -> list[str]:
    """The names of a `pinned_fields` value, each once, in order."""
    if not isinstance(pinned_fields, list):
        return []
    names = (name for name in pinned_fields if isinstance(name, str) and name.strip())
    return list(dict.fromkeys(names))


class OrganizationPollState(models.Model):
    """What polling writes about an organization: a row of its own, so that an admin saving
    the organization's settings (a form read before the latest poll) can never move it back.
    Written by calls.services only (the poller, and the enable switch and token changes
    through calls.services.organizations); created with its organization.

    `status` is the feed's state as the pages show it. `disabled` mirrors the admin's
    Organization.enabled: the enable switch sets both in one transaction, so that a page
    reading the poll state alone knows that nobody polls the organization."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="poll_state"
    )
    status = models.CharField(
        max_length=12, choices=OrganizationStatus.choices, default=OrganizationStatus.OK
    )
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField("last clean poll", null=True, blank=True)
    # When the latest answer was applied: the last sighting of every call marked
    # sighting_current, so that a poll that changes nothing rewrites no call row.
    sighted_at = models.DateTimeField(null=True, blank=True)
    # When the request behind the latest applied answer started: an answer whose request
    # started earlier is older than what the calls already show and is never applied.
    answer_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # How long the latest scheduled or manual poll waited for its answer (its PollRun's
    # duration_ms): the scheduler batches an organization's slot with others only while
    # the polls ahead of it in the batch, at these durations, leave it on time.
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Bumped in the same transaction as any change to the org's calls, so pages can answer
    # "nothing changed" from one indexed read.
    feed_version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "poll state"
        indexes = [models.Index(fields=["next_poll_at"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.status}"


@receiver(post_save, sender=Organization)
def _poll_state_create(
    sender: type[Organization], instance: Organization, created: bool, **_: Any
) -> None:
    """Every organization has its poll state, however it was made (a service, the admin, a
    test's factory)."""
    if created:
        OrganizationPollState.objects.create(organization=instance)


class ApiToken(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=100, blank=True)
    secret_encrypted = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    # The origin (scheme://host:port) the secret was entered for; it is never sent elsewhere.
    origin = models.CharField(max_length=300, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"…{self.last4}" + (f" ({self.label})" if self.label else "")

    def __repr__(self) -> str:
        return f"<ApiToken id={self.pk} …{self.last4} active={self.active}>"

    @sensitive_variables("plain")
    def set_secret(self, plain: str) -> None:
        self.secret_encrypted = secret_encrypt(plain)
        self.last4 = plain[-4:]

    @sensitive_variables()
    def reveal_secret(self) -> str:
        """The plain secret; only calls.invoca's callers use it, to build a request header."""
        return secret_decrypt(self.secret_encrypted)


class Role(models.TextChoices):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    RESTRICTED = "restricted", "restricted (masked numbers, no demographics)"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.AGENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_role_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.organization.name} · {self.role}"


class HighlightOperator(models.TextChoices):
    EQUALS = "equals"
    CONTAINS = "contains"
    PRESENT = "present"


class HighlightRule(models.Model):
    """A coloured label on calls whose custom data or demographics match, e.g. HOT LEAD."""

    class Scope(models.TextChoices):
        CUSTOM = "custom", "custom data field"
        DEMOGRAPHICS = "demographics", "demographics key"

    class Colour(models.TextChoices):
        RED = "red"
        ORANGE = "orange"
        GREEN = "green"
        BLUE = "blue"
        PURPLE = "purple"
        GREY = "grey"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="highlight_rules"
    )
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.CUSTOM)
    field = models.CharField(max_length=200)
    operator = models.CharField(
        max_length=10, choices=HighlightOperator.choices, default=HighlightOperator.EQUALS
    )
    value = models.CharField(max_length=500, blank=True)
    label = models.CharField(max_length=40)
    colour = models.CharField(max_length=10, choices=Colour.choices, default=Colour.RED)
    position = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value} → {self.label}"


class CallEndReason(models.TextChoices):
    # Blank while live.
    MISSED = "missed", "left the feed"
    UNCONFIRMED = "unconfirmed", "not confirmed by the feed"


class CallQuerySet(models.QuerySet["Call"]):
    def with_last_seen(self) -> Self:
        """Each call with `last_seen`, its true last sighting: the way to read, filter or
        order by when a call was last seen (its last_seen_at column may lag). Filter with
        Q(last_seen__…): type checkers know only the model's own fields as keywords."""
        return self.annotate(last_seen=call_last_seen())


class Call(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="calls")
    transaction_id = models.CharField(max_length=64)
    call_record_id = models.CharField(max_length=64, blank=True)
    external_unique_id = models.CharField(max_length=200, blank=True)
    call_status = models.CharField(max_length=40, blank=True)
    calling_phone_number = models.CharField(
        max_length=40, blank=True, help_text="E.164 when parseable, else as received."
    )
    calling_phone_number_raw = models.CharField(max_length=80, blank=True)
    destination_phone_number = models.CharField(max_length=40, blank=True)
    destination_phone_number_raw = models.CharField(max_length=80, blank=True)
    called_phone_number = models.CharField(max_length=40, blank=True)
    called_phone_number_raw = models.CharField(max_length=80, blank=True)
    phone_type = models.CharField(max_length=40, blank=True)
    bridge_start_time = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    general = CompactJSONField(default=dict, help_text="The other Invoca fields, as text.")
    custom_data = CompactJSONField(default=dict)
    demographics = CompactJSONField(default=dict)
    content_hash = models.CharField(max_length=32)
    # A digest and the length (in characters) of the call's text as last received: a poll
    # recognises an unchanged call by them without decoding it (calls.invoca.decoding).
    raw_hash = models.CharField(max_length=40, blank=True, editable=False)
    raw_size = models.PositiveIntegerField(default=0, editable=False)
    first_seen_at = models.DateTimeField()
    # Exact unless sighting_current: a call in its organization's latest answer was last seen
    # at the organization's poll_state.sighted_at, so that a poll that changes nothing
    # rewrites no call row. Read the true last sighting with Call.objects.with_last_seen().
    last_seen_at = models.DateTimeField()
    sighting_current = models.BooleanField(default=False, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(
        max_length=12, choices=CallEndReason.choices, blank=True, editable=False
    )
    missed_polls = models.PositiveIntegerField(default=0)

    objects = CallQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "transaction_id"], name="one_call_per_transaction"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "ended_at", "bridge_start_time"]),
            # The Activity page counts calls by when they were first seen; with ended_at in it,
            # the index alone answers which of them were live at a moment.
            models.Index(fields=["organization", "first_seen_at", "ended_at"]),
            models.Index(fields=["calling_phone_number"]),
            # Admin and lookups search by transaction id across organizations.
            models.Index(fields=["transaction_id"]),
        ]

    def __str__(self) -> str:
        return self.transaction_id

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


def call_last_seen(*, path: str = "", sighted_at: F | Subquery | None = None) -> Greatest:
    """A call's last sighting as a query expression (joins its organization); `path` leads
    to the call from the queried model, e.g. "call__" from a snapshot. Never before the
    call's own last_seen_at, whatever the organization's row says. `sighted_at`: another
    expression for the organization's poll_state.sighted_at (call_last_seen_in_update)."""
    written = F(f"{path}last_seen_at")
    if sighted_at is None:
        sighted_at = F(f"{path}organization__poll_state__sighted_at")
    return Greatest(
        written,
        Coalesce(Case(When(**{f"{path}sighting_current": True}, then=sighted_at)), written),
        output_field=models.DateTimeField(),
    )


def call_last_seen_in_update() -> Greatest:
    """call_last_seen() for an UPDATE of calls, which cannot join: the organization's poll
    state read by a subquery."""
    return call_last_seen(
        sighted_at=Subquery(
            OrganizationPollState.objects.filter(pk=OuterRef("organization_id"))
            .order_by()
            .values("sighted_at")[:1]
        )
    )


# Invoca's fields that Call keeps in columns of its own and its snapshots do not repeat
# (a snapshot holds only call_status and the JSON fields).
CALL_INVOCA_COLUMNS = (
    "call_record_id",
    "external_unique_id",
    "calling_phone_number",
    "calling_phone_number_raw",
    "destination_phone_number",
    "destination_phone_number_raw",
    "called_phone_number",
    "called_phone_number_raw",
    "phone_type",
    "bridge_start_time",
    "start_time",
)


class CallSnapshot(models.Model):
    """One distinct content version of a call; a poll that changes nothing adds none."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="snapshots")
    observed_at = models.DateTimeField()
    content_hash = models.CharField(max_length=32)
    call_status = models.CharField(max_length=40, blank=True)
    general = CompactJSONField(default=dict)
    custom_data = CompactJSONField(default=dict)
    demographics = CompactJSONField(default=dict)
    # The call's own text from the answer, byte for byte, when the poll kept it (any answer of
    # the usual shape): written as received, it costs no encoding and, on PostgreSQL, no jsonb
    # parsing, about a tenth of a poll that changes hundreds of calls. Read it decoded with
    # payload_data().
    payload = models.TextField(default="{}", help_text="The call's JSON as Invoca sent it.")

    class Meta:
        indexes = [models.Index(fields=["call", "observed_at"])]

    def __str__(self) -> str:
        return f"{self.call_id}@{self.observed_at:%H:%M:%S}"

    def payload_data(self) -> dict[str, Any]:
        """The payload as the poll decoded it: NaN and infinities as null, and what no
        database stores (NUL, lone surrogates) replaced."""
        return json_object(self.payload, loads=json_text_decode)


class PollOutcome(models.TextChoices):
    CLEAN = "clean"
    FILTERED = "filtered"
    PARTIAL = "partial"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    BAD_RESPONSE = "bad_response"
    REJECTED = "rejected"
    ERROR = "error"
    # A fine answer, older than one already applied (calls.services.polling): not applied.
    SUPERSEDED = "superseded"


class PollKind(models.TextChoices):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    LOOKUP = "lookup"


class PollRun(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="poll_runs"
    )
    kind = models.CharField(max_length=10, choices=PollKind.choices, default=PollKind.SCHEDULED)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=14, choices=PollOutcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    calls_seen = models.PositiveIntegerField(default=0)
    calls_new = models.PositiveIntegerField(default=0)
    calls_changed = models.PositiveIntegerField(default=0)
    calls_ended = models.PositiveIntegerField(default=0)
    calls_rejected = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.outcome} @{self.started_at:%H:%M:%S}"


class PollTally(models.Model):
    """How many polls of an organization ended alike, since the start: the counters and
    histograms of /metrics. Poll runs are purged, a counter never goes down, so each poll adds
    itself here (calls.services.tallies) in the transaction that records its run. Never
    purged: its rows are bounded by organizations, outcomes, statuses and buckets.

    The key holds no NULL (NULLs never conflict in a unique key): `http_status` 0 is a poll
    that got no answer, `lag_bucket` -1 a poll that was not a scheduled slot. The bucket
    indexes point into the bounds of calls.metrics."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="poll_tallies"
    )
    outcome = models.CharField(max_length=14, choices=PollOutcome.choices)
    http_status = models.PositiveSmallIntegerField()
    duration_bucket = models.SmallIntegerField()
    lag_bucket = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)
    duration_sum = models.FloatField("duration sum (seconds)", default=0.0)
    lag_sum = models.FloatField("lag sum (seconds)", default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "outcome", "http_status", "duration_bucket", "lag_bucket"],
                name="one_poll_tally_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.outcome} {self.count} polls"


class ExportTally(models.Model):
    """How many CSV exports each door (web, admin, command) started, and the rows they wrote:
    the export counters of /metrics, kept apart from the audit events, which are purged."""

    door = models.CharField(max_length=20, unique=True)
    count = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.door} {self.count} exports"


class UserPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty: the time zone of the user's first organization.",
    )

    def __str__(self) -> str:
        return f"{self.user} · {self.time_zone or 'organization time'}"


class AuditEvent(models.Model):
    """Who changed organizations, tokens and memberships, and who exported what.

    Our own small table rather than a generic history package: it records exactly the events
    the product cares about, and a token secret can never slip into it because nothing copies
    model fields wholesale."""

    class Action(models.TextChoices):
        CREATED = "created"
        CHANGED = "changed"
        DELETED = "deleted"
        TOKEN_ADDED = "token_added"  # noqa: S105 (an action name)
        TOKEN_DEACTIVATED = "token_deactivated"  # noqa: S105
        EXPORTED = "exported"
        POLLED = "polled"
        TESTED = "tested"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.summary}"
