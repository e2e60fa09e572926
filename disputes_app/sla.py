"""SLA arithmetic: the deadlines a ticket gets when it opens, the next one it must meet, how much
time is left and whether it is ok, at risk or breached. Every function takes `now`, so tests
fix the clock by passing it.

The next deadline of an active ticket is the first response one while nobody from support has
answered publicly, the resolution one after that (whichever is earlier, should an operator set them
oddly). Resolved and closed tickets have none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.functions import Least
from django.utils.translation import gettext_lazy as _

from sessions_app.models import Operator

from .models import DisputeTicket, OperatorSla

OK = "ok"
AT_RISK = "at_risk"
BREACHED = "breached"
DONE = "done"
SLA_STATES = {OK: _("On time"), AT_RISK: _("At risk"), BREACHED: _("Breached"), DONE: _("Resolved / closed")}


@dataclass(frozen=True, slots=True)
class SlaHours:
    first_response: int
    resolution: int


def hours_for(operator: Operator) -> SlaHours:
    sla = OperatorSla.objects.filter(operator=operator).first()
    if sla is None:
        return SlaHours(settings.DISPUTE_SLA_FIRST_RESPONSE_HOURS, settings.DISPUTE_SLA_RESOLUTION_HOURS)
    return SlaHours(sla.first_response_hours, sla.resolution_hours)


def deadlines(operator: Operator, *, start: datetime) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a ticket of `operator` opened at `start`."""
    hours = hours_for(operator)
    return start + timedelta(hours=hours.first_response), start + timedelta(hours=hours.resolution)


def next_due(ticket: DisputeTicket) -> datetime | None:
    if not ticket.is_active:
        return None
    if ticket.first_responded_at is None:
        return min(ticket.first_response_due, ticket.resolution_due)
    return ticket.resolution_due


def time_left(ticket: DisputeTicket, *, now: datetime) -> timedelta | None:
    """Until the next deadline (negative once it passed); None for resolved and closed tickets."""
    due = next_due(ticket)
    return None if due is None else due - now


def at_risk_window() -> timedelta:
    return timedelta(hours=settings.DISPUTE_SLA_AT_RISK_HOURS)


def sla_state(ticket: DisputeTicket, *, now: datetime) -> str:
    left = time_left(ticket, now=now)
    if left is None:
        return DONE
    if left < timedelta(0) or ticket.first_response_breached or ticket.resolution_breached:
        return BREACHED
    return AT_RISK if left < at_risk_window() else OK


def first_response_missed(ticket: DisputeTicket, *, now: datetime) -> bool:
    answered = ticket.first_responded_at
    return (answered is None and ticket.is_active and now > ticket.first_response_due) or (
        answered is not None and answered > ticket.first_response_due
    )


def resolution_missed(ticket: DisputeTicket, *, now: datetime) -> bool:
    return (ticket.is_active and now > ticket.resolution_due) or (
        ticket.resolved_at is not None and ticket.resolved_at > ticket.resolution_due
    )


def with_next_due(queryset: QuerySet[DisputeTicket]) -> QuerySet[DisputeTicket]:
    """Annotate `next_due` (NULL for resolved and closed tickets) for sorting and filtering."""
    return queryset.annotate(
        next_due=Case(
            When(~Q(status__in=DisputeTicket.ACTIVE_STATUSES), then=Value(None, output_field=DateTimeField())),
            When(first_responded_at__isnull=True, then=Least(F("first_response_due"), F("resolution_due"))),
            default=F("resolution_due"),
            output_field=DateTimeField(),
        )
    )


def filter_by_state(queryset: QuerySet[DisputeTicket], state: str, *, now: datetime) -> QuerySet[DisputeTicket]:
    """`queryset` (annotated by `with_next_due`) narrowed to tickets in SLA `state` at `now`."""
    flagged = Q(first_response_breached=True) | Q(resolution_breached=True)
    if state == DONE:
        return queryset.filter(next_due__isnull=True)
    if state == BREACHED:
        return queryset.filter(next_due__isnull=False).filter(Q(next_due__lt=now) | flagged)
    live = queryset.filter(next_due__gte=now).exclude(flagged)
    if state == AT_RISK:
        return live.filter(next_due__lt=now + at_risk_window())
    return live.filter(next_due__gte=now + at_risk_window())
