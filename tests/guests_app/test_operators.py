"""Guests for operators and support: the admin list, the guest share in analytics and the CSV export, and
disputes about a guest's receipt (by the guest from their link, by support from number and e-mail)."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing_app.models import BillingAccount, Invoice
from billing_app.reporting import analytics
from disputes_app.models import DisputeTicket
from guests_app import services
from guests_app.models import GuestSession
from sessions_app import services as session_services
from sessions_app.models import IdToken, User
from sessions_app.services import SampleIn
from tests import factories

pytestmark = pytest.mark.django_db

KEY = "a-guests-link-key"
# 11:00 in Berlin: the day price applies (the night one starts at 22:00)
YESTERDAY_NOON = (timezone.now() - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


def _guest_charge(connector, *, kwh: int, email: str = "guest@example.com", key: str = KEY) -> GuestSession:
    """A guest's finished charge (without Stripe: what settlement makes of it is what matters here)."""
    operator = connector.station.location.operator
    driver = User.objects.create(username=f"guest-{key}", role=User.Role.DRIVER, operator=operator, email=email,
                                 first_name="Guest")
    BillingAccount.objects.create(driver=driver, operator=operator)
    token = IdToken.objects.create(operator=operator, uid=f"G{abs(hash(key)) % 10**12}", type=IdToken.Type.AD_HOC,
                                   driver=driver)
    guest = GuestSession.objects.create(operator=operator, connector=connector, driver=driver, id_token=token,
                                        access_key_hash=services.key_hash(key), email=email, currency="EUR",
                                        hold_amount=Decimal("30.00"), state=GuestSession.State.STARTING)
    start = YESTERDAY_NOON
    session = session_services.session_start(connector=connector, id_token=token, started_at=start,
                                              meter_start_wh=Decimal(0), transaction_ref=f"tx-{key}")
    session_services.session_record_samples(session=session, samples=[
        SampleIn(start + timedelta(hours=1), Decimal(kwh * 1000), Decimal(kwh * 1000))])
    session_services.session_stop(session=session, stopped_at=start + timedelta(hours=1),
                                  meter_stop_wh=Decimal(kwh * 1000))
    guest.refresh_from_db()
    return guest


@pytest.fixture
def guest(operator, guest_connector, guest_tariff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return _guest_charge(guest_connector, kwh=10)


def test_a_guest_charge_ends_with_a_receipt_to_their_email(guest):
    assert guest.state == GuestSession.State.ENDED and guest.session_id
    receipt = Invoice.objects.get(session_id=guest.session_id)
    assert receipt.buyer["email"] == "guest@example.com" and receipt.buyer["name"] == "Guest"
    assert receipt.total_incl_vat == Decimal("5.24")  # 10 x 0.39 + 0.50 fee, 19 % VAT


def test_the_guest_share_of_sessions_and_revenue(operator, guest, guest_connector, id_token,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start = YESTERDAY_NOON + timedelta(hours=2)
        member = session_services.session_start(connector=guest_connector, id_token=id_token, started_at=start,
                                                 meter_start_wh=Decimal(0), transaction_ref="member")
        session_services.session_stop(session=member, stopped_at=start + timedelta(hours=1),
                                      meter_stop_wh=Decimal(20000))
    staff = factories.OperatorStaffFactory(operator=operator)
    today = timezone.now().date()
    share = analytics.guest_share(staff, analytics.Filters(start=today - timedelta(days=1), end=today))
    guest_total = guest.session.charge.total_incl_vat
    member_total = member.charge.total_incl_vat
    assert (share["sessions"], share["guest_sessions"], share["session_share"]) == (2, 1, Decimal("50.0"))
    [eur] = share["revenue"]
    assert (eur["total"], eur["guests"]) == (guest_total + member_total, guest_total)
    assert eur["share"] == (guest_total * 100 / (guest_total + member_total)).quantize(Decimal("0.1"))
    other = factories.OperatorStaffFactory(operator=factories.OperatorFactory())
    assert analytics.guest_share(other, analytics.Filters(start=today - timedelta(days=1), end=today))[
        "guest_sessions"] == 0


def test_the_sessions_export_names_the_payer(client, operator, guest):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    today = timezone.now().date()
    response = client.get(reverse("admin_analytics_sessions_csv"),
                          {"start": today - timedelta(days=1), "end": today})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode()
                                       if response.streaming else response.content.decode())))
    header = rows[0]
    assert dict(zip(header, rows[1], strict=True))["payer"] == "guest"
    assert dict(zip(header, rows[1], strict=True))["partner"] == ""  # a guest is no roaming partner's driver
    dashboard = client.get(reverse("admin_analytics"), {"start": today - timedelta(days=1), "end": today})
    assert "Guests (ad hoc payment by QR code)" in dashboard.content.decode()


