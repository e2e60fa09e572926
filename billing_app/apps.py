from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing_app"
    verbose_name = _("Billing")

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
        from billing_app.payments.services import token_payment_standing
        from billing_app.settlement.running_cost import session_running_cost
        from sessions_app.audit import audit_register
        from sessions_app.hooks import hooks_set

        for model in (Tariff, TariffElement, PriceComponent, TariffAssignment, Refund, ChargeReview):
            audit_register(model)
        for model in (Invoice, CreditNote):
            audit_register(model, exclude_fields=["pdf", "pdf_sha256", "emailed_at"])
        # The two things sessions_app asks of billing without importing it (sessions_app/hooks.py).
        hooks_set(running_cost_of=session_running_cost, payment_standing_of=token_payment_standing)
