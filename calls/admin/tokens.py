"""API tokens in admin. The secret is write-only: a password input that is never pre-filled;
once saved, only its last four characters and its dates are ever shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from calls.admin.audit import AuditedAdminMixin
from calls.models import ApiToken, AuditEvent, Organization
from calls.services.audit import audit_record
from calls.services.organizations import (
    api_token_activate,
    api_token_add,
    api_token_origin_problem,
)

ENTRY_HELP = (
    "Paste the token from Invoca. It is encrypted at rest and never shown again: afterwards "
    "only its last four characters appear. Adding a token deactivates the older ones. It is "
    "sent only to the address (scheme, host and port) of the organization's API base URL as "
    "it is when the token is saved."
)


class ApiTokenForm(forms.ModelForm[ApiToken]):
    secret = forms.CharField(
        label="Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=ENTRY_HELP,
    )

    class Meta:
        model = ApiToken
        fields = ("label", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A stored secret is never replaced in place: rotation is a new token.
            self.fields["secret"].disabled = True
            self.fields["secret"].help_text = "To change it, add a new token."

    @method_decorator(sensitive_variables("cleaned"))
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.instance.pk and not cleaned.get("secret") and self.has_changed():
            self.add_error("secret", "Enter the token's secret.")
        if self.instance.pk and cleaned.get("active") and "active" in self.changed_data:
            # Switched back on: only for the address it was entered for.
            problem = api_token_origin_problem(token=self.instance)
            if problem:
                self.add_error("active", problem)
        return cleaned


def _token_add(
    request: HttpRequest, organization: Organization, form: forms.ModelForm[ApiToken]
) -> ApiToken:
    token = api_token_add(
        organization=organization,
        secret=form.cleaned_data["secret"],
        label=form.cleaned_data.get("label", ""),
    )
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.TOKEN_ADDED,
        organization=organization,
        subject=token,
        summary=f"API token {token} added",
    )
    return token


def _token_changed(request: HttpRequest, token: ApiToken, fields: list[str]) -> None:
    if "active" in fields and token.active:  # switched back on: the one to poll with
        api_token_activate(token=token)
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.CHANGED
        if token.active or "active" not in fields
        else AuditEvent.Action.TOKEN_DEACTIVATED,
        organization=token.organization,
        subject=token,
        summary=f"API token {token}",
        details={"fields": fields},
    )


class ApiTokenInlineFormSet(BaseInlineFormSet[ApiToken, Organization, Any]):
    def save_tokens(self, request: HttpRequest) -> None:
        """Save through the token services: a new token deactivates the older ones and lets
        an organization stopped for auth_failed poll again."""
        organization = self.instance
        self.save(commit=False)  # fills new_objects, changed_objects, deleted_objects
        added: list[ApiToken] = []
        for form in self.extra_forms:
            if form.has_changed() and form not in self.deleted_forms:
                added.append(_token_add(request, organization, form))
        for token, fields in self.changed_objects:
            token.save(update_fields=[name for name in fields if name in ("label", "active")])
            _token_changed(request, token, list(fields))
        for token in self.deleted_objects:
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.DELETED,
                organization=organization,
                subject=token,
                summary=f"API token {token} deleted",
            )
            token.delete()
        self.new_objects = added


class StoredSecretMixin:
    @admin.display(description="stored secret")
    def secret_display(self, obj: ApiToken) -> str:
        return f"…{obj.last4}" if obj.pk else "—"

    @admin.display(description="entered for")
    def origin_display(self, obj: ApiToken) -> str:
        return obj.origin if obj.pk else "—"


TOKENS_NEWEST_ACTIVE_FIRST = ("-active", "-created_at", "-id")
# What a stored token's inline row and change page show after its label (and its secret's
# entry field, for a new one).
_STORED_TOKEN_SHOWN = (
    "secret_display",
    "origin_display",
    "active",
    "created_at",
    "last_used_at",
)
_STORED_TOKEN_READONLY = ("secret_display", "origin_display", "created_at", "last_used_at")


class ApiTokenInline(StoredSecretMixin, admin.TabularInline[ApiToken, Organization]):
    model = ApiToken
    form = ApiTokenForm
    formset = ApiTokenInlineFormSet
    extra = 1
    fields = ("label", "secret", *_STORED_TOKEN_SHOWN)
    readonly_fields = _STORED_TOKEN_READONLY
    verbose_name = "API token"
    ordering = TOKENS_NEWEST_ACTIVE_FIRST


class SecretFormAdminMixin:
    """Keeps every posted value (the token secret among them) out of error reports."""

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().changeform_view(  # type: ignore[misc]
            request, *args, **kwargs
        )
        return response


@admin.register(ApiToken)
class ApiTokenAdmin(
    StoredSecretMixin, SecretFormAdminMixin, AuditedAdminMixin, admin.ModelAdmin[ApiToken]
):
    list_display = (
        "__str__",
        "organization",
        "label",
        "origin_display",
        "active",
        "created_at",
        "last_used_at",
    )
    list_filter = ("active", "organization")
    list_select_related = ("organization",)
    search_fields = ("label", "organization__name", "organization__invoca_id")
    ordering = TOKENS_NEWEST_ACTIVE_FIRST
    form = ApiTokenForm
    readonly_fields = _STORED_TOKEN_READONLY

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("organization", "label", "secret")
        return ("organization", "label", *_STORED_TOKEN_SHOWN)

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiToken | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("organization", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            fields = [name for name in form.changed_data if name in ("label", "active")]
            obj.save(update_fields=fields or None)
            _token_changed(request, obj, fields)
            return
        if not form.cleaned_data.get("secret"):
            raise ValueError("a new token needs its secret")  # the form requires it
        token = _token_add(request, obj.organization, form)
        # The admin redirects to and logs the object it was given: make it the saved one.
        obj.pk = token.pk
        obj.refresh_from_db()
