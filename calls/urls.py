from django.urls import path

from calls import export_views, views

app_name = "calls"

urlpatterns = [
    path("", views.live_list, name="live"),
    path("export.csv", export_views.calls_export, name="export"),
]
