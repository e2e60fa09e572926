"""Dispute operations: open (by a driver, by support, from a Stripe chargeback), assign, move through
the workflow, converse, resolve, and the SLA check. Keyword-only, each in one transaction with the
ticket row locked, `now` passable so tests fix the clock. Emails leave after commit.

Errors for people are `DisputeError` with a one-line message; `DisputeNotFound` means the caller may
not see the object (views answer 404).

Modules: `tickets` (open, assign, workflow, messages), `resolving`, `chargebacks`, `sla_checks`;
import the operations from here."""
from .chargebacks import ticket_open_from_chargeback, ticket_update_from_chargeback
from .resolving import STAFF_RESOLUTION_KINDS, ticket_resolve
from .sla_checks import tickets_check_sla
from .tickets import (
    DisputeError,
    DisputeNotFound,
    message_post,
    ticket_assign,
    ticket_open,
    ticket_transition,
)

__all__ = [
    "STAFF_RESOLUTION_KINDS",
    "DisputeError",
    "DisputeNotFound",
    "message_post",
    "ticket_assign",
    "ticket_open",
    "ticket_open_from_chargeback",
    "ticket_resolve",
    "ticket_transition",
    "ticket_update_from_chargeback",
    "tickets_check_sla",
]
