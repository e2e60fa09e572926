"""What billing records about company cards: the notice that a card reached its monthly spending cap."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from sessions_app.models import IdToken

__all__ = ["CardCapNotice"]


class CardCapNotice(models.Model):
    """A business card reached its monthly cap in `month` (first day, operator's time zone): written once
    (unique per card and month) in the transaction that finds it, and the e-mail to the company is sent after
    the commit; from then on until the month ends the card is refused at chargers."""

    OWNER_PATH = "id_token__operator"

    id_token = models.ForeignKey(IdToken, verbose_name=_("id token"), on_delete=models.PROTECT,
                                 related_name="cap_notices")
    month = models.DateField(_("month"))
    cap = models.DecimalField(_("cap"), max_digits=10, decimal_places=2)
    spent = models.DecimalField(_("spent"), max_digits=14, decimal_places=2,
                                help_text=_("incl. VAT when the cap was reached"))
    currency = models.CharField(_("currency"), max_length=3)
    reached_at = models.DateTimeField(_("reached at"))
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("card cap notice")
        verbose_name_plural = _("card cap notices")
        ordering = ["-month", "id_token"]
        constraints = [
            models.UniqueConstraint(fields=["id_token", "month"], name="one_cap_notice_per_card_month"),
        ]

    def __str__(self) -> str:
        return _("%(token)s reached %(cap)s %(currency)s in %(month)s") % {
            "token": self.id_token, "cap": self.cap, "currency": self.currency, "month": f"{self.month:%Y-%m}"}
