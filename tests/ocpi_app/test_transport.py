"""Conformance of the transport layer (transport_and_format, status_codes, version_information_endpoint):
the envelope on every answer, 401 with the OCPI body, request ids, token A limits, base64 tokens."""
from __future__ import annotations

import base64

import pytest

from ocpi_app.credentials import partner_token_a_issue
from ocpi_app.models import Partner
from tests.ocpi_app.conftest import auth_header

pytestmark = pytest.mark.django_db

EMSP_ROLE = {"role": "EMSP", "party_id": "ABC", "country_code": "NL", "business_details": {"name": "x"}}


def assert_envelope(response, *, http_status: int, status_code: int) -> dict:
    assert response.status_code == http_status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status_code"] == status_code
    assert body["timestamp"].endswith("Z")
    assert "status_message" in body
    return body


def test_versions_list_the_2_2_1_details_url(client, partner, settings):
    settings.OCPI_BASE_URL = "https://cpo.example.com"
    _, token = partner
    body = assert_envelope(client.get("/ocpi/versions", **auth_header(token)), http_status=200, status_code=1000)
    assert body["data"] == [{"version": "2.2.1", "url": "https://cpo.example.com/ocpi/2.2.1"}]


def test_version_details_list_every_module_with_its_role(client, partner):
    _, token = partner
    body = assert_envelope(client.get("/ocpi/2.2.1/", **auth_header(token)), http_status=200, status_code=1000)
    assert body["data"]["version"] == "2.2.1"
    assert {"identifier": "credentials", "role": "SENDER"} in [
        {k: e[k] for k in ("identifier", "role")} for e in body["data"]["endpoints"]]
    assert all(e["url"].endswith(f"/ocpi/2.2.1/{e['identifier']}") for e in body["data"]["endpoints"])


@pytest.mark.parametrize("header", [None, "", "Token", "Bearer abc", "Token not-a-known-token", "Token a b"])
def test_missing_or_unknown_token_is_401_with_the_ocpi_body(client, partner, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    body = assert_envelope(client.get("/ocpi/versions", **extra), http_status=401, status_code=2000)
    assert "token" in body["status_message"].lower()


def test_the_token_is_accepted_base64_encoded_and_as_it_stands(client, partner):
    _, token = partner
    assert client.get("/ocpi/versions", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    encoded = base64.b64encode(token.encode()).decode()
    assert client.get("/ocpi/versions", HTTP_AUTHORIZATION=f"token {encoded}").status_code == 200


def test_request_and_correlation_ids_are_echoed_or_made_up(client, partner):
    _, token = partner
    response = client.get("/ocpi/versions", HTTP_X_REQUEST_ID="req-1", HTTP_X_CORRELATION_ID="corr-1",
                          **auth_header(token))
    assert (response["X-Request-ID"], response["X-Correlation-ID"]) == ("req-1", "corr-1")
    response = client.get("/ocpi/versions", **auth_header(token))
    assert len(response["X-Request-ID"]) >= 32 and len(response["X-Correlation-ID"]) == 36
    assert client.get("/ocpi/versions").has_header("X-Request-ID")  # on errors too


def test_token_a_reaches_versions_and_credentials_only(client, operator, cpo_party):
    _, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    assert client.get("/ocpi/versions", **auth_header(token_a)).status_code == 200
    assert client.get("/ocpi/2.2.1", **auth_header(token_a)).status_code == 200
    # GET credentials before registering: 405 (not registered), never the token
    assert_envelope(client.get("/ocpi/2.2.1/credentials", **auth_header(token_a)), http_status=405, status_code=2000)
    assert_envelope(client.delete("/ocpi/2.2.1/credentials", **auth_header(token_a)), http_status=405,
                    status_code=2000)


def test_the_token_a_is_stored_only_hashed(operator, cpo_party):
    partner, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    stored = Partner.objects.get(pk=partner.pk)
    assert token_a not in (stored.token_hash, stored.token_theirs) and len(stored.token_hash) == 64


def test_a_method_the_module_lacks_is_405_in_the_envelope(client, partner):
    _, token = partner
    assert_envelope(client.post("/ocpi/versions", **auth_header(token)), http_status=405, status_code=2000)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"NaN", b"\xff\xfe"])
