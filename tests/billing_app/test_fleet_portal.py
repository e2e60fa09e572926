"""The fleet portal: a fleet manager sees and manages only their company's members, cards, business sessions,
invoices and spend. Wrong-owner tests for every view: another company's objects (same operator) are a 404 or
absent, a member's private sessions are never shown, and nobody but a fleet manager gets in."""
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.models import BillingAccount, Invoice
from sessions_app.models import IdToken, User
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session

D = Decimal
BUSINESS = IdToken.Charging.BUSINESS
OCT = datetime(2026, 10, 6, 8, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("no_delivery")


def _company(operator, name):
    company = factories.CompanyFactory(operator=operator, legal_name=name)
    BillingAccount.objects.create(company=company, operator=operator,
                                  payment_mode=BillingAccount.PaymentMode.POSTPAID)
    return company


@pytest.fixture
def world(operator, connector):
    """Company A (two members, cost centres Sales and =SUM(1)) and company B of the same operator, each with
    business sessions in October; A's first member also charges privately."""
    a, b = _company(operator, "Acme GmbH"), _company(operator, "Beta AG")
    anna = factories.DriverFactory(operator=operator, company=a, profile__full_name="Anna Novak")
    ben = factories.DriverFactory(operator=operator, company=a, profile__full_name="Ben Schmidt")
    bob = factories.DriverFactory(operator=operator, company=b, profile__full_name="Bob Beta")
    for d in (anna, ben, bob):
        account(d)
    cards = {
        "anna": factories.IdTokenFactory(operator=operator, driver=anna, company=a, charging=BUSINESS,
                                         cost_centre="Sales", uid="04ANNA"),
        "ben": factories.IdTokenFactory(operator=operator, driver=ben, company=a, charging=BUSINESS,
                                        cost_centre="=SUM(1)", uid="04BEN"),
        "anna_private": factories.IdTokenFactory(operator=operator, driver=anna, company=a, uid="04ANNAPRIV"),
        "bob": factories.IdTokenFactory(operator=operator, driver=bob, company=b, charging=BUSINESS,
                                        cost_centre="Sales", uid="04BOB"),
    }
    other_site = factories.ConnectorFactory(station__location__operator=operator, station__location__name="Depot")
    charges = {
        "anna": charged_session(connector=connector, driver=anna, id_token=cards["anna"], started_at=OCT,
                                energy_kwh="10"),
        "ben": charged_session(connector=other_site, driver=ben, id_token=cards["ben"],
                               started_at=OCT + timedelta(days=1), energy_kwh="20"),
        "private": charged_session(connector=connector, driver=anna, id_token=cards["anna_private"],
                                   started_at=OCT + timedelta(days=2), energy_kwh="5"),
        "bob": charged_session(connector=connector, driver=bob, id_token=cards["bob"],
                               started_at=OCT + timedelta(days=3), energy_kwh="30"),
    }
    manager = factories.FleetManagerFactory(company=a, username="fleet-a", email="fleet@acme.example")
    other_manager = factories.FleetManagerFactory(company=b, username="fleet-b")
    return {"a": a, "b": b, "drivers": {"anna": anna, "ben": ben, "bob": bob}, "cards": cards, "charges": charges,
            "manager": manager, "other_manager": other_manager, "depot": other_site.station.location}


@pytest.fixture
def fleet_client(client, world):
    client.force_login(world["manager"])
    return client


def _ids(response) -> set[int]:
    return {s.pk for s in response.context["page"].object_list}


FLEET_PAGES = ["fleet:dashboard", "fleet:members", "fleet:cards", "fleet:sessions", "fleet:sessions_csv",
               "fleet:invoices"]


@pytest.mark.parametrize("who", ["driver", "staff", "support", "anonymous"])
def test_only_fleet_managers_get_in(client, world, operator, who):
    user = {"driver": world["drivers"]["anna"], "staff": factories.OperatorStaffFactory(operator=operator),
            "support": factories.SupportFactory(), "anonymous": None}[who]
    if user:
        client.force_login(user)
    for name in FLEET_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == (302 if user is None else 403), name


def test_home_takes_a_fleet_manager_to_the_fleet_portal(fleet_client):
    assert fleet_client.get(reverse("home")).url == reverse("fleet:dashboard")


def test_sessions_are_the_companys_business_sessions_only(fleet_client, world):
    response = fleet_client.get(reverse("fleet:sessions"))
    assert _ids(response) == {world["charges"]["anna"].session_id, world["charges"]["ben"].session_id}
    body = response.content.decode()
    assert "04BOB" not in body and "Bob Beta" not in body  # the private card is a filter choice, its session not


@pytest.mark.parametrize(("filters", "expected"), [
    ({"driver": "ben"}, {"ben"}), ({"card": "anna"}, {"anna"}), ({"cost_centre": "Sales"}, {"anna"}),
    ({"location": "depot"}, {"ben"}), ({"start": "2026-10-07"}, {"ben"}), ({"end": "2026-10-06"}, {"anna"}),
])
def test_session_filters(fleet_client, world, filters, expected):
    lookup = {"driver": lambda v: world["drivers"][v].pk, "card": lambda v: world["cards"][v].pk,
              "location": lambda v: world["depot"].pk}
    query = {k: lookup[k](v) if k in lookup else v for k, v in filters.items()}
    response = fleet_client.get(reverse("fleet:sessions"), query)
    assert _ids(response) == {world["charges"][k].session_id for k in expected}


def test_filters_offer_only_the_companys_drivers_and_cards(fleet_client, world):
    response = fleet_client.get(reverse("fleet:sessions"), {"driver": world["drivers"]["bob"].pk})
    assert response.status_code == 400 and "driver" in response.context["form"].errors
    response = fleet_client.get(reverse("fleet:sessions"), {"card": world["cards"]["bob"].pk})
    assert response.status_code == 400 and "card" in response.context["form"].errors


def test_csv_export_is_scoped_filtered_and_spreadsheet_safe(fleet_client, world):
    response = fleet_client.get(reverse("fleet:sessions_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["session_id"]) for r in rows] == [world["charges"]["anna"].session_id,
                                                    world["charges"]["ben"].session_id]
    assert rows[0]["total_incl_vat"] == "4.64" and rows[1]["total_incl_vat"] == "9.28"
    assert rows[1]["cost_centre"] == "'=SUM(1)"
    response = fleet_client.get(reverse("fleet:sessions_csv"), {"driver": world["drivers"]["anna"].pk})
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))) == 2
    assert fleet_client.get(reverse("fleet:sessions_csv"), {"driver": world["drivers"]["bob"].pk}).status_code == 400


