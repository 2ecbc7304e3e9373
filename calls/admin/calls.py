"""Calls, snapshots and poll runs in admin: read-only and fast on large tables (no full
counts, indexed orderings, joined foreign keys), with the CSV export as an action on calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, cast

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from calls.export.response import export_response
from calls.models import Call, CallQuerySet, CallSnapshot, PollRun
from calls.phones import phone_e164
from calls.selectors.filters import ExportFilters
from calls.services.exports import calls_export


class CappedCountPaginator(Paginator[Any]):
    """Counts at most CAP + 1 rows: an exact count of millions of rows takes seconds, and
    nobody pages that far — they filter or search."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            return object_list[: self.CAP + 1].count()
        return len(object_list)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("ended", "ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        prefix = "" if queryset.model is Call else "call__"
        if self.value() == "live":
            return queryset.filter(**{f"{prefix}ended_at__isnull": True})
        if self.value() == "ended":
            return queryset.filter(**{f"{prefix}ended_at__isnull": False})
        return queryset


def call_search_condition(term: str, *, prefix: str = "") -> Q:
    """An exact transaction or call record id, or a caller's number in any format."""
    condition = Q(**{f"{prefix}transaction_id": term}) | Q(**{f"{prefix}call_record_id": term})
    condition |= Q(**{f"{prefix}calling_phone_number_raw": term})
    e164 = phone_e164(term)
    if e164:
        condition |= Q(**{f"{prefix}calling_phone_number": e164})
    return condition


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-id",)  # the primary key's index: instant on any table size

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def json_block(value: Any) -> SafeString:
    """A JSON value laid out over lines (escaped), not as one line running off the page."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return format_html('<pre class="json-block">{}</pre>', text)


class CallSearchAdmin(ReadOnlyAdmin):
    """Calls and snapshots: searched by call, their JSON columns shown laid out."""

    search_prefix = ""  # the path from the listed model to its Call
    search_help_text = "Transaction id, call record id, or the caller's number in any format."
    # Fields shown by a method instead (the JSON fields' own display is one long line).
    shown_as: ClassVar[dict[str, str]] = {
        "general": "general_shown",
        "custom_data": "custom_data_shown",
        "demographics": "demographics_shown",
    }

    class Media:
        css = {"all": ("calls/admin.css",)}

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return tuple(self.shown_as)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return [self.shown_as.get(name, name) for name in fields]

    @admin.display(description="general")
    def general_shown(self, obj: Call | CallSnapshot) -> SafeString:
        return json_block(obj.general)

    @admin.display(description="custom data")
    def custom_data_shown(self, obj: Call | CallSnapshot) -> SafeString:
        return json_block(obj.custom_data)

    @admin.display(description="demographics")
    def demographics_shown(self, obj: Call | CallSnapshot) -> SafeString:
        return json_block(obj.demographics)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # Exact matches only: a LIKE '%…%' over every call would scan the whole table.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(call_search_condition(term, prefix=self.search_prefix)), False


@admin.register(Call)
class CallAdmin(CallSearchAdmin):
    list_display = (
        "transaction_id",
        "organization",
        "status",
        "calling_phone_number",
        "call_status",
        "bridge_start_time",
        "first_seen_at",
        "last_seen",
        "ended_at",
    )
    list_filter = ("organization", StatusFilter, ("first_seen_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    raw_id_fields = ("organization",)
    search_fields = ("transaction_id",)  # shows the box; get_search_results does the work
    # The column last_seen_at lags for calls in their organization's latest answer.
    shown_as = {**CallSearchAdmin.shown_as, "last_seen_at": "last_seen"}
    actions = ("export_csv",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        # The column last_seen_at lags for calls in their organization's latest answer.
        return cast(CallQuerySet, super().get_queryset(request)).with_last_seen()

    @admin.display(description="status")
    def status(self, obj: Call) -> str:
        return "live" if obj.ended_at is None else "ended"

    @admin.display(description="last seen at", ordering="last_seen")
    def last_seen(self, obj: Call) -> str:
        # Formatted here: the change page shows a method's value as plain str().
        sighting: datetime = obj.last_seen  # type: ignore[attr-defined]
        return formats.localize(timezone.localtime(sighting))

    @admin.action(description="Export selected calls as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Call]) -> StreamingHttpResponse:
        filters = {
            "changelist": request.GET.urlencode(),
            "select_across": request.POST.get("select_across") == "1",
            "selected": len(request.POST.getlist(ACTION_CHECKBOX_NAME)),
        }
        export = calls_export(
            door="admin",
            filters=ExportFilters(),
            now=timezone.now(),
            viewer=None,  # the admin site lets only staff in
            actor=request.user,
            selected=queryset,
            described=filters,
        )
        return export_response(export=export)


@admin.register(CallSnapshot)
class CallSnapshotAdmin(CallSearchAdmin):
    list_display = ("call", "organization", "observed_at", "call_status", "content_hash")
    list_filter = (
        ("call__organization", admin.RelatedFieldListFilter),
        StatusFilter,
        ("observed_at", admin.DateFieldListFilter),
    )
    list_select_related = ("call", "call__organization")
    raw_id_fields = ("call",)
    search_fields = ("call__transaction_id",)
    search_prefix = "call__"
    shown_as = {**CallSearchAdmin.shown_as, "payload": "payload_shown"}

    @admin.display(description="payload (as Invoca sent it)")
    def payload_shown(self, obj: CallSnapshot) -> SafeString:
        # The text itself, wrapped: laid out anew it would no longer be what was sent.
        return format_html('<pre class="json-block json-sent">{}</pre>', obj.payload)

    @admin.display(description="organization")
    def organization(self, obj: CallSnapshot) -> str:
        return obj.call.organization.name


@admin.register(PollRun)
class PollRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "organization",
        "kind",
        "outcome",
        "http_status",
        "calls_seen",
        "calls_new",
        "calls_changed",
        "calls_ended",
        "duration_ms",
        "error",
    )
    list_filter = ("organization", "outcome", "kind", ("started_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    raw_id_fields = ("organization",)
