"""A guest's charge: someone without an account who scanned a connector's QR code, paid a hold and started
the charger with a one-time token (EU AFIR Art. 5 ad hoc payment).

The guest's key is a random link (`/charge-session/<key>/`); only its SHA-256 is stored, so the database
alone never opens a session page. Each guest gets a driver row of their own that cannot sign in (no usable
password, so no password reset either), a pay-as-you-go billing account and an `AD_HOC` token: the hold, the
capture, the receipt and its PDF then follow the same code paths as a registered driver's. The database
refuses two guests starting or charging on one connector at once, and a second hold for one guest (the
Payment's idempotency key).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing_app.models import Payment
from sessions_app.models import ChargingSession, Connector, IdToken, Operator, User


class GuestSession(models.Model):
    OWNER_PATH = "operator"

    class State(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        DECLINED = "declined", _("Payment declined")
        STARTING = "starting", _("Starting (hold placed, charger asked to start)")
        CHARGING = "charging", _("Charging")
        ENDED = "ended", _("Ended")
        FAILED = "failed", _("Did not start (hold released)")

    LIVE_STATES = (State.STARTING, State.CHARGING)

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="guest_sessions")
    connector = models.ForeignKey(Connector, verbose_name=_("connector"), on_delete=models.PROTECT,
                                  related_name="guest_sessions")
    driver = models.OneToOneField(User, verbose_name=_("driver"), on_delete=models.PROTECT,
                                  related_name="guest_session",
                                  help_text=_("the guest's own driver row; it cannot sign in"))
    id_token = models.OneToOneField(IdToken, verbose_name=_("id token"), on_delete=models.PROTECT,
                                    related_name="guest_session",
                                    help_text=_("the one-time token the charger is started with"))
    session = models.OneToOneField(ChargingSession, verbose_name=_("session"), null=True, blank=True,
                                   on_delete=models.PROTECT,
                                   related_name="guest")
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    access_key_hash = models.CharField(_("access key hash"), max_length=64, unique=True,
                                       help_text=_("SHA-256 of the guest's link key"))
    email = models.EmailField(_("email"), blank=True, help_text=_("for the receipt; optional"))
    language = models.CharField(_("language"), max_length=12, default="en")
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.AWAITING_PAYMENT)
    message = models.CharField(_("message"), max_length=255, blank=True,
                               help_text=_("what the guest is told (a decline, a refusal)"))
    currency = models.CharField(_("currency"), max_length=3)
    hold_amount = models.DecimalField(_("hold amount"), max_digits=14, decimal_places=2)
    stripe_customer_id = models.CharField(_("stripe customer id"), max_length=255, blank=True)
    setup_intent_id = models.CharField(_("setup intent id"), max_length=255, blank=True)
    start_command_id = models.CharField(_("start command id"), max_length=64, blank=True)
    start_deadline = models.DateTimeField(_("start deadline"), null=True, blank=True)
    stop_requested_at = models.DateTimeField(_("stop requested at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("guest session")
        verbose_name_plural = _("guest sessions")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "start_deadline"], name="guest_state_deadline")]
        constraints = [
            models.UniqueConstraint(fields=["connector"], condition=Q(state__in=["starting", "charging"]),
                                    name="one_live_guest_per_connector"),
        ]

    def __str__(self) -> str:
        return _("Guest %(id)s on %(connector)s (%(state)s)") % {
            "id": self.pk, "connector": self.connector_id, "state": self.state}