def test_malformed_credentials_bodies_are_400_with_2001(client, operator, cpo_party, body):
    _, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    response = client.post("/ocpi/2.2.1/credentials", body, content_type="application/json", **auth_header(token_a))
    assert_envelope(response, http_status=400, status_code=2001)
    assert Partner.objects.get(name="New eMSP").status == Partner.Status.PENDING


@pytest.mark.parametrize("credentials, field", [
    ({}, "token"),
    ({"token": "x" * 65, "url": "https://e.example/versions", "roles": []}, "token"),
    ({"token": "abc", "url": "ftp://e.example", "roles": []}, "url"),
    ({"token": "abc", "url": "https://e.example/versions", "roles": []}, "roles"),
    ({"token": "abc", "url": "https://e.example/versions", "roles": [{"role": "EMSP"}]}, "party_id"),
    ({"token": "abc", "url": "https://e.example/versions",
      "roles": [{"role": "WIZARD", "party_id": "ABC", "country_code": "NL", "business_details": {"name": "x"}}]},
     "role"),
    ({"token": 12, "url": "https://e.example/versions", "roles": []}, "token"),
])
def test_invalid_credentials_name_the_field_and_change_nothing(client, operator, cpo_party, credentials, field):
    _, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    response = client.post("/ocpi/2.2.1/credentials", credentials, content_type="application/json",
                           **auth_header(token_a))
    body = assert_envelope(response, http_status=400, status_code=2001)
    assert field in body["status_message"]
    partner = Partner.objects.get(name="New eMSP")
    assert (partner.status, partner.token_kind, partner.token_theirs) == (Partner.Status.PENDING, "A", "")


def test_an_unreachable_partner_at_registration_is_3001(client, operator, cpo_party, settings):
    settings.OCPI_ALLOW_PRIVATE_HOSTS = True
    _, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    credentials = {"token": "their-b", "url": "http://127.0.0.1:9/versions",
                   "roles": [EMSP_ROLE]}
    response = client.post("/ocpi/2.2.1/credentials", credentials, content_type="application/json",
                           **auth_header(token_a))
    assert_envelope(response, http_status=400, status_code=3001)
    assert Partner.objects.get(name="New eMSP").status == Partner.Status.PENDING


def test_partner_urls_on_private_networks_are_refused_in_production(client, operator, cpo_party, settings):
    settings.OCPI_ALLOW_PRIVATE_HOSTS = False
    _, token_a = partner_token_a_issue(operator=operator, name="New eMSP")
    credentials = {"token": "their-b", "url": "http://10.0.0.7/versions",
                   "roles": [EMSP_ROLE]}
    response = client.post("/ocpi/2.2.1/credentials", credentials, content_type="application/json",
                           **auth_header(token_a))
    body = assert_envelope(response, http_status=400, status_code=3001)
    assert "not a public address" in body["status_message"]


def test_an_unregistered_partner_token_is_401(client, partner):
    row, token = partner
    assert client.delete("/ocpi/2.2.1/credentials", **auth_header(token)).status_code == 200
    assert_envelope(client.get("/ocpi/versions", **auth_header(token)), http_status=401, status_code=2000)
    row.refresh_from_db()
    assert (row.status, row.token_hash, row.token_theirs) == (Partner.Status.UNREGISTERED, None, "")


def test_get_credentials_gives_our_party_and_the_callers_own_token(client, partner):
    _, token = partner
    body = assert_envelope(client.get("/ocpi/2.2.1/credentials", **auth_header(token)), http_status=200,
                           status_code=1000)
    assert body["data"]["token"] == token
    assert body["data"]["roles"] == [{"role": "CPO", "party_id": "VOL", "country_code": "DE",
                                      "business_details": {"name": "Voltara GmbH"}}]


def test_posting_credentials_when_registered_is_405(client, partner):
    _, token = partner
    response = client.post("/ocpi/2.2.1/credentials", {"token": "x"}, content_type="application/json",
                           **auth_header(token))
    assert_envelope(response, http_status=405, status_code=2000)


def test_token_a_command_prints_a_token_that_works(client, operator, cpo_party, capsys):
    from django.core.management import call_command

    call_command("ocpi_token_a", "--name", "CLI eMSP")
    token = capsys.readouterr().out.strip()
    assert client.get("/ocpi/versions", **auth_header(token)).status_code == 200
