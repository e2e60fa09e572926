"""Signals the disputes app sends, for the apps above it (webhooks); disputes never imports them.
Sent inside the transaction that changed the ticket, after the change: receivers defer external work
with transaction.on_commit and must not let their own failure break the dispute operation."""
from django.dispatch import Signal

#: `ticket`: a new dispute ticket (by a driver, by support, or from a Stripe chargeback).
dispute_opened = Signal()
#: `ticket`: a ticket that has just been resolved (by staff, or by the card issuer's decision).
dispute_resolved = Signal()
