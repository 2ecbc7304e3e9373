"""Organizations in admin: settings, tokens, members, highlight rules, poll health and the
Test connection / Poll now / enable / disable actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_field
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import BaseInlineFormSet, BaseModelFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from calls.admin.audit import AuditedAdminMixin
from calls.admin.tokens import ApiTokenInline, ApiTokenInlineFormSet, SecretFormAdminMixin
from calls.models import (
    DEFAULT_API_BASE_URL,
    AuditEvent,
    Call,
    HighlightRule,
    Membership,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    PollKind,
    PollOutcome,
    PollRun,
    pinned_field_names,
)
from calls.services import PollInProgress, organization_poll, organization_set_enabled
from calls.services.audit import audit_record
from calls.services.organizations import api_base_url_check, api_tokens_unbound_deactivate
from calls.services.poll_lock import interactive_lock_wait_seconds
from calls.services.tokens import api_token_check

RECENT_POLL_RUNS = 20
# The poll state (OrganizationPollState) an administrator reads but never edits: the poller
# owns it.
_POLL_STATE_SHOWN = (
    "last_success_at",
    "last_attempt_at",
    "last_error",
    "last_error_at",
    "consecutive_failures",
    "next_poll_at",
)
_HEALTH_FIELDS = ("status_label", *_POLL_STATE_SHOWN, "recent_poll_runs")


def time_ago(moment: datetime | None, *, now: datetime) -> str:
    """A short relative time for dense tables: "12 s ago", "5 min ago", "never"."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


class OrganizationAdminForm(forms.ModelForm[Organization]):
    api_base_url = forms.URLField(
        label="API base URL",
        max_length=300,
        initial=DEFAULT_API_BASE_URL,
        assume_scheme="https",
        help_text="Invoca's host and API version, e.g. "
        + DEFAULT_API_BASE_URL
        + ". The host must be one of INVOCA_ALLOWED_HOSTS. A token is sent only to the "
        "address it was entered for: after a change of host or port, enter it again.",
    )

    class Meta:
        model = Organization
        fields = (
            "name",
            "organization_type",
            "invoca_id",
            "enabled",
            "api_base_url",
            "poll_interval_seconds",
            "clean_misses_to_end",
            "time_zone",
            "retention_days",
            "pinned_fields",
        )

    def clean_pinned_fields(self) -> list[str]:
        pinned = self.cleaned_data["pinned_fields"]
        if pinned in (None, ""):
            return []
        names = pinned_field_names(pinned)
        if names != pinned:  # not a list, or not only names, each once
            raise forms.ValidationError(
                "Pinned fields are a list of custom data field names, each once, e.g. "
                '["utm_source", "lead_type"].'
            )
        return names

    def clean_api_base_url(self) -> str:
        url = str(self.cleaned_data["api_base_url"]).strip()
        # The token travels in a header: only over TLS, except on a developer's machine.
        if not settings.DEBUG and not url.lower().startswith("https://"):
            raise forms.ValidationError("The API base URL must start with https://.")
        api_base_url_check(url=url)
        return url


class MembershipInline(admin.TabularInline[Membership, Organization]):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    verbose_name = "member"
    ordering = ("id",)  # in the order they were added


class HighlightRuleInline(admin.TabularInline[HighlightRule, Organization]):
    model = HighlightRule
    extra = 0
    fields = ("position", "scope", "field", "operator", "value", "label", "colour")
    ordering = ("position", "id")


def _poll_state_display(name: str) -> Callable[[Any, Organization], str]:
    """An admin column showing one field of the organization's poll state as the admin
    shows a field of its own."""
    field = next(f for f in OrganizationPollState._meta.concrete_fields if f.name == name)

    @admin.display(description=str(field.verbose_name), ordering=f"poll_state__{name}")
    def shown(model_admin: Any, obj: Organization) -> str:
        value = getattr(obj.poll_state, name)
        return str(display_for_field(value, field, model_admin.get_empty_value_display()))

    return shown


class PollStatusFilter(admin.SimpleListFilter):
    """The poll state's status, as ?status= (or ?status__exact=, as Django's field filters
    spell it: saved links keep working)."""

    title = "status"
    parameter_name = "status"

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        if "status__exact" in params:
            params.setdefault("status", params.pop("status__exact"))
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in OrganizationStatus.choices]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Organization]
    ) -> QuerySet[Organization]:
        if self.value() is None:
            return queryset
        return queryset.filter(poll_state__status=self.value())


def _live_calls() -> Subquery:
    return Subquery(
        Call.objects.filter(organization=OuterRef("pk"), ended_at__isnull=True)
        .order_by()
        .values("organization")
        .annotate(count=Count("pk"))
        .values("count"),
        output_field=IntegerField(),
    )


