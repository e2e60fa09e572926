"""The JSON sent for each event type: one stable shape per type, built from the operator's own rows.

Amounts are strings with their currency (`{"amount": "5.11", "currency": "EUR"}`), never floats;
instants are ISO 8601 in UTC ("2026-03-02T09:00:00Z"), days ISO dates. Only ids and fields of the
emitting operator's own rows go in: a session's driver appears as an id (a roaming driver may belong
to another operator), an invoice carries the buyer snapshot the operator itself issued it with.
Every envelope carries the event id, which receivers use to drop a redelivered duplicate.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from billing_app.money import UnknownCurrencyError, quantize_money
from sessions_app.models import Connector

from .models import WebhookEndpoint, WebhookEvent

_WH = Decimal("0.001")


def instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def money(amount: Decimal | None, currency: str) -> dict | None:
    """The amount in the currency's minor unit (stored amounts are rounded already: this fixes the
    representation, "5.10" rather than "5.1"). A currency the pricing engine does not know is passed
    through as it is rather than dropping the event."""
    if amount is None:
        return None
    currency = (currency or "").upper()
    try:
        return {"amount": str(quantize_money(Decimal(amount), currency)), "currency": currency}
    except UnknownCurrencyError:
        return {"amount": str(amount), "currency": currency}


def watt_hours(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(_WH))


def envelope(event: WebhookEvent) -> dict:
    return {"id": str(event.event_id), "type": event.type, "created": instant(event.created_at),
            "operator_id": event.operator_id, "data": event.payload}


def session_data(session) -> dict:

    connector = (Connector.objects.filter(pk=session.connector_id)
                 .values("number", "station_id", "station__ocpp_identity", "station__location_id").first()) or {}
    return {"session": {
        "id": session.pk, "state": session.state, "transaction_ref": session.transaction_ref,
        "started_at": instant(session.started_at), "stopped_at": instant(session.stopped_at),
        "energy_wh": watt_hours(session.energy_wh), "meter_start_wh": watt_hours(session.meter_start_wh),
        "meter_stop_wh": watt_hours(session.meter_stop_wh),
        "stop_reason": session.stop_reason, "connector_id": session.connector_id,
        "connector_number": connector.get("number"), "station_id": connector.get("station_id"),
        "station_identity": connector.get("station__ocpp_identity"),
        "location_id": connector.get("station__location_id"),
        "driver_id": session.driver_id, "id_token_id": session.id_token_id,
    }}


def invoice_data(invoice, lines: Iterable) -> dict:
    currency = invoice.currency
    return {"invoice": {
        "id": invoice.pk, "number": invoice.number, "kind": invoice.kind, "state": invoice.state,
        "currency": currency, "period_start": day(invoice.period_start), "period_end": day(invoice.period_end),
        "issued_at": instant(invoice.issued_at), "paid_at": instant(invoice.paid_at),
        "voided_at": instant(invoice.voided_at), "void_reason": invoice.void_reason,
        "payment_reference": invoice.payment_reference,
        "total_excl_vat": money(invoice.total_excl_vat, currency), "total_vat": money(invoice.total_vat, currency),
        "total_incl_vat": money(invoice.total_incl_vat, currency),
        "session_id": invoice.session_id, "driver_id": invoice.driver_id, "account_id": invoice.account_id,
        "buyer": invoice.buyer,
        "lines": [{
            "position": line.position, "kind": line.kind, "description": line.description,
            "session_id": line.session_id, "quantity": str(line.quantity), "unit": line.unit,
            "unit_price": str(line.unit_price), "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
            "amount_excl_vat": money(line.amount_excl_vat, currency), "vat_amount": money(line.vat_amount, currency),
            "amount_incl_vat": money(line.amount_incl_vat, currency),
        } for line in lines],
    }}


def credit_note_data(note, *, refund: bool) -> dict:
    currency = note.currency
    return {"credit_note": {
        "id": note.pk, "number": note.number, "invoice_id": note.invoice_id, "issued_at": instant(note.issued_at),
        "reason": note.reason, "currency": currency, "total_excl_vat": money(note.total_excl_vat, currency),
        "total_vat": money(note.total_vat, currency), "total_incl_vat": money(note.total_incl_vat, currency),
        "refund_requested": refund,
    }}


def _payment(payment) -> dict:
    currency = payment.currency
    return {
        "id": payment.pk, "kind": payment.kind, "status": payment.status, "currency": currency,
        "amount_requested": money(payment.amount_requested, currency),
        "amount_authorized": money(payment.amount_authorized, currency),
        "amount_captured": money(payment.amount_captured, currency),
        "amount_refunded": money(payment.amount_refunded, currency),
        "session_id": payment.session_id, "invoice_id": payment.invoice_id, "driver_id": payment.driver_id,
        "stripe_payment_intent_id": payment.stripe_payment_intent_id, "failure_code": payment.failure_code,
        "failure_message": payment.failure_message, "dispute_status": payment.dispute_status,
        "created_at": instant(payment.created_at), "settled_at": instant(payment.settled_at),
    }


def payment_data(payment, *, previous_status: str) -> dict:
    return {"payment": _payment(payment), "previous_status": previous_status}


def refund_data(refund) -> dict:
    payment = refund.payment
    return {"refund": {"id": refund.pk, "amount": money(refund.amount, payment.currency), "reason": refund.reason,
                       "status": refund.status, "stripe_refund_id": refund.stripe_refund_id,
                       "created_at": instant(refund.created_at)},
            "payment": _payment(payment)}


def payment_dispute_data(payment, *, status: str) -> dict:
    return {"payment": _payment(payment), "dispute": {"status": status, "stripe_dispute_id": payment.stripe_dispute_id}}


def dispute_data(ticket) -> dict:
    """The ticket without its conversation (messages may hold internal notes)."""
    return {"dispute": {
        "id": ticket.pk, "status": ticket.status, "reason": ticket.reason, "source": ticket.source,
        "subject": ticket.subject, "opened_at": instant(ticket.opened_at), "session_id": ticket.session_id,
        "invoice_id": ticket.invoice_id, "payment_id": ticket.payment_id, "driver_id": ticket.driver_id,
        "first_response_due": instant(ticket.first_response_due), "resolution_due": instant(ticket.resolution_due),
        "resolved_at": instant(ticket.resolved_at),
        "resolution": {
            "kind": ticket.resolution_kind, "explanation": ticket.resolution_explanation,
            "amount": money(ticket.resolution_amount, ticket.resolution_currency),
        } if ticket.resolution_kind else None,
        "chargeback": {
            "stripe_dispute_id": ticket.stripe_dispute_id, "status": ticket.chargeback_status,
            "amount": money(ticket.chargeback_amount, ticket.chargeback_currency),
            "evidence_due_by": instant(ticket.evidence_due_by),
        } if ticket.stripe_dispute_id else None,
    }}


def ping_data(endpoint: WebhookEndpoint) -> dict:
    return {"endpoint": {"id": endpoint.pk, "url": endpoint.url},
            "message": "A test event sent from the evbilling admin."}
