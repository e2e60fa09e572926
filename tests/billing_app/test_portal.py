"""The driver portal: own rows only (another driver's session is a 404), explain-my-bill, filters,
blocking a lost card, billing details with form errors, and the sign-in flow."""
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing_app.settlement import services
from sessions_app import services as session_services
from sessions_app.models import DriverProfile, IdToken
from sessions_app.services import SampleIn
from sessions_app.services import tokens as token_services
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def priced(operator, connector, id_token):
    factories.energy_tariff(operator, price="0.39", vat="19")
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                              meter_start_wh=Decimal(0), transaction_ref="portal-1")
    session_services.session_record_samples(session=session, samples=[
        SampleIn(T0 + timedelta(minutes=30), Decimal(5500), Decimal(11000)),
        SampleIn(T0 + timedelta(hours=1), Decimal(11000), Decimal(11000))])
    session_services.session_stop(session=session, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(11000))
    services.session_settle(session_id=session.pk)
    session.refresh_from_db()
    return session


@pytest.fixture
def driver_client(client, driver):
    client.force_login(driver)
    return client


def test_sign_in_lands_a_driver_in_the_portal(client, driver):
    assert client.get(reverse("portal:dashboard"))["Location"].startswith(reverse("login"))
    response = client.post(reverse("login"), {"username": driver.username, "password": "pw-for-tests"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    bad = client.post(reverse("login"), {"username": driver.username, "password": "wrong"})
    assert bad.status_code == 200 and bad.context["form"].errors


def test_staff_are_sent_to_their_tools(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")
    assert client.get(reverse("portal:dashboard")).status_code == 403


def test_session_detail_explains_the_bill(driver_client, priced):
    response = driver_client.get(reverse("portal:session", args=[priced.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Why it costs €5.11" in page  # 11 kWh x 0.39 = 4.29 + 0.82 VAT
    assert "4.29" in page and "0.82" in page
    assert "VAT per rate" in page  # the same rows as the receipt and the CDR
    assert [(row["label"], row["taxable_amount"], row["vat_amount"], row["gross"])
            for row in response.context["vat_rows"]] == [("19\u00a0%", "4.29", "0.82", Decimal("5.11"))]
    assert response.context["chart"]["power_kw"] == [11.0, 11.0]
    assert "vendor/chartjs/chart.umd.min.js" in page


def test_another_drivers_session_is_not_found(client, priced, operator):
    client.force_login(factories.DriverFactory(operator=operator))
    assert client.get(reverse("portal:session", args=[priced.pk])).status_code == 404


def test_dashboard_and_list_show_own_sessions_only(driver_client, priced, operator):
    factories.ChargingSessionFactory(connector__station__location__operator=operator, transaction_ref="other")
    listing = driver_client.get(reverse("portal:sessions"))
    assert [s.pk for s in listing.context["page"].object_list] == [priced.pk]
    assert driver_client.get(reverse("portal:dashboard")).status_code == 200


def test_session_filters_and_their_errors(driver_client, priced):
    assert len(driver_client.get(reverse("portal:sessions"), {"state": "failed"}).context["page"].object_list) == 0
    response = driver_client.get(reverse("portal:sessions"), {"start": "2026-03-05", "end": "2026-03-01"})
    assert "end" in response.context["form"].errors
    assert list(response.context["page"].object_list) == []  # an impossible filter lists nothing, not everything
    assert "The end date is before the start date." in response.content.decode()
    response = driver_client.get(reverse("portal:sessions"), {"state": "exploded"})
    assert "state" in response.context["form"].errors


def test_driver_blocks_own_card_only(driver_client, id_token, operator):
    other = factories.IdTokenFactory(operator=operator)
    assert driver_client.post(reverse("portal:token_block", args=[other.pk])).status_code == 404
    driver_client.post(reverse("portal:token_block", args=[id_token.pk]))
    id_token.refresh_from_db()
    other.refresh_from_db()
    assert (id_token.status, other.status) == (IdToken.Status.BLOCKED, IdToken.Status.ACCEPTED)
    assert driver_client.get(reverse("portal:token_block", args=[id_token.pk])).status_code == 405


def test_profile_saves_and_refuses_bad_input(driver_client, driver):
    url = reverse("portal:profile")
    bad = driver_client.post(url, {"full_name": "Ann", "country": "Germany", "company_vat_id": "DE1"})
    assert {"country", "company_name"} <= set(bad.context["form"].errors)
    driver_client.post(url, {"full_name": "Ann Example", "country": "DE", "city": "Berlin"})
    assert DriverProfile.objects.get(user=driver).full_name == "Ann Example"


@pytest.fixture
def charging(operator, connector, id_token):
    """An active session: 7.5 kWh read so far at €0.39/kWh + 19 % VAT (€3.49)."""
    factories.energy_tariff(operator, price="0.39", vat="19")
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                              meter_start_wh=Decimal(1000), transaction_ref="portal-live")
    session_services.session_record_samples(session=session, samples=[
        SampleIn(T0 + timedelta(minutes=30), Decimal(4000), Decimal(11000)),
        SampleIn(T0 + timedelta(minutes=45), Decimal(8500), Decimal(11000))])
    return session


def test_dashboard_shows_the_running_session_with_its_cost_so_far(driver_client, charging):
    page = driver_client.get(reverse("portal:dashboard")).content.decode()
    assert 'id="live-session"' in page and "7.500" in page and "€3.49" in page  # 7.5 x 0.39 = 2.93 + 19 % VAT 0.56


def test_live_figures_follow_the_meter_then_the_stop(driver_client, charging):
    url = reverse("portal:session_live", args=[charging.pk])
    live = driver_client.get(url).json()
    assert (live["state"], live["energy_kwh"], live["cost_so_far"]) == ("active", "7.500", "3.49")
    session_services.session_record_samples(session=charging, samples=[
        SampleIn(T0 + timedelta(minutes=60), Decimal(11000), Decimal(11000))])
    assert driver_client.get(url).json()["energy_kwh"] == "10.000"
    session_services.session_stop(session=charging, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(11000))
    done = driver_client.get(url).json()
    assert (done["state"], done["energy_kwh"], done["cost_so_far"]) == ("completed", "10.000", None)


def test_live_figures_of_another_drivers_session_are_a_json_404(client, charging, operator):
    client.force_login(factories.DriverFactory(operator=operator))
    response = client.get(reverse("portal:session_live", args=[charging.pk]))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    client.logout()
    assert client.get(reverse("portal:session_live", args=[charging.pk])).status_code == 302


def test_invoices_are_paged_newest_first_and_only_the_drivers_own(driver_client, driver, connector, operator):
    from billing_app import invoicing
    from billing_app.invoicing import delivery_suppressed
    from tests.billing_app.invoice_fixtures import account, charged_session

    account(driver)
    stranger = factories.DriverFactory(operator=operator)
    account(stranger)
    with delivery_suppressed():
        charges = [charged_session(connector=connector, driver=driver, started_at=T0 + timedelta(hours=i))
                   for i in range(27)]
        numbers = [invoicing.receipt_issue_for_session(session_id=c.session_id, now=T0 + timedelta(days=1, minutes=i))
                   .number for i, c in enumerate(charges)]
        foreign = invoicing.receipt_issue_for_session(
            session_id=charged_session(connector=connector, driver=stranger, started_at=T0).session_id).number
    first = driver_client.get(reverse("portal:invoices")).content.decode()
    second = driver_client.get(reverse("portal:invoices"), {"page": 2}).content.decode()
    assert all(n in first for n in numbers[2:]) and not any(n in first for n in numbers[:2])
    assert "Page 1 of 2" in first and "page=2" in first
    assert numbers[0] in second and numbers[1] in second and "Page 2 of 2" in second
    assert foreign not in first + second
    assert driver_client.get(reverse("portal:invoices"), {"page": "nonsense"}).status_code == 200


RAW_DECIMAL = re.compile(r"\d\.\d{5,}")


def test_portal_pages_show_money_in_the_readers_locale_and_no_raw_decimal(driver_client, priced):
    pages = [reverse("portal:dashboard"), reverse("portal:sessions"), reverse("portal:session", args=[priced.pk])]
    for url in pages:
        page = driver_client.get(url).content.decode()
        assert "€5.11" in page and not RAW_DECIMAL.search(page), url
    german = driver_client.get(pages[2], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "5,11\xa0€" in german and '<html lang="de">' in german


def test_session_times_are_the_chargers_and_named_when_not_the_viewers(client, driver, priced, operator):
    factories.LocationFactory.create_batch(2, operator=operator, time_zone="Europe/Berlin")  # the operator's zone
    client.force_login(driver)
    url = reverse("portal:session", args=[priced.pk])
    assert "<h1>Session on 2 Mar 2026, 10:00</h1>" in client.get(url).content.decode()  # the viewer's zone
    location = priced.connector.station.location
    location.time_zone = "Europe/Helsinki"
    location.save()
    page = client.get(url).content.decode()
    assert "<h1>Session on 2 Mar 2026, 11:00 (Europe/Helsinki)</h1>" in page
    assert "2 Mar 2026, 11:00 (Europe/Helsinki)" in client.get(reverse("portal:sessions")).content.decode()


def test_periods_are_in_kwh_and_the_session_mentions_its_dispute(driver_client, priced, driver):
    from disputes_app import services as dispute_services

    page = driver_client.get(reverse("portal:session", args=[priced.pk])).content.decode()
    periods = page.split("<h2>Periods</h2>")[1].split("</table>")[0]
    assert "11.000\xa0kWh" in periods and " Wh<" not in periods
    assert "Dispute this charge" in page
    ticket = dispute_services.ticket_open(by=driver, session=priced, reason="wrong_amount", description="9 kWh")
    page = driver_client.get(reverse("portal:session", args=[priced.pk])).content.decode()
    assert reverse("disputes:detail", args=[ticket.pk]) in page and "Dispute this charge" not in page


def test_a_failed_session_without_energy_has_nothing_to_pay_or_dispute(driver_client, connector, id_token):
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                              meter_start_wh=Decimal(0), transaction_ref="portal-failed")
    session_services.session_fail(session=session, reason="EVDisconnected")
    page = driver_client.get(reverse("portal:session", args=[session.pk])).content.decode()
    assert "Nothing to pay" in page and "Not priced yet" not in page and "Dispute this charge" not in page


def test_driver_unblocks_a_card_they_blocked_but_not_one_the_operator_blocked(driver_client, id_token, operator):
    driver_client.post(reverse("portal:token_block", args=[id_token.pk]))
    page = driver_client.get(reverse("portal:tokens")).content.decode()
    assert "data-confirm=" in page and "Unblock" in page
    assert driver_client.post(reverse("portal:token_unblock", args=[id_token.pk])).status_code == 302
    id_token.refresh_from_db()
    assert id_token.status == IdToken.Status.ACCEPTED
    staff = factories.OperatorStaffFactory(operator=operator)
    token_services.token_block(token_id=id_token.pk, by=staff)
    response = driver_client.post(reverse("portal:token_unblock", args=[id_token.pk]), follow=True)
    assert "Your operator blocked this card" in response.content.decode()
    id_token.refresh_from_db()
    assert id_token.status == IdToken.Status.BLOCKED


def test_driver_replaces_a_blocked_card_and_a_taken_number_is_a_form_error(driver_client, id_token, operator):
    other = factories.IdTokenFactory(operator=operator)
    driver_client.post(reverse("portal:token_block", args=[id_token.pk]))
    bad = driver_client.post(reverse("portal:token_replace", args=[id_token.pk]), {"uid": other.uid})
    assert bad.status_code == 400 and "already registered" in bad.content.decode()
    replace = reverse("portal:token_replace", args=[id_token.pk])
    assert driver_client.post(replace, {"uid": "NEW-CARD-1"}).status_code == 302
    id_token.refresh_from_db()
    new = IdToken.objects.get(uid="NEW-CARD-1")
    assert (id_token.status, id_token.replaced_by, new.driver_id, new.status) == (
        IdToken.Status.BLOCKED, new, id_token.driver_id, IdToken.Status.ACCEPTED)
    assert driver_client.post(reverse("portal:token_replace", args=[other.pk]), {"uid": "X-2"}).status_code == 404
    assert driver_client.post(reverse("portal:token_unblock", args=[other.pk])).status_code == 404


def test_every_portal_page_has_the_navigation_and_sign_out(driver_client, priced):
    for url in (reverse("payments:methods_page"), reverse("disputes:list"),
                reverse("disputes:new") + f"?session={priced.pk}", reverse("portal:tokens")):
        page = driver_client.get(url).content.decode()
        assert 'aria-label="Portal"' in page and f'action="{reverse("logout")}"' in page, url


def test_sign_out_by_post_and_a_get_asks_instead_of_405(driver_client):
    page = driver_client.get(reverse("logout"))
    assert page.status_code == 200 and "Sign out" in page.content.decode()
    assert driver_client.get(reverse("portal:dashboard")).status_code == 200  # a GET signs nobody out
    assert driver_client.post(reverse("logout"))["Location"] == reverse("login")
    assert driver_client.get(reverse("portal:dashboard"))["Location"].startswith(reverse("login"))


def test_password_reset_pages_are_the_products_own(client, driver):
    login = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login
    for url in (reverse("password_reset"), reverse("password_reset_done"), reverse("password_reset_complete")):
        page = client.get(url).content.decode()
        assert "Django administration" not in page and "<strong>evbilling</strong>" in page, url
    client.post(reverse("password_reset"), {"email": driver.email})
    bad = client.get(reverse("password_reset_confirm", args=["x", "set-password"])).content.decode()
    assert "This link does not work any more" in bad


def test_a_wrong_role_visit_gets_a_friendly_403(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    assert "This page is not for your account" in response.content.decode()


def test_the_driver_picks_german_and_it_is_stored_for_every_device(client, driver, priced):
    client.force_login(driver)
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("portal:dashboard")})
    assert response["Location"] == reverse("portal:dashboard")
    driver.refresh_from_db()
    assert driver.language == "de"
    other_device = Client()  # no language cookie, an English browser: the stored choice wins
    other_device.force_login(driver)
    page = other_device.get(reverse("portal:session", args=[priced.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="de">' in page
    for german in ("Ladevorgänge", "Abmelden", "Warum es 5,11\xa0€ kostet", "Zusammenfassung", "Energie"):
        assert german in page, german
    assert "Why it costs" not in page and "Sign out" not in page
    assert client.post(reverse("set_language"), {"language": "xx"}).status_code == 302
    driver.refresh_from_db()
    assert driver.language == "de"  # an unknown language changes nothing


def test_anonymous_pages_follow_the_browser(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    assert '<html lang="de">' in page and "Passwort vergessen?" in page and "Anmelden" in page
    assert '<html lang="en">' in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
