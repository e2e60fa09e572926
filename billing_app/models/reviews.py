"""A session charge held for review: priced, but neither captured, charged off-session nor put on a
receipt or statement until someone of its operator accepts it or corrects its energy.

Settlement opens a review when the meter readings are implausible (`sessions_app.plausibility`), payment
settlement when the cost above the hold exceeds the operator's `max_off_session_charge`. One review per
charge (a resolved review is not reopened: someone looked at it). The figures as first priced stay here,
so the audit log and the admin show what a correction changed.
"""
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing_app.models.tariffs import SessionCharge
from sessions_app.models import User

__all__ = ["ChargeReview"]


class ChargeReview(models.Model):
    OWNER_PATH = "charge__session__operator"

    class Status(models.TextChoices):
        HELD = "held", _("Held for review")
        ACCEPTED = "accepted", _("Accepted as measured")
        CORRECTED = "corrected", _("Energy corrected")

    charge = models.OneToOneField(SessionCharge, verbose_name=_("charge"), on_delete=models.PROTECT,
                                  related_name="review")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    reasons = models.JSONField(_("reasons"), help_text=_('why it is held: [{"code": ..., "detail": ...}] (text only)'))
    measured_energy_kwh = models.DecimalField(_("measured energy kwh"), max_digits=12, decimal_places=3)
    priced_total_incl_vat = models.DecimalField(_("priced total incl vat"), max_digits=14, decimal_places=2,
                                                help_text=_("the total as first priced, before any correction"))
    corrected_energy_kwh = models.DecimalField(_("corrected energy kwh"), max_digits=12, decimal_places=3, null=True,
                                               blank=True)
    corrected_total_incl_vat = models.DecimalField(_("corrected total incl vat"), max_digits=14, decimal_places=2,
                                                   null=True, blank=True)
    resolved_by = models.ForeignKey(User, verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    class Meta:
        verbose_name = _("charge review")
        verbose_name_plural = _("charge reviews")
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["status", "-opened_at"], name="charge_review_status")]
        constraints = [
            models.CheckConstraint(name="charge_review_resolved_has_resolver",
                                   condition=Q(status="held") | Q(resolved_at__isnull=False)),
            models.CheckConstraint(name="charge_review_corrected_has_energy",
                                   condition=~Q(status="corrected") | Q(corrected_energy_kwh__gte=0)),
        ]

    def __str__(self) -> str:
        return _("review of session %(session)s (%(status)s)") % {
            "session": self.charge.session_id, "status": self.get_status_display()}

    @property
    def reason_codes(self) -> list[str]:
        return [reason.get("code", "") for reason in self.reasons or []]
