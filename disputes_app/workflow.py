"""The ticket workflow as a table: which status may follow which, and the one-line reason when not.

    open -> in_progress -> waiting_for_driver -> in_progress -> resolved -> closed
    open -> resolved (a clear case is resolved at once, without a pass through in_progress)
    resolved / closed -> open (reopen, within DISPUTE_REOPEN_DAYS of the resolution)

Pure: no ORM. `services.ticket_transition` consults it before changing anything.
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from .models import DisputeTicket

Status = DisputeTicket.Status

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_FOR_DRIVER, Status.RESOLVED}),
    Status.WAITING_FOR_DRIVER: frozenset({Status.IN_PROGRESS}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.OPEN}),
    Status.CLOSED: frozenset({Status.OPEN}),
}

REOPEN_FROM = frozenset({Status.RESOLVED, Status.CLOSED})


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())


def moves_from(from_status: str) -> list[str]:
    """The plain moves a ticket in `from_status` can make, in the workflow's order (resolving is not a
    move: it needs a resolution)."""
    allowed = ALLOWED_TRANSITIONS.get(from_status, frozenset())
    return [s for s in Status.values if s in allowed and s != Status.RESOLVED]


def refusal(from_status: str, to_status: str) -> str:
    """Why from_status -> to_status is refused, naming what is possible instead."""
    label = dict(Status.choices)
    allowed = sorted(ALLOWED_TRANSITIONS.get(from_status, frozenset()))
    options = ", ".join(str(label[s]) for s in allowed) or _("nothing")
    return _("A ticket that is %(status)s cannot move to %(target)s; it can move to: %(options)s.") % {
        "status": label.get(from_status, from_status), "target": label.get(to_status, to_status), "options": options}
