"""The domain signals turned into webhook events (connected in WebhooksAppConfig.ready).

Sessions, billing and disputes send signals and never import this app. Each receiver emits inside the
sender's transaction (a rolled-back change announces nothing) and is robust: a failure here is logged
and rolled back to its own savepoint, never breaking the stop, invoice or dispute that caused it.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction
from django.dispatch import receiver

from billing_app.invoicing import credit_note_issued
from billing_app.models import InvoiceLine
from billing_app.payments.services import payment_dispute_changed
from billing_app.signals import invoice_issued, invoice_paid, invoice_voided, payment_status_changed, refund_succeeded
from disputes_app.signals import dispute_opened, dispute_resolved
from sessions_app.signals import session_completed

from . import payloads
from .models import EventType
from .selectors import endpoints_listening
from .services import EventIn, webhook_event_emit, webhook_events_emit

logger = logging.getLogger(__name__)

PAYMENT_EVENTS = {"captured": EventType.PAYMENT_CAPTURED, "failed": EventType.PAYMENT_FAILED}


def _emit(event_type: str, operator_id: int, build: Callable[[], dict]) -> None:
    try:
        with transaction.atomic():  # a savepoint: a failed query here leaves the sender's transaction usable
            webhook_event_emit(operator=operator_id, type=event_type, payload=build)
    except Exception:  # a webhook problem must never undo the business operation
        logger.exception("webhook event %s of operator %s not emitted", event_type, operator_id)


@receiver(session_completed, dispatch_uid="webhooks_session_completed")
def on_session_completed(sender, session, **kwargs):
    _emit(EventType.SESSION_COMPLETED, session.operator_id, lambda: payloads.session_data(session))


@receiver(invoice_issued, dispatch_uid="webhooks_invoice_issued")
def on_invoices_issued(sender, invoices, **kwargs):
    """A whole issuing batch at once: one query to find listeners, one for the lines of the invoices
    someone listens to."""

    try:
        with transaction.atomic():
            listening = {e.operator_id for e in endpoints_listening(operator_ids={i.operator_id for i in invoices},
                                                                    event_type=EventType.INVOICE_ISSUED)}
            chosen = [invoice for invoice in invoices if invoice.operator_id in listening]
            if not chosen:
                return
            lines = defaultdict(list)
            for line in InvoiceLine.objects.filter(invoice__in=chosen).order_by("invoice_id", "position"):
                lines[line.invoice_id].append(line)
            webhook_events_emit(events=[
                EventIn(operator_id=invoice.operator_id, type=EventType.INVOICE_ISSUED,
                        payload=payloads.invoice_data(invoice, lines[invoice.pk]))
                for invoice in chosen
            ])
    except Exception:
        logger.exception("webhook events invoice.issued not emitted")


def _invoice_with_lines(invoice) -> dict:
    return payloads.invoice_data(invoice, invoice.lines.order_by("position"))


@receiver(invoice_paid, dispatch_uid="webhooks_invoice_paid")
def on_invoice_paid(sender, invoice, **kwargs):
    _emit(EventType.INVOICE_PAID, invoice.operator_id, lambda: _invoice_with_lines(invoice))


@receiver(invoice_voided, dispatch_uid="webhooks_invoice_voided")
def on_invoice_voided(sender, invoice, **kwargs):
    _emit(EventType.INVOICE_VOIDED, invoice.operator_id, lambda: _invoice_with_lines(invoice))


@receiver(credit_note_issued, dispatch_uid="webhooks_credit_note_issued")
def on_credit_note_issued(sender, credit_note, refund=False, **kwargs):
    _emit(EventType.CREDIT_NOTE_ISSUED, credit_note.operator_id,
          lambda: payloads.credit_note_data(credit_note, refund=refund))


@receiver(payment_status_changed, dispatch_uid="webhooks_payment_status_changed")
def on_payment_status_changed(sender, payment, from_status, **kwargs):
    event_type = PAYMENT_EVENTS.get(payment.status)
    if event_type is not None:
        _emit(event_type, payment.operator_id, lambda: payloads.payment_data(payment, previous_status=from_status))


@receiver(refund_succeeded, dispatch_uid="webhooks_refund_succeeded")
def on_refund_succeeded(sender, refund, **kwargs):
    _emit(EventType.PAYMENT_REFUNDED, refund.payment.operator_id, lambda: payloads.refund_data(refund))


@receiver(payment_dispute_changed, dispatch_uid="webhooks_payment_dispute_changed")
def on_payment_dispute_changed(sender, payment, status, **kwargs):
    _emit(EventType.PAYMENT_DISPUTE_UPDATED, payment.operator_id,
          lambda: payloads.payment_dispute_data(payment, status=status))


@receiver(dispute_opened, dispatch_uid="webhooks_dispute_opened")
def on_dispute_opened(sender, ticket, **kwargs):
    _emit(EventType.DISPUTE_OPENED, ticket.operator_id, lambda: payloads.dispute_data(ticket))


@receiver(dispute_resolved, dispatch_uid="webhooks_dispute_resolved")
def on_dispute_resolved(sender, ticket, **kwargs):
    _emit(EventType.DISPUTE_RESOLVED, ticket.operator_id, lambda: payloads.dispute_data(ticket))
