"""What something we send to another system and retry on a schedule is (webhooks_app's `WebhookDelivery`,
ocpi_app's `PushDelivery`): the fields of its attempts, and the one rule that moves it after an attempt
(`OutboundDelivery.attempt_outcome_record`).

An abstract model, so each app keeps its own table, constraints and indexes; how an attempt is claimed and sent
stays with the app (a webhook POSTs under a lease of its own, an OCPI push calls the partner's client). It imports
no app, so every app may build on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboundDelivery(models.Model):
    """Pending (first attempt queued), retrying (due again at `next_attempt_at`), succeeded or failed (attempts used
    up, or an answer a retry would not change). `attempts` counts the attempts claimed so far; an open delivery
    always has a `next_attempt_at`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    OPEN_STATUSES = (Status.PENDING, Status.RETRYING)

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def attempt_outcome_record(
        self, *, now: datetime, delivered: bool, error: str, final: bool, schedule: Sequence[int]
    ) -> None:
        """Record how attempt number `attempts` ended (unsaved). An open delivery moves on: succeeded when
        `delivered`; failed when the outcome is `final` or the retry schedule is used up (attempts = its length
        + 1); otherwise retrying, due `schedule[attempts - 1]` seconds after `now`. A delivery closed meanwhile
        (an OCPI push superseded by a newer one) keeps its status."""
        self.last_attempt_at, self.last_error = now, error[:255]
        if self.status not in self.OPEN_STATUSES:
            return
        if delivered:
            self.status, self.delivered_at, self.next_attempt_at = self.Status.SUCCEEDED, now, None
        elif final or self.attempts > len(schedule):
            self.status, self.next_attempt_at = self.Status.FAILED, None
        else:
            self.status = self.Status.RETRYING
            self.next_attempt_at = now + timedelta(seconds=schedule[self.attempts - 1])
