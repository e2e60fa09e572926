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

    operator = models.OneToOneField(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                    related_name="dispute_sla")
    first_response_hours = models.PositiveIntegerField(_("first response hours"), default=24)
    resolution_hours = models.PositiveIntegerField(_("resolution hours"), default=120)

    class Meta:
        verbose_name_plural = _("operator SLAs")
        verbose_name = _("operator SLA")
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

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="dispute_tickets")
    driver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("driver"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="dispute_tickets",
        help_text=_("blank only for a chargeback on a payment no driver account is known for"),
    )
    session = models.ForeignKey(
        ChargingSession, verbose_name=_("session"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="dispute_tickets"
    )
    invoice_id = models.BigIntegerField(_("invoice id"), null=True, blank=True, db_index=True)
    payment_id = models.BigIntegerField(_("payment id"), null=True, blank=True, db_index=True)
    stripe_dispute_id = models.CharField(_("stripe dispute id"), max_length=255, null=True, blank=True, unique=True)
    chargeback_status = models.CharField(_("chargeback status"), max_length=40, blank=True)
    chargeback_amount = models.DecimalField(_("chargeback amount"), max_digits=14, decimal_places=2, null=True,
                                            blank=True)
    chargeback_currency = models.CharField(_("chargeback currency"), max_length=3, blank=True)
    evidence_due_by = models.DateTimeField(_("evidence due by"), null=True, blank=True,
                                           help_text=_("Stripe's deadline for our evidence"))

    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    subject = models.CharField(_("subject"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_tickets"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("opened by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    opened_at = models.DateTimeField(_("opened at"))
    reopen_count = models.PositiveSmallIntegerField(_("reopen count"), default=0)

    first_response_due = models.DateTimeField(_("first response due"))
    resolution_due = models.DateTimeField(_("resolution due"))
    first_responded_at = models.DateTimeField(_("first responded at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    first_response_breached = models.BooleanField(_("first response breached"), default=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    resolution_kind = models.CharField(_("resolution kind"), max_length=12, choices=ResolutionKind.choices, blank=True)
    resolution_explanation = models.TextField(_("resolution explanation"), blank=True)
    resolution_amount = models.DecimalField(_("resolution amount"), max_digits=14, decimal_places=2, null=True,
                                            blank=True)
    resolution_currency = models.CharField(_("resolution currency"), max_length=3, blank=True)
    resolution_reference = models.JSONField(
        _("resolution reference"), default=dict, blank=True, encoder=DjangoJSONEncoder,
        help_text=_("what the resolver created (refund, credit note ids)"),
    )

    class Meta:
        verbose_name = _("dispute ticket")
        verbose_name_plural = _("dispute tickets")
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
        return _("Ticket #%(id)s: %(subject)s") % {"id": self.pk, "subject": self.subject}

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

    ticket = models.ForeignKey(DisputeTicket, verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="transitions")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(_("from status"), max_length=20, blank=True)
    to_status = models.CharField(_("to status"), max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                           on_delete=models.SET_NULL,
                           related_name="+")
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("ticket transition")
        verbose_name_plural = _("ticket transitions")
        ordering = ["ticket", "at", "pk"]

    def __str__(self) -> str:
        return _("%(from)s -> %(to)s at %(time)s") % {
            "from": self.from_status or "-", "to": self.to_status, "time": f"{self.at:%Y-%m-%d %H:%M}"}

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

    ticket = models.ForeignKey(DisputeTicket, verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True,
                               on_delete=models.SET_NULL,
                               related_name="+")
    from_staff = models.BooleanField(_("from staff"))
    body = models.TextField(_("body"))
    internal = models.BooleanField(_("internal"), default=False)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["ticket", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(name="internal_notes_are_staff_only",
                                   condition=Q(internal=False) | Q(from_staff=True)),
        ]

    def __str__(self) -> str:
        text = _("note %(id)s on ticket %(ticket)s") if self.internal else _("message %(id)s on ticket %(ticket)s")
        return text % {"id": self.pk, "ticket": self.ticket_id}


def _attachment_path(instance: MessageAttachment, filename: str) -> str:
    return f"disputes/{instance.message.ticket_id}/{filename}"


class MessageAttachment(models.Model):
    """A file sent with a message, checked by `disputes_app.attachments` (size, sniffed type) and
    stored under MEDIA_ROOT with a generated name; served only through the scoped views."""

    OWNER_PATH = "message__ticket__operator"

    message = models.ForeignKey(TicketMessage, verbose_name=_("message"), on_delete=models.CASCADE,
                                related_name="attachments")
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=255)
    original_name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))

    class Meta:
        verbose_name = _("message attachment")
        verbose_name_plural = _("message attachments")
        ordering = ["message", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Evidence(models.Model):
    """The evidence bundle collected once, when the ticket opened, and never changed after: what the
    meter, the tariff, the charger and billing said at that moment (see `disputes_app.evidence`)."""

    OWNER_PATH = "ticket__operator"

    ticket = models.OneToOneField(DisputeTicket, verbose_name=_("ticket"), on_delete=models.CASCADE,
                                  related_name="evidence")
    data = models.JSONField(_("data"), encoder=DjangoJSONEncoder)
    collected_at = models.DateTimeField(_("collected at"))

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return _("evidence of ticket %(ticket)s") % {"ticket": self.ticket_id}

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Evidence is frozen when the ticket opens and cannot be changed.")
        super().save(*args, **kwargs)
