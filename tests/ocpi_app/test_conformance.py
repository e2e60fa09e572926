"""Every OCPI endpoint answers in the envelope: 401 with the OCPI body for a missing, unknown, token-A or
unregistered token, 405 for a method it lacks, 404 for an unknown URL; the admin shows each operator only its
partners, tokens, CDRs and commands, with revenue per partner."""
from __future__ import annotations

import pytest

from ocpi_app.credentials import partner_token_a_issue
from tests import factories
from tests.ocpi_app.conftest import auth_header
from tests.ocpi_app.test_tokens_sessions_cdrs import roaming_session  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

FUNCTIONAL = [("get", "/ocpi/2.2.1/locations"), ("get", "/ocpi/2.2.1/locations/1"), ("get", "/ocpi/2.2.1/tariffs"),
              ("get", "/ocpi/2.2.1/sessions"), ("get", "/ocpi/2.2.1/cdrs"),
              ("put", "/ocpi/2.2.1/tokens/NL/RMS/04AB"), ("post", "/ocpi/2.2.1/commands/START_SESSION")]


def _call(client, method, url, **extra):
    return getattr(client, method)(url, {} if method == "get" else "{}", **(
        {} if method == "get" else {"content_type": "application/json"}), **extra)


@pytest.mark.parametrize("method, url", FUNCTIONAL)
def test_functional_modules_refuse_missing_unknown_and_registration_tokens(client, operator, cpo_party, method, url):
    _, token_a = partner_token_a_issue(operator=operator, name="Half")
    for extra in ({}, {"HTTP_AUTHORIZATION": "Token bm9wZQ=="}, auth_header(token_a)):
        response = _call(client, method, url, **extra)
        assert response.status_code == 401, (url, extra)
        body = response.json()
        assert body["status_code"] == 2000 and body["timestamp"] and "status_message" in body


@pytest.mark.parametrize("method, url", [("post", "/ocpi/2.2.1/locations"), ("delete", "/ocpi/2.2.1/cdrs"),
                                         ("get", "/ocpi/2.2.1/commands/START_SESSION"),
                                         ("delete", "/ocpi/2.2.1/tokens/NL/RMS/04AB")])
def test_methods_a_module_lacks_are_405_in_the_envelope(client, partner, method, url):
    response = _call(client, method, url, **auth_header(partner[1]))
    assert (response.status_code, response.json()["status_code"]) == (405, 2000)


@pytest.mark.parametrize("url", ["/ocpi/", "/ocpi/2.2.1/chargingprofiles", "/ocpi/2.1.1/locations", "/ocpi/x/y/z"])
def test_unknown_urls_are_404_in_the_envelope(client, partner, url):
    response = client.get(url, **auth_header(partner[1]))
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json()["status_code"] == 2000


def test_every_answer_carries_the_routing_headers(client, partner):
    response = client.get("/ocpi/2.2.1/locations", **auth_header(partner[1]))
    assert (response["OCPI-from-country-code"], response["OCPI-from-party-id"]) == ("DE", "VOL")
    assert (response["OCPI-to-country-code"], response["OCPI-to-party-id"]) == ("NL", "RMS")


def test_the_admin_shows_revenue_per_partner_and_only_the_operators_own(client, operator, other_operator, partner,
                                                                      roaming_session):  # noqa: F811
    staff = factories.OperatorStaffFactory(operator=operator)
    client.force_login(staff)
    page = client.get("/admin/ocpi_app/partner/").content.decode()
    assert "Roam eMSP" in page and "5.00" in page and "5.95" in page
    cdrs = client.get("/admin/ocpi_app/cdrrecord/").content.decode()
    assert f"VOLT-CDR-{roaming_session.pk}" in cdrs
    export = client.post("/admin/ocpi_app/cdrrecord/", {"action": "export_csv", "_selected_action": [
        str(pk) for pk in partner[0].cdrs.values_list("pk", flat=True)]})
    assert export["Content-Type"] == "text/csv" and f"VOLT-CDR-{roaming_session.pk},cdr," in export.content.decode()

    foreign = factories.OperatorStaffFactory(operator=other_operator)
    client.force_login(foreign)
    assert "Roam eMSP" not in client.get("/admin/ocpi_app/partner/").content.decode()
    assert f"VOLT-CDR-{roaming_session.pk}" not in client.get("/admin/ocpi_app/cdrrecord/").content.decode()
    assert client.get(f"/admin/ocpi_app/partner/{partner[0].pk}/change/").status_code in (302, 404)
    assert "04ABCDEF" not in client.get("/admin/ocpi_app/partnertoken/").content.decode()


def test_the_demo_sets_up_a_registered_emsp_whose_printed_token_works(client, operator, capsys):
    from django.core.management import call_command

    from billing_app.models import Tariff
    from ocpi_app.models import PartnerToken

    factories.ConnectorFactory(station__location__operator=operator)
    factories.TariffFactory(operator=operator)
    call_command("ocpi_demo")
    call_command("ocpi_demo")  # idempotent; a new token each run
    token = capsys.readouterr().out.strip().splitlines()[-1].split("Token ")[1].split("'")[0]
    response = client.get("/ocpi/2.2.1/locations", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and len(response.json()["data"]) == 1
    assert PartnerToken.objects.get().id_token.status == "accepted"
    assert [t["id"] for t in client.get("/ocpi/2.2.1/tariffs", HTTP_AUTHORIZATION=f"Token {token}").json()[
        "data"]] == [Tariff.objects.get().ocpi_id]
