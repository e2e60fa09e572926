"""Payment URLs (included under /payments/): the driver's payment methods page and its JSON API."""
from django.urls import path

from billing_app.payments import views as views_payments

app_name = "payments"

urlpatterns = [
    path("methods/", views_payments.payment_methods_page, name="methods_page"),
    path("api/methods/", views_payments.PaymentMethodListApi.as_view(), name="methods"),
    path("api/methods/setup/", views_payments.SetupIntentApi.as_view(), name="methods_setup"),
    path("api/methods/<str:payment_method_id>/", views_payments.PaymentMethodDetailApi.as_view(),
         name="method"),
    path("api/methods/<str:payment_method_id>/default/", views_payments.PaymentMethodDefaultApi.as_view(),
         name="method_default"),
]
