"""Tariff what-if runs: a draft tariff tried on the sessions of a date range, compared with what they were
charged. A run only reads charges; its figures live here so the result page survives a reload."""
from django.db import models
from django.db.models import F, Q

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

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="what_if_runs")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    draft_name = models.CharField(max_length=160)
    draft_tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     help_text="the stored tariff tried, if the draft was not an upload")
    draft_ocpi_json = models.TextField(help_text="the draft as OCPI JSON when the run was made (exact decimals)")
    compared_tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                        help_text="only sessions charged with this tariff (blank: every tariff)")
    start_date = models.DateField(help_text="first day (operator's local time)")
    end_date = models.DateField(help_text="last day, inclusive")
    locations = models.ManyToManyField(Location, blank=True, related_name="+",
                                       help_text="blank: every location of the operator")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    sessions_total = models.PositiveIntegerField(default=0)
    sessions_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="totals, stations, distribution, top changes")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(name="what_if_dates_ordered", condition=Q(end_date__gte=F("start_date"))),
        ]

    def __str__(self) -> str:
        return f"What-if {self.draft_name}, {self.start_date} to {self.end_date}"


class WhatIfSession(models.Model):
    """One session of a run: what it was charged and what the draft would have charged (2-place amounts)."""

    OWNER_PATH = "run__operator"

    run = models.ForeignKey(WhatIfRun, on_delete=models.CASCADE, related_name="sessions")
    session = models.ForeignKey(ChargingSession, on_delete=models.CASCADE, related_name="+")
    station = models.CharField(max_length=100)
    currency = models.CharField(max_length=3)
    energy_kwh = models.DecimalField(max_digits=12, decimal_places=3)
    charged_excl_vat = models.DecimalField(max_digits=14, decimal_places=2)
    charged_incl_vat = models.DecimalField(max_digits=14, decimal_places=2)
    draft_excl_vat = models.DecimalField(max_digits=14, decimal_places=2)
    draft_incl_vat = models.DecimalField(max_digits=14, decimal_places=2)
    difference_incl_vat = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["run", "session"]
        constraints = [models.UniqueConstraint(fields=["run", "session"], name="what_if_session_once")]

    def __str__(self) -> str:
        return f"session {self.session_id}: {self.charged_incl_vat} -> {self.draft_incl_vat} {self.currency}"
