"""Billing accounts: how a driver, or a company for its business cards, pays an operator."""
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sessions_app.models import Company, Operator, User

__all__ = ["BillingAccount"]


class BillingAccount(models.Model):
    """A driver's or a company's (one each). A driver's payment mode decides whether their sessions are
    charged to a card as they end (pay-as-you-go), covered by a plan, or gathered on a monthly invoice; a
    company's account is always postpaid: its business cards' sessions go on one consolidated monthly
    statement (docs/companies.md)."""

    OWNER_PATH = "operator"

    class PaymentMode(models.TextChoices):
        PAY_AS_YOU_GO = "payg", _("Pay as you go (card or wallet)")
        SUBSCRIPTION = "subscription", _("Subscription plan")
        POSTPAID = "postpaid", _("Postpaid monthly invoice")

    driver = models.OneToOneField(User, verbose_name=_("driver"), null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="billing_account")
    company = models.OneToOneField(Company, verbose_name=_("company"), null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="billing_account")
    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="billing_accounts")
    payment_mode = models.CharField(_("payment mode"), max_length=12, choices=PaymentMode.choices,
                                    default=PaymentMode.PAY_AS_YOU_GO)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")
        ordering = ["operator", "driver__username", "company__legal_name"]
        constraints = [
            models.CheckConstraint(name="account_of_a_driver_or_a_company",
                                   condition=(Q(driver__isnull=False) & Q(company__isnull=True))
                                   | (Q(driver__isnull=True) & Q(company__isnull=False))),
            models.CheckConstraint(name="company_account_postpaid",
                                   condition=Q(company__isnull=True) | Q(payment_mode="postpaid")),
        ]

    def __str__(self) -> str:
        return f"{self.company or self.driver} ({self.get_payment_mode_display()})"
