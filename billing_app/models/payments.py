"""Payments through Stripe: our Payment rows tied to sessions (and invoices) and to a Stripe
PaymentIntent, their status history, refunds, and each driver's Stripe Customer.

Amounts are Decimal in the payment's currency (converted to Stripe's integer minor units only in
`billing_app.payments.stripe_client`). The database refuses what must never happen: capturing more than Stripe
authorized, refunding more than was captured, a Stripe object or idempotency key used twice, and a
webhook event applied twice to a payment.
"""
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from sessions_app.models import ChargingSession, IdToken, Operator, User

__all__ = ["Payment", "PaymentCustomer", "PaymentEvent", "Refund"]


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"), **kwargs)


class PaymentCustomer(models.Model):
    """A driver's Customer at Stripe: the owner of their cards and wallets."""

    OWNER_PATH = "driver__operator"

    driver = models.OneToOneField(User, verbose_name=_("driver"), on_delete=models.PROTECT,
                                  related_name="payment_customer")
    stripe_customer_id = models.CharField(_("stripe customer id"), max_length=255, unique=True)
    default_payment_method_id = models.CharField(_("default payment method id"), max_length=255, blank=True)
    livemode = models.BooleanField(_("livemode"), default=False)
    setups_started = models.PositiveIntegerField(_("setups started"), default=0,
                                                 help_text=_("SetupIntents begun (their idempotency keys)"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment customer")
        verbose_name_plural = _("payment customers")
        ordering = ["driver__username"]

    def __str__(self) -> str:
        return f"{self.driver} ({self.stripe_customer_id})"


class Payment(models.Model):
    """One Stripe PaymentIntent we created, and what it did.

    `amount_authorized` is what Stripe allowed (the hold, or the whole amount of an immediate charge);
    `amount_captured` what was taken, `amount_refunded` what was given back (pending refunds
    included, so the limit holds while a refund is under way).
    """

    OWNER_PATH = "operator"

    class Kind(models.TextChoices):
        SESSION_HOLD = "session_hold", _("Session pre-authorization")
        SESSION_EXTRA = "session_extra", _("Session cost above the hold")
        INVOICE = "invoice", _("Invoice")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (Stripe not reached yet)")
        AUTHORIZED = "authorized", _("Authorized (held)")
        CAPTURED = "captured", _("Captured")
        CANCELED = "canceled", _("Canceled (released)")
        FAILED = "failed", _("Failed")

    OPEN_STATUSES = (Status.PENDING, Status.AUTHORIZED)
    #: the kinds that pay a session (its hold, the extra above it, a receipt paid on its own)
    SESSION_KINDS = (Kind.SESSION_HOLD, Kind.SESSION_EXTRA, Kind.INVOICE)

    class Dispute(models.TextChoices):
        NONE = "", _("None")
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="payments")
    driver = models.ForeignKey(User, verbose_name=_("driver"), on_delete=models.PROTECT, related_name="payments")
    id_token = models.ForeignKey(IdToken, verbose_name=_("id token"), null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="payments")
    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), null=True, blank=True,
                                on_delete=models.PROTECT,
                                related_name="payments")
    invoice_id = models.PositiveBigIntegerField(_("invoice id"), null=True, blank=True, db_index=True,
                                                help_text=_("the invoice this payment settles (invoices app)"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(_("currency"), max_length=3)
    amount_requested = _money(verbose_name=_("amount requested"), help_text=_("the hold (or charge) asked of Stripe"))
    amount_authorized = _money(verbose_name=_("amount authorized"), help_text=_("what Stripe allowed"))
    amount_captured = _money(verbose_name=_("amount captured"))
    amount_refunded = _money(verbose_name=_("amount refunded"))
    amount_due = models.DecimalField(_("amount due"), max_digits=14, decimal_places=2, null=True, blank=True,
                                     help_text=_("what this payment must end up capturing, once known (settlement)"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True,
                                       help_text=_("sent with the PaymentIntent create; derived from our ids"))
    stripe_payment_intent_id = models.CharField(_("stripe payment intent id"), max_length=255, unique=True, null=True,
                                                blank=True)
    stripe_customer_id = models.CharField(_("stripe customer id"), max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(_("stripe payment method id"), max_length=255, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    dispute_status = models.CharField(_("dispute status"), max_length=8, choices=Dispute.choices, blank=True,
                                      default=Dispute.NONE)
    stripe_dispute_id = models.CharField(_("stripe dispute id"), max_length=255, blank=True)
    renewals = models.PositiveSmallIntegerField(_("renewals"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    authorized_at = models.DateTimeField(_("authorized at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "kind"], name="payment_status_kind"),
            models.Index(fields=["operator", "-created_at"], name="payment_operator_created"),
        ]
        constraints = [
            models.CheckConstraint(name="payment_amounts_not_negative",
                                   condition=Q(amount_authorized__gte=0) & Q(amount_captured__gte=0)
                                   & Q(amount_refunded__gte=0)),
            models.CheckConstraint(name="payment_captured_not_above_authorized",
                                   condition=Q(amount_captured__lte=F("amount_authorized"))),
            models.CheckConstraint(name="payment_refunded_not_above_captured",
                                   condition=Q(amount_refunded__lte=F("amount_captured"))),
            models.CheckConstraint(name="payment_due_not_negative",
                                   condition=Q(amount_due__isnull=True) | Q(amount_due__gte=0)),
            models.UniqueConstraint(fields=["session"], condition=Q(session__isnull=False)
                                    & Q(kind="session_hold") & ~Q(status__in=["canceled", "failed"]),
                                    name="one_live_hold_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_authorized} {self.currency} ({self.status})"

    @property
    def refundable(self) -> Decimal:
        return self.amount_captured - self.amount_refunded


class PaymentEvent(models.Model):
    """The status history of a payment: every change, who caused it, and the Stripe event if any
    (unique: a replayed webhook finds its event here and changes nothing)."""

    OWNER_PATH = "payment__operator"

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(_("from status"), max_length=12, blank=True)
    to_status = models.CharField(_("to status"), max_length=12)
    note = models.CharField(_("note"), max_length=255, blank=True)
    stripe_event_id = models.CharField(_("stripe event id"), max_length=255, unique=True, null=True, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        ordering = ["payment", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}: {self.note}"


class Refund(models.Model):
    """One refund of a captured payment (partial or full)."""

    OWNER_PATH = "payment__operator"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (Stripe not reached yet)")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=255)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_refund_id = models.CharField(_("stripe refund id"), max_length=255, unique=True, null=True, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["payment", "created_at"]
        constraints = [models.CheckConstraint(name="refund_amount_positive", condition=Q(amount__gt=0))]

    def __str__(self) -> str:
        return _("refund %(amount)s of payment %(payment)s (%(status)s)") % {
            "amount": self.amount, "payment": self.payment_id, "status": self.status}
