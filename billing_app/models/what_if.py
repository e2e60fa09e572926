"""Tariff what-if runs: a draft tariff tried on the sessions of a date range, compared with what they were
charged. A run only reads charges; its figures live here so the result page survives a reload."""
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from billing_app.models.tariffs import Tariff
from sessions_app.models import ChargingSession, Location, Operator, User

__all__ = ["WhatIfRun", "WhatIfSession"]


class WhatIfRun(models.Model):
    OWNER_PATH = "operator"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                 related_name="what_if_runs")
    created_by = models.ForeignKey(User, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    draft_name = models.CharField(_("draft name"), max_length=160)
    draft_tariff = models.ForeignKey(Tariff, verbose_name=_("draft tariff"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     help_text=_("the stored tariff tried, if the draft was not an upload"))
    draft_ocpi_json = models.TextField(_("draft ocpi json"),
                                       help_text=_("the draft as OCPI JSON when the run was made (exact decimals)"))
    compared_tariff = models.ForeignKey(Tariff, verbose_name=_("compared tariff"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+",
                                        help_text=_("only sessions charged with this tariff (blank: every tariff)"))
    start_date = models.DateField(_("start date"), help_text=_("first day (operator's local time)"))
    end_date = models.DateField(_("end date"), help_text=_("last day, inclusive"))
    locations = models.ManyToManyField(Location, verbose_name=_("locations"), blank=True, related_name="+",
                                       help_text=_("blank: every location of the operator"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    sessions_total = models.PositiveIntegerField(_("sessions total"), default=0)
    sessions_done = models.PositiveIntegerField(_("sessions done"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True,
                               help_text=_("totals, stations, distribution, top changes"))
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last progress at"), null=True, blank=True,
        help_text=_("when the run was queued or last reported progress (no progress for long: stalled)"))
    attempt = models.PositiveIntegerField(
        _("attempt"), default=0,
        help_text=_("how many times a worker took the run; an older attempt's rows and progress are refused"))

    class Meta:
        verbose_name = _("what if run")
        verbose_name_plural = _("what if runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(name="what_if_dates_ordered", condition=Q(end_date__gte=F("start_date"))),
        ]

    def __str__(self) -> str:
        return _("What-if %(draft)s, %(start)s to %(end)s") % {
            "draft": self.draft_name, "start": self.start_date, "end": self.end_date}


class WhatIfSession(models.Model):
    """One session of a run: what it was charged and what the draft would have charged (2-place amounts)."""

    OWNER_PATH = "run__operator"

    run = models.ForeignKey(WhatIfRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="sessions")
    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), on_delete=models.CASCADE, related_name="+")
    station = models.CharField(_("station"), max_length=100)
    currency = models.CharField(_("currency"), max_length=3)
    energy_kwh = models.DecimalField(_("energy kwh"), max_digits=12, decimal_places=3)
    charged_excl_vat = models.DecimalField(_("charged excl vat"), max_digits=14, decimal_places=2)
    charged_incl_vat = models.DecimalField(_("charged incl vat"), max_digits=14, decimal_places=2)
    draft_excl_vat = models.DecimalField(_("draft excl vat"), max_digits=14, decimal_places=2)
    draft_incl_vat = models.DecimalField(_("draft incl vat"), max_digits=14, decimal_places=2)
    difference_incl_vat = models.DecimalField(_("difference incl vat"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("what if session")
        verbose_name_plural = _("what if sessions")
        ordering = ["run", "session"]
        constraints = [models.UniqueConstraint(fields=["run", "session"], name="what_if_session_once")]

    def __str__(self) -> str:
        return _("session %(session)s: %(charged)s -> %(draft)s %(currency)s") % {
            "session": self.session_id, "charged": self.charged_incl_vat, "draft": self.draft_incl_vat,
            "currency": self.currency}
