from django.urls import path

from calls import views

app_name = "calls"

urlpatterns = [
    path("", views.live_list, name="live"),
    path("wall/", views.wallboard, name="wall"),
    path("activity/", views.activity, name="activity"),
    path("activity/<slug:chart>.csv", views.activity_csv, name="activity_csv"),
    path("calls/find/", views.call_find, name="find"),
    path("settings/", views.preferences, name="preferences"),
    path("calls/<int:call_id>/", views.call_detail, name="detail"),
    path("calls/<int:call_id>/refresh/", views.call_refresh_now, name="refresh"),
    path("export.csv", views.calls_export_csv, name="export"),
]
