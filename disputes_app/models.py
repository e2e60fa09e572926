"""Dispute tickets: what a driver (or a chargeback) contests, the conversation about it, the evidence
frozen when it opened, its audit trail and the SLA it is worked under.

Invariants kept by the database: one active ticket per (session, reason), one ticket per Stripe
dispute, SLA hours positive. Workflow rules live in `disputes_app.workflow` and `services`.
"""
from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sessions_app.models import ChargingSession, Operator


class OperatorSla(models.Model):
    """How fast an operator's support answers and resolves disputes; absent means the defaults
    in settings (DISPUTE_SLA_FIRST_RESPONSE_HOURS / DISPUTE_SLA_RESOLUTION_HOURS)."""

    OWNER_PATH = "operator"

    operator = models.OneToOneField(Operator, on_delete=models.CASCADE, related_name="dispute_sla")
    first_response_hours = models.PositiveIntegerField(default=24)
    resolution_hours = models.PositiveIntegerField(default=120)

    class Meta:
        verbose_name = "operator SLA"
        constraints = [
            models.CheckConstraint(name="sla_first_response_positive", condition=Q(first_response_hours__gte=1)),
            models.CheckConstraint(name="sla_resolution_positive", condition=Q(resolution_hours__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.operator}: {self.first_response_hours} h / {self.resolution_hours} h"


class DisputeTicket(models.Model):
    OWNER_PATH = "operator"

    class Reason(models.TextChoices):
        WRONG_AMOUNT = "wrong_amount", _("Wrong amount")
        NOT_MINE = "not_mine", _("Session not mine")
        CHARGER_FAULT = "charger_fault", _("Charger fault / stopped early")
        PAYMENT_PROBLEM = "payment_problem", _("Payment problem")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING_FOR_DRIVER = "waiting_for_driver", _("Waiting for driver")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Source(models.TextChoices):
        DRIVER = "driver", _("Driver")
        SUPPORT = "support", _("Support staff")
        CHARGEBACK = "chargeback", _("Stripe chargeback")

    class ResolutionKind(models.TextChoices):
        REJECT = "reject", _("Rejected")
        REFUND = "refund", _("Refund")
        CREDIT_NOTE = "credit_note", _("Credit note")
        REPRICE = "reprice", _("Re-priced")
        CHARGEBACK = "chargeback", _("Decided by the card issuer")

    ACTIVE_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_FOR_DRIVER)

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="dispute_tickets")
    driver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute_tickets",
        help_text="blank only for a chargeback on a payment no driver account is known for",
    )
    session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute_tickets"
    )
    invoice_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    stripe_dispute_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    chargeback_status = models.CharField(max_length=40, blank=True)
    chargeback_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    chargeback_currency = models.CharField(max_length=3, blank=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True, help_text="Stripe's deadline for our evidence")

    source = models.CharField(max_length=12, choices=Source.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    reopen_count = models.PositiveSmallIntegerField(default=0)

    first_response_due = models.DateTimeField()
    resolution_due = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(null=True, blank=True)

    resolution_kind = models.CharField(max_length=12, choices=ResolutionKind.choices, blank=True)
    resolution_explanation = models.TextField(blank=True)
    resolution_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    resolution_currency = models.CharField(max_length=3, blank=True)
    resolution_reference = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder,
        help_text="what the resolver created (refund, credit note ids)",
    )

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["operator", "status"], name="ticket_operator_status"),
            models.Index(fields=["driver", "-opened_at"], name="ticket_driver_opened"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "reason"],
                condition=Q(status__in=["open", "in_progress", "waiting_for_driver"]),
                name="one_active_ticket_per_session_reason",
            ),
            models.CheckConstraint(
                name="ticket_resolution_amount_positive",
                condition=Q(resolution_amount__isnull=True) | Q(resolution_amount__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"Ticket #{self.pk}: {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None


class TicketTransition(models.Model):
    """The audit trail: every status change, assignment and escalation, who did it and when
    (`by` blank: the system, e.g. a Stripe event or the SLA task)."""

    OWNER_PATH = "ticket__operator"

    class Kind(models.TextChoices):
        STATUS = "status", _("Status change")
        ASSIGNMENT = "assignment", _("Assignment")
        ESCALATION = "escalation", _("SLA escalation")

    ticket = models.ForeignKey(DisputeTicket, on_delete=models.CASCADE, related_name="transitions")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["ticket", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def from_status_label(self) -> str:
        return DisputeTicket.Status(self.from_status).label if self.from_status in DisputeTicket.Status.values else ""

    @property
    def to_status_label(self) -> str:
        return DisputeTicket.Status(self.to_status).label if self.to_status in DisputeTicket.Status.values else (
            self.to_status)


class TicketMessage(models.Model):
    """One message of the conversation; `internal` notes are for staff and never shown to drivers."""

    OWNER_PATH = "ticket__operator"

    ticket = models.ForeignKey(DisputeTicket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    from_staff = models.BooleanField()
    body = models.TextField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["ticket", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(name="internal_notes_are_staff_only",
                                   condition=Q(internal=False) | Q(from_staff=True)),
        ]

    def __str__(self) -> str:
        return f"{'note' if self.internal else 'message'} {self.pk} on ticket {self.ticket_id}"


def _attachment_path(instance: MessageAttachment, filename: str) -> str:
    return f"disputes/{instance.message.ticket_id}/{filename}"


class MessageAttachment(models.Model):
    """A file sent with a message, checked by `disputes_app.attachments` (size, sniffed type) and
    stored under MEDIA_ROOT with a generated name; served only through the scoped views."""

    OWNER_PATH = "message__ticket__operator"

    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["message", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Evidence(models.Model):
    """The evidence bundle collected once, when the ticket opened, and never changed after: what the
    meter, the tariff, the charger and billing said at that moment (see `disputes_app.evidence`)."""

    OWNER_PATH = "ticket__operator"

    ticket = models.OneToOneField(DisputeTicket, on_delete=models.CASCADE, related_name="evidence")
    data = models.JSONField(encoder=DjangoJSONEncoder)
    collected_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"evidence of ticket {self.ticket_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Evidence is frozen when the ticket opens and cannot be changed.")
        super().save(*args, **kwargs)
