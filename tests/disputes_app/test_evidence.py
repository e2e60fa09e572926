"""The evidence bundle: collected when the ticket opens and frozen, whatever changes later."""
from datetime import timedelta
from decimal import Decimal

import pytest

from billing_app.models import PriceComponent, SessionCharge
from disputes_app import evidence, services
from disputes_app.models import Evidence
from sessions_app import services as session_services
from sessions_app.models import MeterSample
from tests.disputes_app.conftest import OPENED, T0


@pytest.fixture
def timeline(session):
    station = session.connector.station
    for minutes, status, error in ((-120, "Available", ""), (-5, "Preparing", ""), (30, "SuspendedEVSE", ""),
                                   (45, "Faulted", "GroundFailure"), (200, "Available", "")):
        at = T0 + timedelta(minutes=minutes)
        session_services.connector_status_record(station=station, connector_number=1, status=status,
                                                 timestamp=at, received_at=at, error_code=error)


def test_bundle_holds_samples_periods_price_and_timeline(session, driver, timeline):
    ticket = services.ticket_open(by=driver, session=session, reason="charger_fault", description="x", now=OPENED)
    data = ticket.evidence.data
    assert data["session"]["id"] == session.pk
    assert data["session"]["energy_wh"] == "11000.000"
    assert len(data["meter_samples"]) == 5
    assert [p["kind"] for p in data["periods"]["derived"]] == ["CHARGING", "IDLE"]
    assert data["charge"]["total_incl_vat"] == "5.11"
    assert data["charge"]["tariff_snapshot"]["elements"][0]["price_components"][0]["price"] == "0.39"
    # ±1 h around 09:00-10:30: the 07:00 and 12:20 reports are outside
    assert [(e["status"], e["error_code"]) for e in data["connector_timeline"]] == [
        ("Preparing", ""), ("SuspendedEVSE", ""), ("Faulted", "GroundFailure")]
    assert data["payments"] == [] and data["invoices"] == []


def test_evidence_is_frozen_when_tariff_charge_and_samples_change(ticket, tariff, session):
    frozen = Evidence.objects.get(ticket=ticket).data
    PriceComponent.objects.filter(element__tariff=tariff).update(price=Decimal("9.99"))
    SessionCharge.objects.filter(session=session).update(total_incl_vat=Decimal("99.00"), breakdown={})
    MeterSample.objects.filter(session=session).update(energy_wh=Decimal(0))
    again = Evidence.objects.get(ticket=ticket).data
    assert again == frozen
    assert again["charge"]["total_incl_vat"] == "5.11"
    assert again["charge"]["tariff_snapshot"]["elements"][0]["price_components"][0]["price"] == "0.39"


def test_evidence_cannot_be_saved_again(ticket):
    stored = Evidence.objects.get(ticket=ticket)
    stored.data = {"tampered": True}
    with pytest.raises(ValueError, match="frozen"):
        stored.save()


def test_driver_sees_their_parts_but_not_the_charger_timeline(ticket):
    parts = evidence.driver_parts(ticket.evidence.data)
    assert {"session", "meter_samples", "periods", "charge", "payments", "invoices"} <= set(parts)
    assert "connector_timeline" not in parts


def test_each_part_is_stored_as_exact_json(session, driver, monkeypatch):
    monkeypatch.setitem(evidence.PARTS, "payments", evidence._Part(
        lambda *, ticket: [{"payment_id": 7, "captured": Decimal("5.11"), "refunds": []}], True,
        "Payments and refunds"))
    ticket = services.ticket_open(by=driver, session=session, reason="payment_problem", description="x")
    assert ticket.evidence.data["payments"] == [{"payment_id": 7, "captured": "5.11", "refunds": []}]
    assert evidence.part_titles()["payments"] == "Payments and refunds"
