"""Guest charging in the demo: Voltara's AD_HOC_PAYMENT tariff (demo_tariffs/voltara-ad-hoc.json) as its
operator default for guests, the demo connector whose QR code `make run` prints, and the guests who charged
there over the past weeks (`load_guest_history`)."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from billing_app.demo_history import HistorySummary, receipt_payments
from billing_app.invoicing.documents import delivery_suppressed, receipt_issue_for_session
from billing_app.models import BillingAccount, Payment, TariffAssignment
from billing_app.pricing.ocpi import loads
from billing_app.settlement.services import session_settle
from billing_app.tariffs.services import tariff_import_ocpi
from guests_app import prices
from guests_app.models import GuestSession
from guests_app.services import key_hash
from sessions_app.demo import demo_session_save
from sessions_app.models import Connector, IdToken, Operator, User

TARIFF_FILE = Path(__file__).resolve().parent / "demo_tariffs" / "voltara-ad-hoc.json"
DEMO_OPERATOR = "Voltara Charging"


def load_guest_tariff() -> bool:
    """Import the ad hoc tariff once and make it the operator's default for guests; True when it was added."""
    operator = Operator.objects.filter(name=DEMO_OPERATOR).first()
    if operator is None:
        return False
    data = loads(TARIFF_FILE.read_text())
    if operator.tariffs.filter(ocpi_id=data["id"]).exists():
        return False
    tariff = tariff_import_ocpi(operator=operator, data=data)
    TariffAssignment.objects.get_or_create(tariff=tariff, driver_group=None, location=None, station=None,
                                           connector=None)
    return True


def demo_connector() -> Connector | None:
    """The demo's guest connector: the first AC connector (an OCPP 1.6 charger) of the demo operator at a site
    without calibration law (Berlin's sessions need signed meter values, which the guest charger does not send:
    they would wait for review)."""
    return (Connector.objects.filter(station__location__operator__name=DEMO_OPERATOR, power_type__startswith="AC",
                                     station__location__calibration_law=False)
            .select_related("station__location").order_by("station__ocpp_identity", "number").first())


#: Guests of the demo's history: (days ago, local hour) of each charge at the demo connector, in the evening,
#: when the generated sessions (mornings) are over.
GUEST_HISTORY = [(2, 19), (5, 20), (9, 18), (14, 21), (20, 19), (27, 20), (33, 18), (41, 21)]


def guest_link_key(index: int) -> str:
    """The link key of the demo's `index`-th past guest (documented, so its pages can be opened:
    `/charge-session/demo-guest-1/`); real guests get 256 random bits."""
    return f"demo-guest-{index + 1}"


@transaction.atomic
def load_guest_history(*, seed: int = 2026) -> int:
    """Guests who paid by card at the demo connector over the past weeks: each a guest driver, AD_HOC token and
    `GuestSession` (ended) like `services.guest_checkout_open` makes, a session priced by settlement, its receipt
    issued at the session's end and its hold captured, recorded as billing's demo history does (no Stripe: the
    refund of one is refused with a message, docs/payments.md). Once, in one transaction (a failure leaves
    nothing, so the next run tries again); returns how many guests were added."""
    connector = demo_connector()
    if connector is None or GuestSession.objects.filter(access_key_hash=key_hash(guest_link_key(0))).exists():
        return 0
    tariff = prices.ad_hoc_tariff(connector)
    if tariff is None:
        return 0
    operator, zone = connector.station.location.operator, ZoneInfo(connector.station.location.time_zone)
    rng, today, sessions = random.Random(seed), timezone.localdate(timezone=zone), []  # noqa: S311 - demo data
    for index, (days_ago, hour) in enumerate(GUEST_HISTORY):
        driver = User(username=f"guest-demo-{index + 1}", role=User.Role.DRIVER, operator=operator,
                      email=f"guest{index + 1}@guests.example", first_name="Guest",
                      language="de" if index % 2 else "")
        driver.set_unusable_password()
        driver.save()
        BillingAccount.objects.create(driver=driver, operator=operator,
                                      payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO)
        token = IdToken.objects.create(operator=operator, uid=f"GDEMO{index + 1:04d}", type=IdToken.Type.AD_HOC,
                                       driver=driver)
        start = datetime.combine(today - timedelta(days=days_ago), time(hour, rng.randint(0, 50)), zone)
        session = demo_session_save(rng, connector, start, token, transaction_ref=f"demo-guest-{index + 1}")
        GuestSession.objects.create(
            operator=operator, connector=connector, driver=driver, id_token=token, session=session,
            access_key_hash=key_hash(guest_link_key(index)), email=driver.email, language=driver.language or "en",
            state=GuestSession.State.ENDED, currency=tariff.currency, hold_amount=prices.hold_for(tariff))
        sessions.append(session)
    with override_settings(INVOICE_RECEIPTS_ON_SETTLE=False), delivery_suppressed():
        for session in sessions:
            session_settle(session_id=session.pk)
            receipt_issue_for_session(session_id=session.pk, now=session.stopped_at + timedelta(minutes=2))
        guest_hold = prices.hold_for(tariff)  # what a guest's checkout holds (GuestSession.hold_amount)
        receipt_payments(HistorySummary(), rng=rng, at_stripe=0, session_ids=[s.pk for s in sessions],
                         hold=lambda session: guest_hold)
    for session in sessions:
        GuestSession.objects.filter(session=session).update(payment=Payment.objects.filter(
            session=session, kind=Payment.Kind.SESSION_HOLD).first(), created_at=session.started_at)
    return len(sessions)
