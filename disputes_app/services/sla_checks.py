"""The SLA check the beat runs: flag breached first responses and resolutions, escalate once."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import notifications, sla
from ..models import DisputeTicket, TicketTransition
from .tickets import _locked, _record


def tickets_check_sla(*, now: datetime | None = None) -> int:
    """Flag every newly missed first-response or resolution deadline and escalate it (an audit row,
    `escalated_at`, an email to the operator's support staff). Idempotent: a flag is set once, so a
    second run at the same or a later time escalates nothing twice. Returns how many tickets it flagged."""
    now = now or timezone.now()
    candidates = DisputeTicket.objects.filter(
        Q(first_response_breached=False)
        & (Q(status__in=DisputeTicket.ACTIVE_STATUSES, first_responded_at__isnull=True, first_response_due__lt=now)
           | Q(first_responded_at__gt=F("first_response_due")))
        | Q(resolution_breached=False)
        & (Q(status__in=DisputeTicket.ACTIVE_STATUSES, resolution_due__lt=now)
           | Q(resolved_at__gt=F("resolution_due")))
    ).values_list("pk", flat=True)
    flagged = 0
    for pk in list(candidates):
        with transaction.atomic():
            ticket = _locked(DisputeTicket(pk=pk))
            breaches = []
            if not ticket.first_response_breached and sla.first_response_missed(ticket, now=now):
                ticket.first_response_breached = True
                breaches.append("first response")
            if not ticket.resolution_breached and sla.resolution_missed(ticket, now=now):
                ticket.resolution_breached = True
                breaches.append("resolution")
            if not breaches:
                continue
            ticket.escalated_at = ticket.escalated_at or now
            ticket.save(update_fields=["first_response_breached", "resolution_breached", "escalated_at"])
            _record(ticket, to_status=ticket.status, by=None, at=now, kind=TicketTransition.Kind.ESCALATION,
                    note=f"SLA breached: {', '.join(breaches)}")
            notifications.ticket_escalated(ticket, breaches=breaches)
            flagged += 1
    return flagged
