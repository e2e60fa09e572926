"""The demo eMSP's past roaming sessions (ocpi_app.demo): priced, sent as CDRs at their end, settled monthly."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing_app.models import Invoice, Payment, SessionCharge
from ocpi_app.demo import ROAMING_HISTORY
from ocpi_app.models import CdrRecord, Partner
from sessions_app.models import ChargingSession, Connector
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_demo_emsp_card_charged_in_the_past_with_cdrs_and_settlements(operator):
    factories.ConnectorFactory(station__location__operator=operator, power_type=Connector.PowerType.DC,
                               max_power_kw=150)
    factories.energy_tariff(operator, price="0.59", vat="19")
    call_command("ocpi_demo")
    call_command("ocpi_demo")  # once
    sessions = ChargingSession.objects.filter(transaction_ref__startswith="demo-roaming-")
    assert sessions.count() == len(ROAMING_HISTORY)
    partner = Partner.objects.get(name="Demo eMSP")
    assert SessionCharge.objects.filter(session__in=sessions).count() == len(ROAMING_HISTORY)
    for session in sessions:
        record = CdrRecord.objects.get(session=session)
        assert record.partner == partner and record.last_updated == session.stopped_at + timedelta(minutes=1)
    assert not Payment.objects.filter(session__in=sessions).exists()  # the eMSP pays by invoice, no card
    settled = Invoice.objects.filter(account__company=partner.company)
    assert settled.exists()
    this_month = timezone.localdate().replace(day=1)
    assert all(i.period_start < this_month and i.issued_at.date().day == 2 for i in settled)
    for record in CdrRecord.objects.select_related("session"):  # closed months are on their settlement invoice
        if record.session.stopped_at.date() < this_month - timedelta(days=1):
            assert record.invoice_id is not None, record.cdr_id
