"""Read queries for tickets, each scoped to who asks: staff see the tickets of the operators they may
see (superusers all), drivers only their own. A ticket outside that scope is a 404."""
from __future__ import annotations

from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from billing_app.models import Invoice
from sessions_app.models import User
from sessions_app.selectors import operator_ids_for, scope_to_user

from . import sla
from .models import DisputeTicket, MessageAttachment, TicketMessage

UNASSIGNED = "none"


def is_ticket_staff(user: User) -> bool:
    """Whether `user` works tickets (the support side of the app) at all."""
    return bool(user.is_authenticated and user.is_active
                and (user.is_superuser or user.is_support or user.is_operator_staff))


def can_handle(user: User, ticket: DisputeTicket) -> bool:
    """Whether `user` may work this ticket: staff of, or support for, its operator, or a superuser."""
    if not is_ticket_staff(user):
        return False
    allowed = operator_ids_for(user)
    return allowed is None or ticket.operator_id in allowed


def tickets_for_staff(user: User) -> QuerySet[DisputeTicket]:
    if not is_ticket_staff(user):
        return DisputeTicket.objects.none()
    return scope_to_user(DisputeTicket.objects.select_related("operator", "driver", "assignee", "session"), user)


def ticket_for_staff(user: User, pk: int) -> DisputeTicket:
    return get_object_or_404(tickets_for_staff(user), pk=pk)


def tickets_for_driver(user: User) -> QuerySet[DisputeTicket]:
    return DisputeTicket.objects.filter(driver=user).select_related("operator", "session")


def ticket_for_driver(user: User, pk: int) -> DisputeTicket:
    return get_object_or_404(tickets_for_driver(user), pk=pk)


def support_queue(
    user: User,
    *,
    now: datetime,
    status: str = "",
    operator_id: int | None = None,
    sla_state: str = "",
    assignee: str = "",
    search: str = "",
) -> QuerySet[DisputeTicket]:
    """The tickets `user` works, least time left first (resolved and closed last). `assignee` is a
    user id, "none" for unassigned tickets, or blank for all; `search` finds a driver (name, e-mail),
    a session, an invoice or receipt number, or a ticket number."""
    tickets = sla.with_next_due(tickets_for_staff(user))
    if search := search.strip().lstrip("#"):
        found = (Q(driver__username__icontains=search) | Q(driver__email__icontains=search)
                 | Q(driver__first_name__icontains=search) | Q(driver__last_name__icontains=search)
                 | Q(subject__icontains=search)
                 | Q(invoice_id__in=Invoice.objects.filter(number__icontains=search).values("pk")))
        if search.isdigit():
            found |= Q(pk=int(search)) | Q(session_id=int(search))
        tickets = tickets.filter(found)
    if status:
        tickets = tickets.filter(status=status)
    if operator_id:
        tickets = tickets.filter(operator_id=operator_id)
    if sla_state:
        tickets = sla.filter_by_state(tickets, sla_state, now=now)
    if assignee == UNASSIGNED:
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(assignee_id=int(assignee))
    return tickets.order_by(F("next_due").asc(nulls_last=True), "-opened_at", "pk")


def conversation(ticket: DisputeTicket, *, include_internal: bool) -> QuerySet[TicketMessage]:
    messages = ticket.messages.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=MessageAttachment.objects.order_by("pk"))
    )
    return messages if include_internal else messages.filter(internal=False)


def attachment_for(ticket: DisputeTicket, pk: int, *, include_internal: bool) -> MessageAttachment:
    attachments = MessageAttachment.objects.filter(message__ticket=ticket)
    if not include_internal:
        attachments = attachments.filter(message__internal=False)
    return get_object_or_404(attachments, pk=pk)


def assignable_staff(ticket: DisputeTicket) -> QuerySet[User]:
    """Who a ticket can be assigned to: support for its operator, its operator's staff, superusers."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(role=User.Role.SUPPORT, supported_operators=ticket.operator_id)
            | Q(role=User.Role.OPERATOR_STAFF, operator=ticket.operator_id)
        )
        .distinct()
        .order_by("username")
    )


def ticket_invoice(ticket: DisputeTicket) -> Invoice | None:
    """The invoice or receipt a ticket is about (same operator: the id came from our own rows)."""
    if not ticket.invoice_id:
        return None
    return Invoice.objects.filter(pk=ticket.invoice_id, operator_id=ticket.operator_id).first()


def assignees_for(user: User) -> list[tuple[int, str]]:
    """(id, username) of everyone assigned to a ticket `user` can see: the queue's assignee choices."""
    return list(User.objects.filter(assigned_tickets__in=tickets_for_staff(user)).distinct()
                .order_by("username").values_list("pk", "username"))


def support_recipients(ticket: DisputeTicket) -> list[str]:
    """Who hears from the support side of a ticket: its assignee, else its operator's support staff,
    else the operator's own address."""
    if ticket.assignee_id and ticket.assignee.email:
        return [ticket.assignee.email]
    emails = sorted(set(
        User.objects.filter(role=User.Role.SUPPORT, supported_operators=ticket.operator_id, is_active=True)
        .exclude(email="").values_list("email", flat=True)
    ))
    if not emails and ticket.operator.email:
        emails = [ticket.operator.email]
    return emails


def escalation_recipients(ticket: DisputeTicket) -> list[str]:
    """Everyone supporting the operator, the assignee and the operator's address."""
    emails = set(
        User.objects.filter(role=User.Role.SUPPORT, supported_operators=ticket.operator_id, is_active=True)
        .exclude(email="").values_list("email", flat=True)
    )
    if ticket.assignee_id and ticket.assignee.email:
        emails.add(ticket.assignee.email)
    if ticket.operator.email:
        emails.add(ticket.operator.email)
    return sorted(emails)
