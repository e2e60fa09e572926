"""Root URL configuration."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing_app.admin.analytics import analytics_view, export_csv_view
from billing_app.payments.webhooks import WebhookView as StripeWebhookView
from billing_app.portal import views as portal_views
from evbilling.api import LogoutAllView, LogoutView, TokenView, register_routes
from evbilling.health import healthz
from evbilling.language_switch import language_switch
from evbilling.sign_out import sign_out

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("admin/analytics/", admin.site.admin_view(analytics_view), name="admin_analytics"),
    *[path(f"admin/analytics/{export}.csv", admin.site.admin_view(export_csv_view), {"export": export},
           name=f"admin_analytics_{export}_csv") for export in ("sessions", "invoices", "payments")],
    path("api/v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("api/v1/auth/logout/", LogoutView.as_view(), name="api-logout"),
    path("api/v1/auth/logout-all/", LogoutAllView.as_view(), name="api-logout-all"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(register_routes().urls)),
    # Stripe webhooks: dj-stripe's URL and models, our view (verify, record, answer; process in a task)
    path("ocpi/", include("ocpi_app.urls")),
    path("stripe/webhook/<uuid:uuid>/", StripeWebhookView.as_view(), name="stripe_webhook"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("payments/", include("billing_app.payments.urls")),
    path("", include("disputes_app.urls")),
    path("", include("guests_app.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # Sign-out is a POST (CSRF); a GET (an old link, a typed URL) asks for it instead of answering 405.
    path("accounts/logout/", sign_out, name="logout"),
    path("language/", language_switch, name="set_language"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("portal/", include("billing_app.portal.urls")),
    path("fleet/", include("billing_app.companies.urls")),
    path("", portal_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("invoices/", include("billing_app.invoicing.urls")),
]
