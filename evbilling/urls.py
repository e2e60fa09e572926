"""Root URL configuration."""
from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from billing_app.admin.analytics import analytics_view, sessions_csv_view
from evbilling.health import healthz

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("admin/analytics/", admin.site.admin_view(analytics_view), name="admin_analytics"),
    path("admin/analytics/sessions.csv", admin.site.admin_view(sessions_csv_view), name="admin_analytics_sessions_csv"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
