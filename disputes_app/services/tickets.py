"""Tickets opened, assigned, moved through the workflow and conversed on, each in one transaction with the
ticket row locked."""
from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing_app.models import Invoice
from evbilling.errors import ApplicationError, NotFoundError
from sessions_app.models import ChargingSession, Operator, User

from .. import notifications, sla, workflow
from ..attachments import stored_name, validate_attachments
from ..evidence import collect_evidence
from ..models import DisputeTicket, Evidence, MessageAttachment, TicketMessage, TicketTransition
from ..selectors import can_handle, is_ticket_staff
from ..signals import dispute_opened

Status = DisputeTicket.Status
Kind = DisputeTicket.ResolutionKind


class DisputeError(ApplicationError):
    """An operation refused; the message says why, for the person who tried."""


class DisputeNotFound(DisputeError, NotFoundError):
    """The ticket or session is not the caller's to see (a 404 for views)."""


def _locked(ticket: DisputeTicket) -> DisputeTicket:
    return DisputeTicket.objects.select_for_update(of=("self",)).select_related("operator", "driver", "assignee").get(
        pk=ticket.pk
    )


def _record(ticket: DisputeTicket, *, to_status: str, by: User | None, at: datetime, note: str = "",
            from_status: str | None = None, kind: str = TicketTransition.Kind.STATUS) -> None:
    TicketTransition.objects.create(
        ticket=ticket, kind=kind, from_status=ticket.status if from_status is None else from_status,
        to_status=to_status, by=by, at=at, note=note,
    )


def _move(ticket: DisputeTicket, *, to_status: str, by: User | None, now: datetime, note: str = "") -> None:
    """Change the status of a locked ticket if the workflow allows it, and record the transition."""
    if not workflow.is_allowed(ticket.status, to_status):
        raise DisputeError(workflow.refusal(ticket.status, to_status))
    _record(ticket, to_status=to_status, by=by, at=now, note=note)
    ticket.status = to_status
    ticket.save(update_fields=["status"])


