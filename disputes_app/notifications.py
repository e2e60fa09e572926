"""Emails about tickets, sent after the transaction that caused them commits (never for a rolled-back
change). Bodies are templates/emails/dispute_*.txt; a failing mail server never fails the operation.
Each reader gets their own message in their language (`evbilling.mail`): the driver in the one on their
account, each staff member in theirs, the operator's own address in the default one."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy

from evbilling.mail import messages_in_languages, reader_languages, send_messages
from sessions_app.selectors import operator_time_zone

from . import selectors
from .models import DisputeTicket, TicketMessage
from .subjects import subject_text


def _send_on_commit(*, subject, template: str, context: dict, recipients: list[str]) -> None:
    """Render in the ticket operator's time zone (named in the text as `zone`) and in each reader's language
    (the one on their account), once per language; `subject` is a callable."""
    if not recipients:
        return
    zone = operator_time_zone(context["ticket"].operator_id)
    readers = reader_languages(recipients)

    def render() -> tuple[str, str]:
        return subject(), render_to_string(template, {**context, "zone": str(zone)})

    with timezone.override(zone):
        messages = messages_in_languages(readers=readers, render=render)
    transaction.on_commit(lambda: send_messages(messages), robust=True)


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
    )


BREACH_NAMES = {"first response": pgettext_lazy("SLA breach", "first response"),
                 "resolution": pgettext_lazy("SLA breach", "resolution")}


def ticket_escalated(ticket: DisputeTicket, *, breaches: list[str]) -> None:
    """`breaches` are the SLA checks' English keys; each reader sees them in their language."""
    names = [BREACH_NAMES.get(breach, breach) for breach in breaches]
    _send_on_commit(
        subject=lambda: f"[Ticket #{ticket.pk}] " + gettext("SLA breached: %(missed)s") % {
            "missed": ", ".join(str(name) for name in names)},
        template="emails/dispute_escalation.txt",
        context={"ticket": ticket, "breaches": lambda: [str(name) for name in names], **_links(ticket)},
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
