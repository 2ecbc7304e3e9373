"""Find a call: by calling + destination number together, or by one of its ids. The database
answers first; only when it knows nothing is Invoca asked (a filtered, throttled lookup)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from calls.invoca import CallFilters, InvalidRequest
from calls.presentation import call_row
from calls.selectors.viewer import Viewer, viewer_time_zone
from calls.services.lookups import FindOutcome, call_find_or_lookup
from calls.views.common import request_viewer


class FindCallForm(forms.Form):
    organization = forms.TypedChoiceField(coerce=int, label="Organization")
    calling_phone_number = forms.CharField(
        label="Calling number", required=False, max_length=40, help_text="Any format."
    )
    destination_phone_number = forms.CharField(
        label="Destination number", required=False, max_length=40, help_text="Any format."
    )
    transaction_id = forms.CharField(label="Transaction id", required=False, max_length=64)
    external_unique_id = forms.CharField(label="External unique id", required=False, max_length=200)
    call_record_id = forms.CharField(label="Call record id", required=False, max_length=64)

    def __init__(self, *args: object, viewer: Viewer, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["organization"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(org.id, org.name) for org in viewer.organizations]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        try:
            filters = CallFilters(
                transaction_id=data.get("transaction_id", ""),
                external_unique_id=data.get("external_unique_id", ""),
                call_record_id=data.get("call_record_id", ""),
                calling_phone_number=data.get("calling_phone_number", ""),
                destination_phone_number=data.get("destination_phone_number", ""),
            )
        except InvalidRequest:
            raise forms.ValidationError(
                "Give the calling and the destination number together, or an id."
            ) from None
        if not filters.any:
            raise forms.ValidationError(
                "Give the calling and destination numbers, or a transaction, external or "
                "call record id."
            )
        data["filters"] = filters
        return data


@login_required
def call_find(request: HttpRequest) -> HttpResponse:
    viewer = request_viewer(request)
    form = FindCallForm(request.POST or None, viewer=viewer)
    found: FindOutcome | None = None
    if request.method == "POST" and form.is_valid():
        found = call_find_or_lookup(
            viewer=viewer,
            organization_id=form.cleaned_data["organization"],
            filters=form.cleaned_data["filters"],
            now=timezone.now(),
        )
        if len(found.calls) == 1:
            return redirect("calls:detail", call_id=found.calls[0].pk)
    context = {
        "form": form,
        "nav": "find",
        "rows": None
        if found is None
        else [
            call_row(call=call, role=viewer.role(call.organization_id), rules=(), repeat_count=0)
            for call in found.calls
        ],
        "lookup": None if found is None else found.lookup,
        "viewer": viewer,
        "user_time_zone": viewer_time_zone(viewer=viewer),
    }
    return render(request, "calls/find.html", context)
