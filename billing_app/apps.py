from django.apps import AppConfig


class BillingAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing_app"

    def ready(self):
        from billing_app import receivers  # noqa: F401 - connects the signal receivers
        from billing_app.models import (
            ChargeReview,
            CreditNote,
            Invoice,
            PriceComponent,
            Refund,
            Tariff,
            TariffAssignment,
            TariffElement,
        )
        from sessions_app.audit import audit_register

        for model in (Tariff, TariffElement, PriceComponent, TariffAssignment, Refund, ChargeReview):
            audit_register(model)
        for model in (Invoice, CreditNote):
            audit_register(model, exclude_fields=["pdf", "pdf_sha256", "emailed_at"])
