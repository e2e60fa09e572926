"""The off-session collection of a pay-as-you-go receipt that no card payment covered, and its dunning.

One row per receipt (the database refuses a second): the lock the collection sweep takes, the attempts
it made (each a Payment with its own idempotency key; the driver's own "Pay now" attempts among them), when it
tries next, and whether the receipt is overdue (every retry failed: shown to the operator in the admin and to the
driver in the portal).
"""
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing_app.models.invoices import Invoice
from billing_app.models.payments import Payment

__all__ = ["ReceiptCollection"]


class ReceiptCollection(models.Model):
    OWNER_PATH = "invoice__operator"

    class Status(models.TextChoices):
        COLLECTING = "collecting", _("Collecting (charge under way)")
        RETRYING = "retrying", _("Payment failed (dunning)")
        OVERDUE = "overdue", _("Overdue (every retry failed)")
        COLLECTED = "collected", _("Collected")

    invoice = models.OneToOneField(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT,
                                   related_name="collection")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.COLLECTING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, help_text=_("charges tried"))
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+",
                                help_text=_("the latest attempt"))
    first_failed_at = models.DateTimeField(_("first failed at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    driver_attempts = models.PositiveSmallIntegerField(
        _("driver's attempts"), default=0,
        help_text=_("of the attempts, those the driver made with Pay now in the portal (they do not move dunning)"))
    by_driver = models.BooleanField(_("latest attempt by the driver"), default=False,
                                    help_text=_("the latest attempt is the driver's Pay now"))
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    overdue_at = models.DateTimeField(_("overdue at"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("receipt collection")
        verbose_name_plural = _("receipt collections")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="receipt_collection_dunning")]

    def __str__(self) -> str:
        return _("collection of %(invoice)s (%(status)s)") % {"invoice": self.invoice, "status": self.status}

    @property
    def overdue(self) -> bool:
        return self.status == self.Status.OVERDUE