def test_guest_sessions_are_in_the_admin_of_their_operator_only(client, operator, other_operator, guest):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(reverse("admin:guests_app_guestsession_changelist")).content.decode()
    receipt = Invoice.objects.get(session_id=guest.session_id)
    assert receipt.number in page and "guest@example.com" in page
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert "guest@example.com" not in client.get(reverse("admin:guests_app_guestsession_changelist")).content.decode()
    assert client.get(reverse("admin:guests_app_guestsession_change", args=[guest.pk])).status_code in (302, 404)


def test_the_guest_opens_a_dispute_from_the_receipt_link(client, guest):
    answer = client.post(reverse("guests:dispute", args=[KEY]), data={"reason": "wrong_amount",
                         "description": "The charger showed 9 kWh."}, content_type="application/json")
    assert answer.status_code == 201
    ticket = DisputeTicket.objects.get(pk=answer.json()["ticket"])
    assert (ticket.driver_id, ticket.session_id) == (guest.driver_id, guest.session_id)
    bad = client.post(reverse("guests:dispute", args=[KEY]), data={"reason": "nonsense", "description": "x"},
                      content_type="application/json")
    assert bad.status_code == 400 and "not a dispute reason" in bad.json()["error"]["message"]
    assert client.post(reverse("guests:dispute", args=["another-key"]), data={},
                       content_type="application/json").status_code == 404


def test_support_opens_a_dispute_from_receipt_number_and_email(client, operator, other_operator, guest):
    receipt = Invoice.objects.get(session_id=guest.session_id)
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    client.force_login(agent)
    url = reverse("guests:support_dispute")
    assert client.get(url).status_code == 200
    wrong = client.post(url, {"number": receipt.number, "email": "someone@example.com", "reason": "other",
                              "description": "Called in."})
    assert "No guest receipt with this number and e-mail address." in wrong.content.decode()
    opened = client.post(url, {"number": receipt.number.lower(), "email": "GUEST@example.com", "reason": "other",
                               "description": "Called in."})
    ticket = DisputeTicket.objects.get()
    assert opened.status_code == 302 and opened["Location"] == reverse("disputes:support_ticket", args=[ticket.pk])
    assert (ticket.driver_id, ticket.session_id) == (guest.driver_id, guest.session_id)

    stranger = factories.SupportFactory()
    stranger.supported_operators.add(other_operator)
    client.force_login(stranger)
    answer = client.post(url, {"number": receipt.number, "email": "guest@example.com", "reason": "other",
                               "description": "Called in."})
    assert "No guest receipt" in answer.content.decode() and DisputeTicket.objects.count() == 1
    client.force_login(factories.DriverFactory(operator=operator))
    assert client.get(url).status_code == 403


def test_a_guest_never_sees_another_guests_session(client, operator, guest, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # another guest, later, on the same connector
        other = _guest_charge(guest.connector, kwh=3, email="other@example.com", key="another-guests-key")
    mine = Invoice.objects.get(session_id=guest.session_id).number
    theirs = Invoice.objects.get(session_id=other.session_id).number
    status = client.get(reverse("guests:status", args=[KEY])).json()
    assert status["receipt_number"] == mine and theirs not in str(status)
    page = client.get(reverse("guests:live", args=[KEY])).content.decode()
    assert mine in page and theirs not in page and "other@example.com" not in page
    assert client.get(reverse("guests:receipt", args=["another-guests-key"])).status_code == 200  # their own key
    assert client.get(reverse("guests:receipt", args=[KEY[:-1]])).status_code == 404  # nearly the key: nothing