def _subject(reason: str, session: ChargingSession | None, invoice_id: int | None) -> str:
    """The subject, stored in the default language whoever opens the ticket; pages say it in their reader's
    (`disputes_app.subjects.subject_text`)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _subject_text(reason, session, invoice_id)


def _subject_text(reason: str, session: ChargingSession | None, invoice_id: int | None) -> str:
    number = Invoice.objects.filter(pk=invoice_id).values_list("number", flat=True).first() if invoice_id else None
    label = DisputeTicket.Reason(reason).label
    if session:
        return _("%(reason)s — session %(number)s") % {"reason": label, "number": session.pk}
    if invoice_id:
        return _("%(reason)s — invoice %(number)s") % {"reason": label, "number": number or invoice_id}
    return _("%(reason)s — account") % {"reason": label}


def _create(*, operator: Operator, driver: User | None, session: ChargingSession | None, reason: str,
            source: str, opened_by: User | None, now: datetime, **fields) -> DisputeTicket:
    """Insert a ticket with its deadlines, first transition and frozen evidence; refuses a second
    active ticket for the same session and reason (the partial unique index has the last word)."""
    if session is not None:
        duplicate = DisputeTicket.objects.filter(session=session, reason=reason,
                                                 status__in=DisputeTicket.ACTIVE_STATUSES).first()
        if duplicate is not None:
            raise DisputeError(_("Ticket #%(number)s about this session and reason is still open.") % {
                "number": duplicate.pk})
    first_response_due, resolution_due = sla.deadlines(operator, start=now)
    fields.setdefault("subject", _subject(reason, session, fields.get("invoice_id")))
    try:
        with transaction.atomic():
            ticket = DisputeTicket.objects.create(
                operator=operator, driver=driver, session=session, reason=reason, source=source,
                opened_by=opened_by, opened_at=now, first_response_due=first_response_due,
                resolution_due=resolution_due, **fields,
            )
    except IntegrityError as error:
        raise DisputeError(_("A ticket about this session and reason is still open.")) from error
    _record(ticket, from_status="", to_status=Status.OPEN, by=opened_by, at=now, note=f"opened ({source})")
    Evidence.objects.create(ticket=ticket, data=collect_evidence(ticket=ticket), collected_at=now)
    dispute_opened.send(sender=DisputeTicket, ticket=ticket)
    return ticket


@transaction.atomic
def ticket_open(
    *,
    by: User,
    reason: str,
    description: str,
    session: ChargingSession | None = None,
    operator: Operator | None = None,
    driver: User | None = None,
    invoice_id: int | None = None,
    payment_id: int | None = None,
    now: datetime | None = None,
) -> DisputeTicket:
    """Open a ticket. A driver opens one about their own session or invoice (another's is "not found");
    support staff open one for a driver of an operator they support, about a session, invoice or payment."""
    now = now or timezone.now()
    if reason not in DisputeTicket.Reason.values:
        raise DisputeError(f"{reason!r} is not a dispute reason.")
    if not description.strip():
        raise DisputeError(_("Describe what is wrong."))
    staff = is_ticket_staff(by)
    if invoice_id is not None:
        invoice = _invoice_for(by=by, invoice_id=invoice_id, staff=staff)
        operator, driver = invoice.operator, invoice.driver
        session = session or invoice.session
    if session is not None:
        operator, driver = session.operator, session.driver
        if not staff and session.driver_id != by.pk:
            raise DisputeNotFound(_("No such session."))
        if session.state == ChargingSession.State.ACTIVE:
            raise DisputeError(_("The session is still running; open a ticket once it has ended."))
    elif not staff and invoice_id is None:
        raise DisputeError(_("Choose the session or invoice the ticket is about."))
    if operator is None:
        raise DisputeError(_("Choose the operator the ticket is about."))
    if staff:
        probe = DisputeTicket(operator=operator)
        if not can_handle(by, probe):
            raise DisputeNotFound(_("No such operator."))
        if driver is not None and driver.operator_id not in (None, operator.pk):
            raise DisputeError(_("That driver belongs to another operator."))
    ticket = _create(
        operator=operator, driver=driver if staff else by, session=session, reason=reason,
        source=DisputeTicket.Source.SUPPORT if staff else DisputeTicket.Source.DRIVER, opened_by=by, now=now,
        invoice_id=invoice_id, payment_id=payment_id,
    )
    message = TicketMessage.objects.create(ticket=ticket, author=by, from_staff=staff, body=description.strip(),
                                           created_at=now)
    if staff:
        ticket.first_responded_at = now
        ticket.save(update_fields=["first_responded_at"])
    notifications.message_posted(message)
    return ticket


def _invoice_for(*, by: User, invoice_id: int, staff: bool):
    """The issued invoice a ticket is about: a driver's own, or one of an operator the staff member
    works for; anything else is "not found"."""

    invoice = (Invoice.objects.select_related("operator", "driver", "session")
               .filter(pk=invoice_id, number__isnull=False).first())
    if invoice is None or (not staff and invoice.driver_id != by.pk) or (
            staff and not can_handle(by, DisputeTicket(operator=invoice.operator))):
        raise DisputeNotFound(_("No such invoice."))
    return invoice


@transaction.atomic
def ticket_assign(*, ticket: DisputeTicket, assignee: User | None, by: User,
                  now: datetime | None = None) -> DisputeTicket:
    """Give the ticket to a support agent (None: nobody). Assigning the current assignee changes nothing."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if not can_handle(by, ticket):
        raise DisputeNotFound(_("No such ticket."))
    if assignee is not None and not can_handle(assignee, ticket):
        raise DisputeError(_("%(assignee)s does not work tickets of %(operator)s.") % {
            "assignee": assignee, "operator": ticket.operator})
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    note = f"assigned to {assignee.get_username()}" if assignee else "unassigned"
    _record(ticket, to_status=ticket.status, by=by, at=now, note=note, kind=TicketTransition.Kind.ASSIGNMENT)
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee"])
    return ticket


def _reopen(ticket: DisputeTicket, *, by: User, now: datetime, note: str) -> None:
    resolved_at = ticket.resolved_at or now
    if now > resolved_at + timedelta(days=settings.DISPUTE_REOPEN_DAYS):
        raise DisputeError(
            _("This ticket was resolved more than %(days)s days ago and cannot be reopened; please open a new one.")
            % {"days": settings.DISPUTE_REOPEN_DAYS})
    if ticket.session_id and DisputeTicket.objects.filter(
        session_id=ticket.session_id, reason=ticket.reason, status__in=DisputeTicket.ACTIVE_STATUSES
    ).exists():
        raise DisputeError(_("Another ticket about this session and reason is open; continue there."))
    _move(ticket, to_status=Status.OPEN, by=by, now=now, note=note or "reopened")
    ticket.first_response_due, ticket.resolution_due = sla.deadlines(ticket.operator, start=now)
    ticket.reopen_count += 1
    ticket.resolved_at = ticket.first_responded_at = ticket.escalated_at = None
    ticket.first_response_breached = ticket.resolution_breached = False
    ticket.save()


@transaction.atomic
def ticket_transition(*, ticket: DisputeTicket, to_status: str, by: User, note: str = "",
                      now: datetime | None = None) -> DisputeTicket:
    """Move the ticket along the workflow table (`disputes_app.workflow`). Staff make every move but
    resolving (that is `ticket_resolve`); the driver may only reopen, within DISPUTE_REOPEN_DAYS."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    staff = can_handle(by, ticket)
    if not staff and ticket.driver_id != by.pk:
        raise DisputeNotFound(_("No such ticket."))
    if to_status not in Status.values:
        raise DisputeError(f"{to_status!r} is not a ticket status.")
    if not workflow.is_allowed(ticket.status, to_status):
        raise DisputeError(workflow.refusal(ticket.status, to_status))
    if to_status == Status.RESOLVED:
        raise DisputeError(_("Resolve the ticket with a resolution (reject, refund, credit note or re-price)."))
    if to_status == Status.OPEN:
        _reopen(ticket, by=by, now=now, note=note)
    elif not staff:
        raise DisputeError(_("Only support staff can change the status of a ticket."))
    else:
        _move(ticket, to_status=to_status, by=by, now=now, note=note)
    return ticket


@transaction.atomic
def message_post(
    *,
    ticket: DisputeTicket,
    author: User,
    body: str,
    internal: bool = False,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> TicketMessage:
    """Add a message (or, staff only, an internal note) with its files.

    A staff member's first public answer sets `first_responded_at` and takes an open ticket in
    progress; a driver's answer to a ticket waiting for them puts it back in progress. The other
    side is emailed about every public message.
    """
    now = now or timezone.now()
    ticket = _locked(ticket)
    staff = can_handle(author, ticket)
    if not staff and ticket.driver_id != author.pk:
        raise DisputeNotFound(_("No such ticket."))
    if internal and not staff:
        raise DisputeError(_("Only support staff can write internal notes."))
    if not body.strip():
        raise DisputeError(_("Write a message."))
    if ticket.status == Status.CLOSED and not internal:
        raise DisputeError(_("This ticket is closed; reopen it to continue the conversation."))
    try:
        content_types = validate_attachments(list(attachments))
    except ValidationError as error:
        raise DisputeError(" ".join(error.messages)) from error

    message = TicketMessage.objects.create(ticket=ticket, author=author, from_staff=staff, body=body.strip(),
                                           internal=internal, created_at=now)
    for upload, content_type in zip(attachments, content_types, strict=True):
        attachment = MessageAttachment(message=message, original_name=os.path.basename(upload.name)[:255],
                                       content_type=content_type, size=upload.size)
        attachment.file.save(stored_name(content_type), upload, save=True)

    if not internal:
        if staff:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
                ticket.save(update_fields=["first_responded_at"])
            if ticket.status == Status.OPEN:
                _move(ticket, to_status=Status.IN_PROGRESS, by=author, now=now, note="answered")
        elif ticket.status == Status.WAITING_FOR_DRIVER:
            _move(ticket, to_status=Status.IN_PROGRESS, by=author, now=now, note="driver replied")
        notifications.message_posted(message)
    return message


def _system_note(ticket: DisputeTicket, body: str, now: datetime) -> None:
    TicketMessage.objects.create(ticket=ticket, author=None, from_staff=True, internal=True, body=body,
                                 created_at=now)