def test_dashboard_spend_per_cost_centre_and_driver(fleet_client, world):
    response = fleet_client.get(reverse("fleet:dashboard"), {"start": "2026-10-01", "end": "2026-10-31"})
    spend = response.context["spend"]
    assert spend["total"] == D("13.92")  # 4.64 + 9.28: not Anna's private 2.32, not Beta's 13.92
    assert [(r["label"], r["incl"]) for r in spend["cost_centres"]] == [("=SUM(1)", D("9.28")), ("Sales", D("4.64"))]
    assert [(r["label"], r["incl"]) for r in spend["drivers"]] == [
        ("Ben Schmidt", D("9.28")), ("Anna Novak", D("4.64"))]
    assert response.context["chart"]["drivers"]["values"] == ["9.28", "4.64"]
    assert b"spend-data" in response.content
    assert fleet_client.get(reverse("fleet:dashboard"), {"start": "2026-10-31", "end": "2026-10-01"}).status_code == 400


def test_members_are_the_companys(fleet_client, world):
    body = fleet_client.get(reverse("fleet:members")).content.decode()
    assert "Anna Novak" in body and "Ben Schmidt" in body and "Bob Beta" not in body


def test_invite_a_driver(fleet_client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = fleet_client.post(reverse("fleet:member_invite"),
                                     {"full_name": "Clara Byrne", "email": "Clara@Acme.example"})
    assert response.status_code == 302
    clara = User.objects.get(email="clara@acme.example")
    assert (clara.company, clara.role, clara.operator, clara.has_usable_password()) == (
        world["a"], User.Role.DRIVER, world["a"].operator, False)
    assert clara.driver_profile.full_name == "Clara Byrne"
    assert BillingAccount.objects.get(driver=clara).payment_mode == BillingAccount.PaymentMode.PAY_AS_YOU_GO
    [message] = mail.outbox
    assert message.to == ["clara@acme.example"] and "/accounts/reset/" in message.body
    again = fleet_client.post(reverse("fleet:member_invite"), {"full_name": "Clara", "email": "clara@acme.example"})
    assert again.status_code == 400 and "has a login already" in again.content.decode()
    assert User.objects.filter(email="clara@acme.example").count() == 1


def test_issue_a_card_to_a_member_only(fleet_client, world):
    response = fleet_client.post(reverse("fleet:card_add"), {
        "uid": "04new01", "driver": world["drivers"]["ben"].pk, "charging": "business", "cost_centre": "Service",
        "licence_plate": "b-xy 12", "monthly_cap": "150.00"})
    assert response.status_code == 302
    card = IdToken.objects.get(uid="04NEW01")
    assert (card.company, card.driver, card.charging, card.cost_centre, card.licence_plate, card.monthly_cap) == (
        world["a"], world["drivers"]["ben"], BUSINESS, "Service", "B-XY 12", D("150.00"))
    foreign = fleet_client.post(reverse("fleet:card_add"), {"uid": "04NEW02", "driver": world["drivers"]["bob"].pk,
                                                            "charging": "business"})
    assert foreign.status_code == 400 and not IdToken.objects.filter(uid="04NEW02").exists()
    taken = fleet_client.post(reverse("fleet:card_add"), {"uid": "04BOB", "driver": world["drivers"]["ben"].pk,
                                                          "charging": "business"})
    assert taken.status_code == 400 and "known already" in taken.content.decode()
    assert IdToken.objects.get(uid="04BOB").company == world["b"]


def test_assign_a_cost_centre_and_block(fleet_client, world):
    card = world["cards"]["anna"]
    response = fleet_client.post(reverse("fleet:card_update", args=[card.pk]), {
        f"card{card.pk}-charging": "business", f"card{card.pk}-cost_centre": "Marketing",
        f"card{card.pk}-licence_plate": "", f"card{card.pk}-monthly_cap": ""})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.cost_centre == "Marketing"
    # a session already started keeps the cost centre it started with
    assert world["charges"]["anna"].session.cost_centre == "Sales"
    assert fleet_client.post(reverse("fleet:card_block", args=[card.pk])).status_code == 302
    card.refresh_from_db()
    assert card.status == IdToken.Status.BLOCKED


def test_another_companys_card_is_not_found(fleet_client, world):
    card = world["cards"]["bob"]
    assert fleet_client.post(reverse("fleet:card_update", args=[card.pk]), {
        f"card{card.pk}-charging": "private", f"card{card.pk}-cost_centre": "x"}).status_code == 404
    assert fleet_client.post(reverse("fleet:card_block", args=[card.pk])).status_code == 404
    card.refresh_from_db()
    assert (card.status, card.charging, card.cost_centre) == (IdToken.Status.ACCEPTED, BUSINESS, "Sales")
    assert "04BOB" not in fleet_client.get(reverse("fleet:cards")).content.decode()


def test_invoices_and_their_files_are_the_companys(fleet_client, world, media):
    billing_run(period=date(2026, 10, 1))
    own = Invoice.objects.get(account__company=world["a"])
    other = Invoice.objects.get(account__company=world["b"])
    note = credit_note_issue(invoice_id=other.pk, amount_incl_vat=D("1.00"), reason="Goodwill")
    listing = fleet_client.get(reverse("fleet:invoices")).content.decode()
    assert own.number in listing and other.number not in listing and note.number not in listing
    assert fleet_client.get(reverse("fleet:invoice_pdf", args=[own.pk])).status_code == 200
    csv_text = fleet_client.get(reverse("fleet:invoice_sessions_csv", args=[own.pk])).content.decode()
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 2
    assert b"<rsm:CrossIndustryInvoice" in fleet_client.get(reverse("fleet:invoice_einvoice",
                                                                    args=[own.pk, "cii"])).content
    assert fleet_client.get(reverse("fleet:invoice_einvoice", args=[own.pk, "facturx"])).status_code == 200
    for fmt in ("cii", "facturx", "xrechnung"):
        assert fleet_client.get(reverse("fleet:invoice_einvoice", args=[other.pk, fmt])).status_code == 404
        assert fleet_client.get(reverse("fleet:credit_note_einvoice", args=[note.pk, fmt])).status_code == 404
    assert fleet_client.get(reverse("fleet:invoice_einvoice", args=[own.pk, "ubl"])).status_code == 404
    assert fleet_client.get(reverse("fleet:invoice_pdf", args=[other.pk])).status_code == 404
    assert fleet_client.get(reverse("fleet:invoice_sessions_csv", args=[other.pk])).status_code == 404
    assert fleet_client.get(reverse("fleet:credit_note_pdf", args=[note.pk])).status_code == 404
    # the driver's own receipts are not the company's
    assert not Invoice.objects.filter(account__company=world["a"], session__isnull=False).exists()


# --- In German (issue 21) -------------------------------------------------------------------------

GERMAN_PAGES = {"fleet:dashboard": "fleet_dashboard", "fleet:members": "fleet_members", "fleet:cards": "fleet_cards",
                "fleet:sessions": "fleet_sessions", "fleet:invoices": "fleet_invoices"}


def test_every_fleet_page_in_german(fleet_client, world):
    from tests.disputes_app.test_german_pages import english_lines
    from tests.e2e.german_keys import GERMAN_KEYS

    world["manager"].language = "de"
    world["manager"].save(update_fields=["language"])
    for name, area in GERMAN_PAGES.items():
        page = fleet_client.get(reverse(name)).content.decode()
        assert '<html lang="de">' in page and english_lines(page) == [], (name, english_lines(page))
        for english, german in GERMAN_KEYS["header"] + GERMAN_KEYS["fleet"] + GERMAN_KEYS[area]:
            assert german in page and english not in page, (name, english, german)
    page = fleet_client.get(reverse("fleet:dashboard"), {"start": "2026-10-01", "end": "2026-10-31"}).content.decode()
    assert "Nach Kostenstelle" in page and "2 Fahrer, 3 Karten" in page and "EUR inkl. USt." in page
    response = fleet_client.get(reverse("fleet:dashboard"), {"start": "2026-10-31", "end": "2026-10-01"})
    assert "Das Enddatum liegt vor dem Anfangsdatum." in response.content.decode()
    response = fleet_client.post(reverse("fleet:card_add"), {"uid": "04ANNA", "driver": world["drivers"]["anna"].pk,
                                                              "charging": BUSINESS})
    assert "Karte 04ANNA ist bereits bekannt" in response.content.decode()
    response = fleet_client.post(reverse("fleet:card_block", args=[world["cards"]["ben"].pk]), follow=True)
    assert "Karte 04BEN ist gesperrt" in response.content.decode() and "Gesperrt" in response.content.decode()
