"""Subscription plans: what a plan gives (fee, included kWh, member prices), who subscribes, and one
row per paid (or unpaid) period.

Periods are calendar dates in the operator's time zone, `[period_start, period_end)`, anchored on
the day of the month the subscription started (Jan 31 -> Feb 28/29 -> Mar 31). The database
refuses what must never happen: two live subscriptions of one driver, two renewals of one
(subscription, period), more included kWh used than the period has.
"""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from billing_app.models.invoices import Invoice
from billing_app.models.payments import Payment
from billing_app.models.tariffs import Tariff
from billing_app.money import format_money
from sessions_app.models import CURRENCY_CHOICES, Operator, User

__all__ = ["Plan", "Subscription", "SubscriptionPeriod"]

PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


class Plan(models.Model):
    OWNER_PATH = "operator"

    class Period(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        YEARLY = "yearly", _("Yearly")

    class IdleFee(models.TextChoices):
        CHARGED = "charged", _("Charged as the tariff says")
        WAIVED = "waived", _("Waived")
        GRACE = "grace", _("Grace minutes override")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=255, blank=True)
    period = models.CharField(_("period"), max_length=8, choices=Period.choices, default=Period.MONTHLY)
    fee_excl_vat = models.DecimalField(_("fee excl. VAT"), max_digits=14, decimal_places=2,
                                       validators=[MinValueValidator(Decimal(0))])
    vat_rate = models.DecimalField(_("VAT %"), max_digits=6, decimal_places=3, null=True, blank=True,
                                   validators=PERCENT, help_text=_("blank: no VAT on the fee"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    included_kwh = models.DecimalField(_("included kWh"), max_digits=10, decimal_places=3, default=Decimal(0),
                                       validators=[MinValueValidator(Decimal(0))], help_text=_("per period"))
    member_tariff = models.ForeignKey(Tariff, verbose_name=_("member tariff"), null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+",
                                      help_text=_("priced with this tariff instead of the normal one"))
    energy_discount_percent = models.DecimalField(_("energy discount percent"), max_digits=5, decimal_places=2,
                                                  default=Decimal(0),
                                                  validators=PERCENT)
    time_discount_percent = models.DecimalField(_("time discount percent"), max_digits=5, decimal_places=2,
                                                default=Decimal(0),
                                                validators=PERCENT)
    waive_flat_fee = models.BooleanField(_("waive flat fee"), default=False,
                                         help_text=_("the per-session fee is not charged"))
    idle_fee_policy = models.CharField(_("idle fee policy"), max_length=8, choices=IdleFee.choices,
                                       default=IdleFee.CHARGED)
    idle_grace_minutes = models.PositiveSmallIntegerField(_("idle grace minutes"), default=0,
                                                          help_text=_("with the grace policy"))
    active = models.BooleanField(_("active"), default=True, help_text=_("offered to drivers"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["operator", "name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="unique_plan_name_per_operator"),
            models.CheckConstraint(name="plan_fee_not_negative", condition=Q(fee_excl_vat__gte=0)),
            models.CheckConstraint(name="plan_included_kwh_not_negative", condition=Q(included_kwh__gte=0)),
            models.CheckConstraint(name="plan_discounts_are_percentages",
                                   condition=Q(energy_discount_percent__gte=0, energy_discount_percent__lte=100,
                                               time_discount_percent__gte=0, time_discount_percent__lte=100)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({format_money(self.fee_excl_vat, self.currency)} / {self.per_period})"

    #: The fee's unit as a reader says it ("€19.90 / month", not "19.90 EUR / monthly").
    PER_PERIOD = {Period.MONTHLY: _("month"), Period.YEARLY: _("year")}

    @property
    def per_period(self) -> str:
        return str(self.PER_PERIOD.get(self.period, self.get_period_display()))

    def clean(self):
        if self.member_tariff_id and self.operator_id and self.member_tariff.operator_id != self.operator_id:
            raise ValidationError({"member_tariff": _("Belongs to another operator.")})
        if self.member_tariff_id and self.member_tariff.currency != self.currency:
            raise ValidationError({"member_tariff": _("The member tariff must be in the plan's currency.")})

    @property
    def months(self) -> int:
        return 12 if self.period == self.Period.YEARLY else 1


class Subscription(models.Model):
    """A driver on a plan. `anchor_day` (1-31) fixes where every period starts; a plan change waits
    in `pending_plan` until the next period."""

    OWNER_PATH = "plan__operator"

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due (renewal failed, retrying)")
        SUSPENDED = "suspended", _("Suspended (pay-as-you-go)")
        CANCELED = "canceled", _("Canceled")

    LIVE = (Status.ACTIVE, Status.PAST_DUE, Status.SUSPENDED)

    driver = models.ForeignKey(User, verbose_name=_("driver"), on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="subscriptions")
    pending_plan = models.ForeignKey(Plan, verbose_name=_("pending plan"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+",
                                     help_text=_("takes effect at the next period"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    anchor_day = models.PositiveSmallIntegerField(_("anchor day"),
                                                  validators=[MinValueValidator(1), MaxValueValidator(31)])
    current_period_start = models.DateField(_("current period start"))
    current_period_end = models.DateField(_("current period end"),
                                          help_text=_("exclusive; the renewal is due from this day on"))
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    payment_method_id = models.CharField(_("payment method id"), max_length=255, blank=True,
                                         help_text=_("Stripe PaymentMethod charged"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["driver"], condition=~Q(status="canceled"),
                                    name="one_live_subscription_per_driver"),
            models.CheckConstraint(name="subscription_period_ordered",
                                   condition=Q(current_period_end__gt=F("current_period_start"))),
            models.CheckConstraint(name="subscription_anchor_day_valid",
                                   condition=Q(anchor_day__gte=1, anchor_day__lte=31)),
        ]

    def __str__(self) -> str:
        return _("%(driver)s on %(plan)s (%(status)s)") % {
            "driver": self.driver, "plan": self.plan.name, "status": self.status}


class SubscriptionPeriod(models.Model):
    """One period of a subscription: the fee asked for it, how it was paid, and the included kWh used.

    `starts_at`/`ends_at` are the period's instants (operator's time zone), used to find the period of
    a session by its start."""

    OWNER_PATH = "subscription__plan__operator"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (not charged yet)")
        PAID = "paid", _("Paid by card")
        FAILED = "failed", _("Payment failed (dunning)")
        STATEMENT = "statement", _("Billed on the monthly statement")
        FREE = "free", _("Nothing to pay")

    subscription = models.ForeignKey(Subscription, verbose_name=_("subscription"), on_delete=models.PROTECT,
                                     related_name="periods")
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), help_text=_("exclusive"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(_("currency"), max_length=3)
    fee_excl_vat = models.DecimalField(_("fee excl vat"), max_digits=14, decimal_places=2)
    fee_vat = models.DecimalField(_("fee vat"), max_digits=14, decimal_places=2)
    fee_incl_vat = models.DecimalField(_("fee incl vat"), max_digits=14, decimal_places=2)
    included_kwh = models.DecimalField(_("included kwh"), max_digits=10, decimal_places=3, default=Decimal(0))
    used_kwh = models.DecimalField(_("used kwh"), max_digits=10, decimal_places=3, default=Decimal(0))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, help_text=_("charges tried"))
    first_failed_at = models.DateTimeField(_("first failed at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+",
                                help_text=_("the last charge tried"))
    invoice = models.OneToOneField(Invoice, verbose_name=_("invoice"), null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="subscription_period")
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("subscription period")
        verbose_name_plural = _("subscription periods")
        ordering = ["subscription", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="one_renewal_per_period"),
            models.CheckConstraint(name="subscription_period_dates_ordered",
                                   condition=Q(period_end__gt=F("period_start"))),
            models.CheckConstraint(name="subscription_period_kwh_within_included",
                                   condition=Q(used_kwh__gte=0) & Q(used_kwh__lte=F("included_kwh"))),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="subscription_period_dunning")]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_start}..{self.period_end} ({self.status})"

    @property
    def remaining_kwh(self) -> Decimal:
        return self.included_kwh - self.used_kwh
