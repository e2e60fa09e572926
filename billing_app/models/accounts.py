"""Billing accounts: how a driver pays an operator."""
from django.db import models

from sessions_app.models import Operator, User

__all__ = ["BillingAccount"]


class BillingAccount(models.Model):
    """One per driver: the payment mode decides whether sessions are charged to a card as they
    end (pay-as-you-go), covered by a plan, or gathered on a monthly invoice (postpaid fleets)."""

    OWNER_PATH = "operator"

    class PaymentMode(models.TextChoices):
        PAY_AS_YOU_GO = "payg", "Pay as you go (card or wallet)"
        SUBSCRIPTION = "subscription", "Subscription plan"
        POSTPAID = "postpaid", "Postpaid monthly invoice"

    driver = models.OneToOneField(User, on_delete=models.PROTECT, related_name="billing_account")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="billing_accounts")
    payment_mode = models.CharField(max_length=12, choices=PaymentMode.choices, default=PaymentMode.PAY_AS_YOU_GO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["operator", "driver__username"]

    def __str__(self) -> str:
        return f"{self.driver} ({self.get_payment_mode_display()})"
