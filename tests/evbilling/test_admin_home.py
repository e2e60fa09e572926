"""The admin reads like a product (issue 21 item 8): named evbilling, sections named for what they hold,
the home page's figures scoped to the signed-in person's operator, dj-stripe's mirror folded away, and an
audit log that names rows and people."""
from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from billing_app.models import Payment, SessionCharge
from disputes_app import services as disputes
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


def _session_today(operator, *, kwh: str, total: str):
    started = timezone.now() - timedelta(minutes=30)
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator, started_at=started,
                                               stopped_at=started + timedelta(minutes=20), state="completed",
                                               meter_stop_wh=Decimal(1000) + Decimal(kwh) * 1000,
                                               energy_wh=Decimal(kwh) * 1000)
    SessionCharge.objects.create(session=session, currency="EUR", total_excl_vat=Decimal(total),
                                 total_vat=Decimal(0), total_incl_vat=Decimal(total), total_energy_kwh=Decimal(kwh),
                                 total_time_hours=Decimal("0.3333"), total_parking_hours=Decimal(0),
                                 breakdown={}, tariff_snapshot_json="{}")
    return session


def test_header_and_sections_are_named_for_people(client, staff):
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    assert "Django administration" not in page and "Django site admin" not in page
    assert "<title>Back office | evbilling back office</title>" in page
    sections = [app["name"] for app in response.context["app_list"]]
    assert {"Billing", "Charging", "Disputes", "Webhooks"} <= set(sections)
    assert not [name for name in sections if "_" in name]  # no app label as a section header


def test_home_figures_count_only_the_staffs_operator(client, staff, operator, other_operator):
    _session_today(operator, kwh="11.5", total="4.49")
    _session_today(other_operator, kwh="99", total="77.77")
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    summary = response.context["summary"]
    assert summary["today"]["sessions"] == 1 and summary["month"]["sessions"] == 1
    assert summary["today"]["energy_kwh"] == Decimal("11.5")
    assert summary["today"]["revenue"] == [("EUR", Decimal("4.49"))]
    page = response.content.decode()
    assert "€4.49" in page and "77.77" not in page
    assert 'id="summary-module"' in page


def test_home_figures_for_superuser_cover_every_operator(client, operator, other_operator):
    _session_today(operator, kwh="11.5", total="4.49")
    _session_today(other_operator, kwh="2", total="1.00")
    factories.ChargingStationFactory(location__operator=other_operator)
    client.force_login(factories.SupportFactory(is_superuser=True))
    summary = client.get(reverse("admin:index")).context["summary"]
    assert summary["today"]["sessions"] == 2
    assert summary["today"]["revenue"] == [("EUR", Decimal("5.49"))]
    assert summary["stations_offline"] == summary["stations"] >= 3


def test_home_counts_open_disputes_and_failed_payments(client, staff, operator, driver):
    session = _session_today(operator, kwh="3", total="1.20")
    disputes.ticket_open(by=session.driver, session=session, reason="wrong_amount", description="too much")
    Payment.objects.create(operator=operator, driver=session.driver, session=session, kind="session",
                           status=Payment.Status.FAILED, currency="EUR", idempotency_key="home-failed",
                           amount_authorized=Decimal("30.00"))
    client.force_login(staff)
    summary = client.get(reverse("admin:index")).context["summary"]
    assert summary["open_disputes"] == 1
    assert summary["today"]["failed_payments"] == 1


def test_stripe_mirror_is_folded_away_for_the_superuser(client):
    client.force_login(factories.SupportFactory(is_superuser=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="stripe-mirror-module"' in page and "<details" in page
    assert page.count("/admin/djstripe/") <= 2  # the app link in the folded module, not forty model rows
    assert client.get(reverse("admin:app_list", args=["djstripe"])).status_code == 200


def test_stripe_mirror_is_not_shown_to_operator_staff(client, staff):
    client.force_login(staff)
    assert "stripe-mirror-module" not in client.get(reverse("admin:index")).content.decode()


def test_audit_log_names_people_and_leaves_out_reverse_relations(client, staff, operator):
    session = _session_today(operator, kwh="3", total="1.20")
    agent = factories.SupportFactory(username="anna-support")
    agent.supported_operators.add(operator)
    ticket = disputes.ticket_open(by=session.driver, session=session, reason="wrong_amount", description="too much")
    disputes.ticket_assign(ticket=ticket, assignee=agent, by=agent)
    client.force_login(staff)
    page = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()
    assert "anna-support" in page
    assert "TicketMessage.None" not in page and f"→ {agent.pk}<" not in page
    entry = LogEntry.objects.get_for_object(ticket).filter(changes__icontains="assignee").latest("timestamp")
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk])).content.decode()
    assert "<td>anna-support</td>" in detail


@pytest.mark.parametrize("superuser", [False, True])
def test_home_in_german(client, operator, superuser):
    user = factories.SupportFactory(is_superuser=True) if superuser else factories.OperatorStaffFactory(
        operator=operator)
    user.language = "de"
    user.save(update_fields=["language"])
    _session_today(operator, kwh="11.5", total="4.49")
    client.force_login(user)
    page = client.get(reverse("admin:index")).content.decode()
    assert '<html lang="de"' in page
    assert "Auf einen Blick" in page and "Abrechnung" in page and "Ladevorgänge" in page
    assert "4,49\xa0€" in page and "Backoffice" in page
    assert "At a glance" not in page and "Recent actions" not in page
