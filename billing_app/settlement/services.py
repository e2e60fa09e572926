"""Billing operations. `session_settle` prices a completed session exactly once (with the driver's
subscription plan applied, see `billing_app.plans`); a session whose meter readings are impossible
(`sessions_app.plausibility`) is priced and held for review (`settlement.review`). At a location in
calibration-law mode (German Eichrecht) the energy priced is what the meter signed (end - begin), and a
session whose signed readings are missing or invalid is held the same way."""
from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from billing_app import pricing
from billing_app.companies.caps import card_cap_check
from billing_app.invoicing.tasks import invoice_receipt_issue
from billing_app.models import ChargeReview, SessionCharge
from billing_app.plans import services as plans
from billing_app.pricing import ocpi
from billing_app.tariffs.cdr import session_pricing_input
from billing_app.tariffs.services import snapshot, tariff_for_session
from evbilling.errors import ApplicationError
from evbilling.on_commit import after_commit
from sessions_app.models import ChargingSession, MeterSignatureCheck
from sessions_app.plausibility import Finding, implausible_readings
from sessions_app.selectors import session_samples
from sessions_app.services import session_signatures_verify

logger = logging.getLogger(__name__)


class SettlementError(ApplicationError):
    """A session that cannot be priced (no tariff applies, not completed); the message says why."""


def session_settle(*, session_id: int) -> SessionCharge:
    """Price a completed session with the tariff in force at its start and store the charge.

    Idempotent: the charge is one row per session (unique), so a retried or duplicated task
    returns the charge already stored and never prices twice. The tariff is frozen as an OCPI
    snapshot beside the charge, so later tariff edits change nothing already priced. A subscribed
    driver's plan (member tariff, discounts, included kWh) is applied in the same transaction as the
    charge is stored, so a duplicate settlement rolls back the kWh it would have consumed.
    """
    existing = SessionCharge.objects.filter(session_id=session_id).first()
    if existing is not None:
        return existing
    session = ChargingSession.objects.select_related("connector__station__location").get(pk=session_id)
    if session.state != ChargingSession.State.COMPLETED:
        raise SettlementError(f"Session {session_id} is {session.state}, not completed.")
    period = plans.session_period(session)
    tariff = plans.member_tariff(period, session.started_at) or tariff_for_session(session)
    if tariff is None:
        raise SettlementError(f"No tariff applies to session {session_id} at {session.started_at:%Y-%m-%d %H:%M}.")

    frozen = snapshot(tariff)
    data, findings = _signed_energy(session, session_pricing_input(session))
    breakdown = _price(frozen=frozen, period=period, data=data)
    findings = session_implausible(session) + findings
    try:
        with transaction.atomic():
            charge = SessionCharge.objects.create(session=session, tariff=tariff, tariff_snapshot_json=frozen,
                                                  currency=tariff.currency, **_charge_figures(breakdown, period))
            if findings:
                ChargeReview.objects.create(charge=charge, reasons=[f.as_dict() for f in findings],
                                            measured_energy_kwh=charge.total_energy_kwh,
                                            priced_total_incl_vat=charge.total_incl_vat)
                logger.warning("session %s held for review: %s", session_id, [f.code for f in findings])
            else:
                _queue_receipt(session_id)
            card_cap_check(session=session)
            return charge
    except IntegrityError:
        return SessionCharge.objects.get(session_id=session_id)


def _price(*, frozen: str, period, data: dict) -> pricing.CostBreakdown:
    """The engine's breakdown of a session (`data`: its OCPI charging periods) with the frozen tariff,
    as the driver's plan period (if any) adjusts it."""
    return pricing.price_session(tariff=plans.tariff_for_plan(ocpi.tariff_from_text(frozen), period),
                                 session=ocpi.session_from_json(data))


def _charge_figures(breakdown: pricing.CostBreakdown, period) -> dict:
    """A charge's stored figures, with the plan period's reductions applied (consuming its included kWh
    under its row lock: call inside the transaction that stores the charge)."""
    plan_entry = None
    if period is not None:
        applied, plan_entry = plans.session_plan_apply(breakdown=breakdown, period_id=period.pk)
        breakdown = applied.breakdown
    totals = breakdown.total_cost
    return {
        "total_excl_vat": totals.excl_vat, "total_vat": totals.incl_vat - totals.excl_vat,
        "total_incl_vat": totals.incl_vat, "total_energy_kwh": breakdown.total_energy,
        "total_time_hours": breakdown.total_time, "total_parking_hours": breakdown.total_parking_time,
        "breakdown": breakdown.to_dict() | ({"plan": plan_entry} if plan_entry else {}),
    }


