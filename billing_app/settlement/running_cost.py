"""What an active session has cost so far, for the charger's display (OCPP 2.0.1 totalCost).

Set as `sessions_app.hooks.running_cost` by billing's AppConfig, so the gateway (sessions_app) can call it
without importing billing.
"""
from __future__ import annotations

from decimal import Decimal

from billing_app import pricing
from billing_app.pricing import ocpi
from billing_app.tariffs.cdr import session_pricing_input
from billing_app.tariffs.services import tariff_for_session, tariff_to_ocpi
from sessions_app.models import ChargingSession


def session_running_breakdown(session: ChargingSession) -> tuple[pricing.CostBreakdown, str] | None:
    """The session priced up to its latest meter reading: (the engine's breakdown, currency); None when no
    tariff applies or nothing was measured yet. OCPI session updates send its total excl. and incl. VAT."""
    tariff = tariff_for_session(session)
    if tariff is None:
        return None
    pricing_input = session_pricing_input(session)
    if not pricing_input["charging_periods"]:
        return None  # just started, nothing measured yet: no cost so far (not an error)
    breakdown = pricing.price_session(
        tariff=ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff)),
        session=ocpi.session_from_json(pricing_input),
    )
    return breakdown, tariff.currency


def session_running_total(session: ChargingSession) -> tuple[Decimal, str] | None:
    """The session priced up to its latest meter reading: (incl. VAT, currency); None when no tariff applies."""
    found = session_running_breakdown(session)
    return None if found is None else (found[0].total_cost.incl_vat, found[1])


def session_running_cost(session: ChargingSession) -> Decimal | None:
    """The running total incl. VAT alone, as the charger's display wants it."""
    total = session_running_total(session)
    return None if total is None else total[0]
