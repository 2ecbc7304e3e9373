"""The user's own settings: the time zone pages show times in."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from calls.selectors.viewer import organization_time_zone, user_time_zone_setting
from calls.services.preferences import user_preference_set
from calls.views.common import request_viewer


def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", "My organization's time zone")] + [
        (name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())
    ]


class PreferenceForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", required=False, choices=_time_zone_choices)


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    current = user_time_zone_setting(user=request.user)
    form = PreferenceForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, AbstractBaseUser)  # login_required
        user_preference_set(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Saved. Times now show in your chosen time zone.")
        return redirect("calls:preferences")
    viewer = request_viewer(request)
    context = {
        "form": form,
        "nav": "preferences",
        # `current` is already the user's own setting: no second read for it.
        "user_time_zone": current or organization_time_zone(viewer=viewer),
    }
    return render(request, "calls/preferences.html", context)