def _signed_energy(session: ChargingSession, data: dict) -> tuple[dict, list[Finding]]:
    """Check the session's signed meter readings (the result is stored whatever the mode). In calibration-law
    mode: the charging periods with their energy scaled to exactly the signed energy, or, when the
    signatures do not prove it, the periods as measured and the findings that hold the charge for review.
    Outside that mode the result is information only."""
    check = session_signatures_verify(session=session)
    if not session.connector.station.location.calibration_law:
        return data, []
    if check.status == MeterSignatureCheck.Status.UNSIGNED:
        return data, [Finding("meter_unsigned", "calibration-law mode: the meter signed no readings of this session")]
    if check.status != MeterSignatureCheck.Status.VERIFIED:
        return data, [Finding(r["code"], r["detail"]) for r in check.reasons]
    signed_kwh = check.signed_energy_wh / 1000
    try:
        return _energy_scaled(data, signed_kwh), []
    except SettlementError as error:
        return data, [Finding("signed_energy_unplaceable", f"{signed_kwh} kWh signed: {error}")]


def session_implausible(session: ChargingSession) -> list[Finding]:
    """What is physically impossible about a completed session's meter readings (empty: nothing)."""
    return implausible_readings(
        max_power_kw=session.connector.max_power_kw, started_at=session.started_at, stopped_at=session.stopped_at,
        meter_start_wh=session.meter_start_wh, meter_stop_wh=session.meter_stop_wh,
        samples=session_samples(session).values_list("taken_at", "energy_wh"),
    )


def _queue_receipt(session_id: int) -> None:
    """Once the charge commits, issue the session's receipt (invoicing decides whether one is due:
    pay-as-you-go accounts only); `receipts_issue_pending` on the beat catches a lost task."""
    if not settings.INVOICE_RECEIPTS_ON_SETTLE:
        return
    after_commit(invoice_receipt_issue.delay, session_id)



def unpriced_sessions():
    """Completed sessions without a charge, oldest first. NOT EXISTS, not NOT IN: PostgreSQL turns it
    into an anti-join, where NOT IN over a million charges ran for minutes (bench/scale.py)."""
    charged = SessionCharge.objects.filter(session_id=OuterRef("pk"))
    return (ChargingSession.objects.filter(state=ChargingSession.State.COMPLETED).filter(~Exists(charged))
            .order_by("stopped_at"))


def sessions_settle_pending(*, progress: Callable[[int], None] = lambda n: None) -> int:
    """Price every completed session that has no charge yet (a lost task, a tariff added late);
    returns how many were priced. Sessions no tariff applies to are logged and left for later."""
    priced = 0
    for session_id in unpriced_sessions().values_list("pk", flat=True).iterator():
        try:
            session_settle(session_id=session_id)
            priced += 1
        except SettlementError as error:
            logger.warning("session %s not settled: %s", session_id, error)
        progress(1)
    return priced


def _energy_corrected(charge: SessionCharge, corrected_energy_kwh: Decimal) -> dict:
    """The session's OCPI charging periods with their energy corrected (see `_energy_scaled`)."""
    return _energy_scaled(session_pricing_input(charge.session), corrected_energy_kwh)


def _energy_scaled(data: dict, corrected_energy_kwh: Decimal) -> dict:
    """OCPI charging periods (`data`) with each period's energy scaled by wanted / measured; the largest one
    takes what is left, so the energies add up to exactly `corrected_energy_kwh`."""
    energies = [d for p in data["charging_periods"] for d in p["dimensions"] if d["type"] == "ENERGY"]
    for dimension in energies:
        dimension["volume"] = Decimal(str(dimension["volume"]))
    measured = sum((d["volume"] for d in energies), Decimal(0))
    if measured <= 0:
        raise SettlementError("The session has no measured energy to correct.")
    largest = max(energies, key=lambda d: d["volume"])
    factor = corrected_energy_kwh / measured
    for dimension in energies:
        if dimension is not largest:
            dimension["volume"] *= factor
    largest["volume"] = corrected_energy_kwh - sum((d["volume"] for d in energies if d is not largest), Decimal(0))
    return data


def session_reprice_total(*, charge: SessionCharge, corrected_energy_kwh: Decimal) -> Decimal:
    """The session priced again with its frozen tariff and the energy corrected (each period's energy
    scaled by corrected / measured), incl. VAT."""
    breakdown = pricing.price_session(tariff=ocpi.tariff_from_ocpi(charge.tariff_snapshot),
                                      session=ocpi.session_from_json(_energy_corrected(charge, corrected_energy_kwh)))
    return breakdown.total_cost.incl_vat


def charge_energy_correct(*, charge_id: int, corrected_energy_kwh: Decimal) -> SessionCharge:
    """Price a charge again with its energy corrected and store the new figures in its place, the way
    `session_settle` prices (frozen tariff, the plan period's kWh given back and taken again).

    Only for a charge nothing has been captured or invoiced for yet (one held for review): call it inside
    the transaction that checked so (the charge's row stays locked until that one commits)."""
    with transaction.atomic():
        charge = SessionCharge.objects.select_for_update(of=("self",)).select_related(
            "session__connector").get(pk=charge_id)
        data = _energy_corrected(charge, corrected_energy_kwh)
        period = plans.session_plan_release(plan_entry=charge.breakdown.get("plan"))
        figures = _charge_figures(_price(frozen=charge.tariff_snapshot_json, period=period, data=data), period)
        for field, value in figures.items():
            setattr(charge, field, value)
        charge.save(update_fields=list(figures))
    return charge
