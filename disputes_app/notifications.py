"""Emails about tickets, sent after the transaction that caused them commits (never for a rolled-back
change). Bodies are templates/emails/dispute_*.txt; a failing mail server never fails the operation."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from sessions_app.selectors import operator_time_zone

from . import selectors
from .models import DisputeTicket, TicketMessage
from .subjects import subject_text


def _send_on_commit(*, subject, template: str, context: dict, recipients: list[str], language: str = "") -> None:
    """Render in the ticket operator's time zone (named in the text as `zone`) and, for the driver, in the
    language on their account (`subject` may be a callable, rendered in that language too)."""
    if not recipients:
        return
    zone = operator_time_zone(context["ticket"].operator_id)
    with timezone.override(zone), translation.override(language or settings.LANGUAGE_CODE):
        body = render_to_string(template, {**context, "zone": str(zone)})
        subject = subject() if callable(subject) else subject
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients), robust=True
    )


def _links(ticket: DisputeTicket) -> dict[str, str]:
    return {
        "support_url": reverse("disputes:support_ticket", args=[ticket.pk]),
        "driver_url": reverse("disputes:detail", args=[ticket.pk]),
    }


def message_posted(message: TicketMessage) -> None:
    """A public message goes to the other side: the driver hears from staff, staff from the driver."""
    if message.internal:
        return
    ticket = message.ticket
    if message.from_staff:
        recipients = [ticket.driver.email] if ticket.driver_id and ticket.driver.email else []
    else:
        recipients = selectors.support_recipients(ticket)
    _send_on_commit(
        subject=lambda: f"[Ticket #{ticket.pk}] {subject_text(ticket.subject)}",
        template="emails/dispute_message.txt",
        context={"ticket": ticket, "message": message, "to_driver": message.from_staff, **_links(ticket)},
        recipients=recipients,
        language=ticket.driver.language if message.from_staff and ticket.driver_id else "",
    )


def ticket_resolved(ticket: DisputeTicket) -> None:
    if not (ticket.driver_id and ticket.driver.email):
        return
    _send_on_commit(
        subject=lambda: f"[Ticket #{ticket.pk}] " + gettext("Outcome: %(outcome)s") % {
            "outcome": ticket.get_resolution_kind_display()},
        template="emails/dispute_outcome.txt",
        context={"ticket": ticket, "reopen_days": settings.DISPUTE_REOPEN_DAYS, **_links(ticket)},
        recipients=[ticket.driver.email],
        language=ticket.driver.language,
    )


def ticket_escalated(ticket: DisputeTicket, *, breaches: list[str]) -> None:
    _send_on_commit(
        subject=lambda: f"[Ticket #{ticket.pk}] " + gettext("SLA breached: %(missed)s") % {
            "missed": ", ".join(breaches)},
        template="emails/dispute_escalation.txt",
        context={"ticket": ticket, "breaches": breaches, **_links(ticket)},
        recipients=selectors.escalation_recipients(ticket),
    )


def chargeback_opened(ticket: DisputeTicket) -> None:
    _send_on_commit(
        subject=lambda: f"[Ticket #{ticket.pk}] " + gettext("Chargeback %(dispute)s") % {
            "dispute": ticket.stripe_dispute_id},
        template="emails/dispute_chargeback.txt",
        context={"ticket": ticket, **_links(ticket)},
        recipients=selectors.escalation_recipients(ticket),
    )
