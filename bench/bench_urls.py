"""The product's URLs plus what the web benchmarks need beside them.

`/bench/hello` is the framework's floor: logged in, behind the same middleware as every page,
and doing nothing else. `/static/` is served by Django itself so that a browser gets htmx and
app.js from gunicorn without a separate static server (a deployment puts one in front).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles.views import serve
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path


@login_required
def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello", content_type="text/plain")


urlpatterns = [
    path("bench/hello", hello),
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    path("", include("cipdash.urls")),
]