@admin.register(Organization)
class OrganizationAdmin(SecretFormAdminMixin, AuditedAdminMixin, admin.ModelAdmin[Organization]):
    form = OrganizationAdminForm
    list_display = (
        "name",
        "organization_type",
        "invoca_id",
        "enabled",
        "status_label",
        "last_clean_poll",
        "consecutive_failures",
        "live_calls",
    )
    list_filter = ("organization_type", "enabled", PollStatusFilter)
    search_fields = ("name", "invoca_id")
    ordering = ("name", "id")  # also the order of every organization filter and choice list
    inlines = (ApiTokenInline, MembershipInline, HighlightRuleInline)
    actions = ("test_connection", "poll_now", "enable", "disable")
    readonly_fields = _HEALTH_FIELDS
    fieldsets = (
        (None, {"fields": ("name", "organization_type", "invoca_id", "enabled")}),
        (
            "Polling",
            {
                "fields": (
                    "api_base_url",
                    "poll_interval_seconds",
                    "clean_misses_to_end",
                    "time_zone",
                    "retention_days",
                )
            },
        ),
        ("Live list", {"fields": ("pinned_fields",)}),
        ("Health", {"fields": _HEALTH_FIELDS}),
    )

    class Media:
        css = {"all": ("calls/admin.css",)}

    last_success_at = _poll_state_display("last_success_at")
    last_attempt_at = _poll_state_display("last_attempt_at")
    last_error = _poll_state_display("last_error")
    last_error_at = _poll_state_display("last_error_at")
    consecutive_failures = _poll_state_display("consecutive_failures")
    next_poll_at = _poll_state_display("next_poll_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return (
            super()
            .get_queryset(request)
            .select_related("poll_state")
            .annotate(live_call_count=Coalesce(_live_calls(), 0))
        )

    @admin.display(description="status", ordering="poll_state__status")
    def status_label(self, obj: Organization) -> SafeString:
        status = obj.poll_state.status
        return format_html('<span class="org-status org-status-{}">{}</span>', status, status)

    @admin.display(description="last clean poll", ordering="poll_state__last_success_at")
    def last_clean_poll(self, obj: Organization) -> str:
        return time_ago(obj.poll_state.last_success_at, now=timezone.now())

    @admin.display(description="live calls", ordering="live_call_count")
    def live_calls(self, obj: Organization) -> int:
        return int(getattr(obj, "live_call_count", 0))

    @admin.display(description=f"last {RECENT_POLL_RUNS} poll runs")
    def recent_poll_runs(self, obj: Organization) -> SafeString | str:
        if obj.pk is None:
            return "—"
        runs = PollRun.objects.filter(organization=obj).order_by("-started_at")[:RECENT_POLL_RUNS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    run.kind,
                    run.outcome,
                    run.http_status or "—",
                    run.calls_seen,
                    run.calls_new,
                    run.calls_changed,
                    run.calls_ended,
                    run.duration_ms,
                    run.error,
                )
                for run in runs
            ),
        )
        if not rows:
            return "no poll yet"
        return format_html(
            '<table class="poll-runs"><thead><tr><th>started (UTC)</th><th>kind</th>'
            "<th>outcome</th><th>HTTP</th><th>seen</th><th>new</th><th>changed</th>"
            "<th>ended</th><th>duration</th><th>error</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "enabled" in form.changed_data or (not change and not obj.enabled):
            # Through the service, so the status and the poll schedule follow the switch.
            organization_set_enabled(organization=obj, enabled=obj.enabled)
        if change and "api_base_url" in form.changed_data:
            self._tokens_unbound_deactivate(request, obj)

    def _tokens_unbound_deactivate(self, request: HttpRequest, obj: Organization) -> None:
        """A token goes only where it was entered for: a base URL on another origin takes
        the tokens out of use (in the admin's transaction for this save)."""
        deactivated = api_tokens_unbound_deactivate(organization=obj, actor=request.user)
        if deactivated:
            self.message_user(
                request,
                f"{obj.name}: the API base URL now points to another address, so its "
                f"{deactivated} active API token(s) were deactivated. Enter the token again "
                "(below, under API tokens) to poll the new address.",
                messages.WARNING,
            )

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseModelFormSet[Any, Any], change: bool
    ) -> None:
        if isinstance(formset, ApiTokenInlineFormSet):
            formset.save_tokens(request)
            return
        super().save_formset(request, form, formset, change)
        if isinstance(formset, BaseInlineFormSet):
            self.audit_formset(request, formset)

    def _audit(self, request: HttpRequest, action: str, obj: Organization, summary: str) -> None:
        audit_record(
            actor=request.user, action=action, organization=obj, subject=obj, summary=summary
        )

    @admin.action(description="Test connection (one request, nothing stored)")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for organization in queryset:
            check = api_token_check(organization=organization)
            self._audit(request, AuditEvent.Action.TESTED, organization, check.message)
            self.message_user(
                request,
                f"{organization.name}: {check.message}",
                messages.SUCCESS if check.ok else messages.ERROR,
            )

    @admin.action(description="Poll now")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for organization in queryset:
            try:
                run = organization_poll(
                    organization=organization,
                    kind=PollKind.MANUAL,
                    wait_seconds=interactive_lock_wait_seconds(),
                ).run
            except PollInProgress as exc:  # nothing was asked of Invoca
                self.message_user(request, f"{organization.name}: {exc}", messages.WARNING)
                continue
            summary = f"poll now: {run.outcome}, {run.calls_seen} live call(s)"
            if run.error:
                summary += f" — {run.error}"
            self._audit(request, AuditEvent.Action.POLLED, organization, summary)
            self.message_user(
                request,
                f"{organization.name}: {summary}",
                messages.SUCCESS if run.outcome == PollOutcome.CLEAN else messages.WARNING,
            )

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[Organization], enabled: bool
    ) -> None:
        for organization in queryset:
            organization_set_enabled(organization=organization, enabled=enabled)
            self._audit(
                request,
                AuditEvent.Action.CHANGED,
                organization,
                "enabled" if enabled else "disabled",
            )
        self.message_user(
            request, f"{len(queryset)} organization(s) {'enabled' if enabled else 'disabled'}."
        )

    @admin.action(description="Enable polling")
    def enable(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable polling")
    def disable(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._set_enabled(request, queryset, False)
