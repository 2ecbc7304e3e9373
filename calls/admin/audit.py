"""The audit trail in admin: read-only events, and the mixin that records admin changes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest

from calls.models import AuditEvent, Organization
from calls.services.audit import audit_record


def _organization_of(obj: Model) -> Organization | None:
    if isinstance(obj, Organization):
        return obj
    organization = getattr(obj, "organization", None)
    return organization if isinstance(organization, Organization) else None


def _describe(obj: Model) -> str:
    return f"{obj._meta.verbose_name} {obj}"


def _object_audit(request: HttpRequest, obj: Model, action: str, **event: Any) -> None:
    """One admin change to `obj`, attributed and described the same way for every model."""
    audit_record(
        actor=request.user,
        action=action,
        organization=_organization_of(obj),
        summary=_describe(obj),
        **event,
    )


class AuditedAdminMixin:
    """Records who created, changed or deleted objects through admin (field names only —
    never values, so nothing secret or personal is copied into the trail)."""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if change and not form.changed_data:
            return
        action = AuditEvent.Action.CHANGED if change else AuditEvent.Action.CREATED
        _object_audit(
            request, obj, action, subject=obj, details={"fields": list(form.changed_data)}
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        # Recorded first, while the object still has its id; admin deletes in a transaction,
        # so a failed deletion leaves no event behind.
        _object_audit(request, obj, AuditEvent.Action.DELETED, subject=obj)
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def audit_formset(self, request: HttpRequest, formset: BaseModelFormSet[Any, Any]) -> None:
        """Record an inline's additions, changes and deletions (call after saving it)."""
        for obj in formset.new_objects:
            _object_audit(request, obj, AuditEvent.Action.CREATED, subject=obj)
        for obj, fields in formset.changed_objects:
            _object_audit(
                request,
                obj,
                AuditEvent.Action.CHANGED,
                subject=obj,
                details={"fields": list(fields)},
            )
        for obj in formset.deleted_objects:
            # Already deleted: no id left to point at.
            _object_audit(request, obj, AuditEvent.Action.DELETED)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("created_at", "actor_name", "action", "organization", "summary")
    list_filter = ("action", ("created_at", admin.DateFieldListFilter), "organization")
    search_fields = ("actor_name", "summary", "object_id")
    list_select_related = ("organization",)
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "created_at",
        "actor",
        "actor_name",
        "action",
        "organization",
        "object_type",
        "object_id",
        "summary",
        "details",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
