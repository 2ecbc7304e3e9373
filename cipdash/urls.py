from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from calls.views import health, metrics

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("calls.urls")),
]
