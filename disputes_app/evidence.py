"""The evidence bundle frozen on a ticket when it opens, one part per entry of `PARTS`.

Each part is `func(*, ticket) -> JSON-able value` stored under its name in `Evidence.data`;
`driver_visible` says whether the driver sees that part: the session, its meter samples, derived
periods, the price (tariff snapshot and breakdown), the connector's status timeline around the
session (staff only), the card payments and refunds, the invoices and credit notes, and the meter's signed
readings (OCMF) with what they prove: whether the billed energy is the energy the meter signed.
Values may hold Decimals and datetimes: the JSON field writes them as exact strings.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from billing_app.invoicing.reconciliation import session_card_payments
from billing_app.models import Invoice, InvoiceLine, Payment, SessionCharge
from billing_app.pricing import ocpi
from billing_app.settlement.selectors import charge_energy_proven
from billing_app.tariffs.cdr import session_charging_periods, session_periods
from sessions_app.models import ConnectorStatusEvent, MeterSignatureCheck, SignedMeterValue
from sessions_app.ocmf.decoding import public_key_base64
from sessions_app.selectors import session_samples

from .models import DisputeTicket

TIMELINE_MARGIN = timedelta(hours=1)

EvidenceProvider = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class _Part:
    func: EvidenceProvider
    driver_visible: bool
    title: str  # a lazy translation, shown in the reader's language


def collect_evidence(*, ticket: DisputeTicket) -> dict[str, Any]:
    """Every provider's part, in the form it is stored (Decimals and datetimes as exact strings), so
    what the caller holds is what the database holds."""
    data = {name: provider.func(ticket=ticket) for name, provider in PARTS.items()}
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def driver_parts(data: dict[str, Any]) -> dict[str, Any]:
    """The parts of a frozen bundle a driver may see."""
    hidden = {name for name, p in PARTS.items() if not p.driver_visible}
    return {name: value for name, value in data.items() if name not in hidden}


def part_titles() -> dict[str, str]:
    return {name: p.title for name, p in PARTS.items()}


def _session(*, ticket: DisputeTicket) -> dict[str, Any] | None:
    session = ticket.session
    if session is None:
        return None
    connector = session.connector
    location = connector.station.location
    return {
        "id": session.pk,
        "state": session.state,
        "started_at": session.started_at,
        "stopped_at": session.stopped_at,
        "meter_start_wh": session.meter_start_wh,
        "meter_stop_wh": session.meter_stop_wh,
        "energy_wh": session.energy_wh,
        "stop_reason": session.stop_reason,
        "connector": str(connector),
        "connector_number": connector.number,
        "location": f"{location.name}, {location.address}, {location.city}",
        "time_zone": location.time_zone,
        "id_token": session.id_token.uid if session.id_token_id else None,
    }


def _meter_samples(*, ticket: DisputeTicket) -> list[dict[str, Any]]:
    if ticket.session is None:
        return []
    return [
        {"taken_at": s.taken_at, "energy_wh": s.energy_wh, "power_w": s.power_w, "current_a": s.current_a,
         "soc_percent": s.soc_percent}
        for s in session_samples(ticket.session)
    ]


def _periods(*, ticket: DisputeTicket) -> dict[str, Any]:
    session = ticket.session
    if session is None or session.stopped_at is None:
        return {"derived": [], "charging_periods": []}
    derived = [
        {"kind": p.kind, "start": p.start, "end": p.end, "energy_wh": p.energy_wh, "hours": p.hours,
         "max_power_w": p.max_power_w}
        for p in session_periods(session)
    ]
    return {"derived": derived, "charging_periods": session_charging_periods(session)}


def _charge(*, ticket: DisputeTicket) -> dict[str, Any] | None:
    if ticket.session is None:
        return None
    charge = SessionCharge.objects.filter(session=ticket.session).first()
    if charge is None:
        return None
    return {
        "currency": charge.currency,
        "total_excl_vat": charge.total_excl_vat,
        "total_vat": charge.total_vat,
        "total_incl_vat": charge.total_incl_vat,
        "total_energy_kwh": charge.total_energy_kwh,
        "total_time_hours": charge.total_time_hours,
        "total_parking_hours": charge.total_parking_hours,
        "priced_at": charge.priced_at,
        "tariff_snapshot": ocpi.loads(charge.tariff_snapshot_json),
        "breakdown": charge.breakdown,
    }


def _connector_timeline(*, ticket: DisputeTicket) -> list[dict[str, Any]]:
    """What the charger reported for this connector (and the station as a whole, connector 0) from an
    hour before the session to an hour after it."""
    session = ticket.session
    if session is None:
        return []
    end = session.stopped_at or ticket.opened_at
    events = ConnectorStatusEvent.objects.filter(
        station_id=session.connector.station_id,
        connector_number__in=(0, session.connector.number),
        timestamp__gte=session.started_at - TIMELINE_MARGIN,
        timestamp__lte=end + TIMELINE_MARGIN,
    ).order_by("timestamp", "pk")
    return [
        {"timestamp": e.timestamp, "received_at": e.received_at, "connector_number": e.connector_number,
         "status": e.status, "error_code": e.error_code, "info": e.info, "vendor_id": e.vendor_id,
         "vendor_error_code": e.vendor_error_code}
        for e in events
    ]


def _payments(*, ticket) -> list[dict[str, Any]]:
    if ticket.session_id is None and not ticket.payment_id:
        return []
    payments = (session_card_payments(ticket.session_id) if ticket.session_id
                else Payment.objects.filter(pk=ticket.payment_id))
    return [
        {"id": p.pk, "kind": p.kind, "status": p.status, "currency": p.currency, "held": p.amount_requested,
         "captured": p.amount_captured, "refunded": p.amount_refunded, "dispute": p.dispute_status,
         "refunds": [{"amount": r.amount, "status": r.status, "reason": r.reason, "at": r.created_at}
                     for r in p.refunds.order_by("pk")]}
        for p in payments.prefetch_related("refunds")
    ]


def _invoices(*, ticket) -> list[dict[str, Any]]:
    if ticket.session_id is None and not ticket.invoice_id:
        return []
    invoices = Invoice.objects.filter(operator_id=ticket.operator_id)
    invoices = (invoices.filter(pk=ticket.invoice_id) if ticket.invoice_id else
                invoices.filter(pk__in=InvoiceLine.objects.filter(session_id=ticket.session_id).values("invoice_id"))
                | invoices.filter(session_id=ticket.session_id))
    return [
        {"number": i.number, "kind": i.kind, "state": i.state, "currency": i.currency,
         "total_incl_vat": i.total_incl_vat, "issued_at": i.issued_at,
         "credit_notes": [{"number": c.number, "total_incl_vat": c.total_incl_vat} for c in i.credit_notes.all()]}
        for i in invoices.distinct().prefetch_related("credit_notes")
    ]


def _signed_meter_values(*, ticket) -> dict[str, Any] | None:
    """The meter's signed readings, the key that checks them and the verification; `billed_energy_proven`
    says at a glance whether the energy billed is what the meter signed (to its resolution)."""
    session = ticket.session
    if session is None:
        return None
    readings = [{"taken_at": v.taken_at, "context": v.context, "format": v.format, "encoding": v.encoding,
                 "signing_method": v.signing_method, "ocmf": v.ocmf, "signed_data": v.signed_data}
                for v in SignedMeterValue.objects.filter(session=session).order_by("taken_at", "pk")]
    check = MeterSignatureCheck.objects.filter(session=session).select_related("meter_key").first()
    charge = SessionCharge.objects.filter(session=session).first()
    proven = charge is not None and charge_energy_proven(charge)
    return {
        "status": check.status if check else ("unsigned" if not readings else "not checked"),
        "billed_energy_proven": proven,
        "reasons": check.reasons if check else [],
        "notes": check.notes if check else [],
        "meter_serial": check.meter_serial if check else "",
        "signed_begin_wh": check.begin_wh if check else None,
        "signed_end_wh": check.end_wh if check else None,
        "signed_energy_wh": check.signed_energy_wh if check else None,
        "resolution_wh": check.resolution_wh if check else None,
        "billed_energy_kwh": charge.total_energy_kwh if charge else None,
        "public_key": public_key_base64(check.meter_key.public_key) if check and check.meter_key_id else None,
        "readings": readings,
    }


#: The parts of the bundle, in the order of the ticket page: name -> (provider, driver sees it, title).
PARTS: dict[str, _Part] = {
    "session": _Part(_session, True, _("Session")),
    "meter_samples": _Part(_meter_samples, True, _("Meter samples")),
    "periods": _Part(_periods, True, _("Charging and idle periods")),
    "charge": _Part(_charge, True, _("Price (tariff snapshot and breakdown)")),
    "connector_timeline": _Part(_connector_timeline, False, _("Connector status timeline (±1 h)")),
    "payments": _Part(_payments, True, _("Payments and refunds")),
    "invoices": _Part(_invoices, True, _("Invoices and credit notes")),
    "signed_meter_values": _Part(_signed_meter_values, True, _("Signed meter values (OCMF) and what they prove")),
}
