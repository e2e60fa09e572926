"""Roaming in the demo's history: the demo eMSP's driver charged a few times over the past weeks, each session
priced by settlement with the partner's tariff and sent as a CDR (`cdrs.cdr_issue_for_charge`, dated at the
session's end), and each closed month settled with the eMSP's company (`settlement.partner_settle`, issued on
the 2nd of the next month). No Stripe: the eMSP pays by invoice. `ocpi_demo` (run by `make run`) calls it once.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.test import override_settings
from django.utils import timezone

from billing_app.invoicing.documents import delivery_suppressed
from billing_app.models import SessionCharge
from billing_app.settlement.services import session_settle
from sessions_app.demo import demo_session_save
from sessions_app.models import ChargingSession, Connector, IdToken

from .cdrs import cdr_issue_for_charge
from .models import CdrRecord, Partner
from .settlement import partner_settle

#: (days ago, local hour) of each roaming charge: afternoons, after the generated mornings.
ROAMING_HISTORY = [(3, 15), (8, 16), (16, 14), (23, 15), (31, 16), (38, 14), (52, 15)]


def load_roaming_history(*, partner: Partner, id_token: IdToken, seed: int = 2026) -> int:
    """The roaming sessions, CDRs and settlement invoices of the demo eMSP, once (by the sessions' references);
    returns how many sessions were added."""
    if ChargingSession.objects.filter(transaction_ref__startswith="demo-roaming-").exists():
        return 0
    connector = (Connector.objects.filter(station__location__operator=partner.operator_id,
                                          station__location__calibration_law=False, power_type="DC")
                 .select_related("station__location").order_by("station__ocpp_identity", "number").first())
    if connector is None:
        return 0
    zone = ZoneInfo(connector.station.location.time_zone)
    rng, today, sessions = random.Random(seed), timezone.localdate(timezone=zone), []  # noqa: S311 - demo data
    for index, (days_ago, hour) in enumerate(ROAMING_HISTORY):
        start = datetime.combine(today - timedelta(days=days_ago), time(hour, rng.randint(0, 50)), zone)
        sessions.append(demo_session_save(rng, connector, start, id_token,
                                          transaction_ref=f"demo-roaming-{index + 1}"))
    months = set()
    with override_settings(INVOICE_RECEIPTS_ON_SETTLE=False), delivery_suppressed():
        for session in sessions:
            charge = session_settle(session_id=session.pk)
            if isinstance(charge, SessionCharge):
                for record in cdr_issue_for_charge(charge_id=charge.pk):
                    CdrRecord.objects.filter(pk=record.pk).update(last_updated=session.stopped_at
                                                                  + timedelta(minutes=1))
            months.add(session.stopped_at.astimezone(zone).date().replace(day=1))
        this_month = today.replace(day=1)
        for month in sorted(m for m in months if m < this_month and partner.company_id):
            following = (month + timedelta(days=32)).replace(day=1)
            partner_settle(partner_id=partner.pk, period=month,
                           now=datetime.combine(following + timedelta(days=1), time(6), zone))
    return len(sessions)
