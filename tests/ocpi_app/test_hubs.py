"""Hubs: a hub partner pushes the ClientInfo of the parties behind it; their tokens come through the hub under
their own party, and what we send for them is addressed to them in the routing headers."""
from __future__ import annotations

import pytest

from ocpi_app.models import HubClient, Partner, PartnerToken
from ocpi_app.push import routing_headers
from ocpi_app.sessions import session_push
from sessions_app.models import IdToken
from sessions_app.services import session_start
from tests.ocpi_app.conftest import auth_header, registered_partner
from tests.ocpi_app.test_tokens_sessions_cdrs import T0, put_token, token_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub(operator, cpo_party):
    row, token = registered_partner(operator, name="Hubject-like", country_code="DE", party_id="HUB")
    Partner.objects.filter(pk=row.pk).update(role=Partner.Role.HUB)
    row.refresh_from_db()
    return row, token


def client_info(status="CONNECTED", last_updated="2026-03-01T00:00:00Z", party_id="EXW"):
    return {"country_code": "NL", "party_id": party_id, "role": "EMSP", "status": status,
            "last_updated": last_updated}


def put_info(client, token, body):
    return client.put(f"/ocpi/2.2.1/hubclientinfo/{body['country_code']}/{body['party_id']}", body,
                      content_type="application/json", **auth_header(token))


def test_a_hub_pushes_client_info_and_its_clients_tokens_come_through_it(client, hub, connector):
    assert put_info(client, hub[1], client_info()).status_code == 201
    assert client.get("/ocpi/2.2.1/hubclientinfo/NL/EXW", **auth_header(hub[1])).json()["data"]["status"] == (
        "CONNECTED")
    assert put_token(client, hub[1], token_body(country_code="NL", party_id="EXW")).status_code == 201
    assert put_token(client, hub[1], token_body(uid="04OTHER", party_id="ZZZ")).status_code == 404  # not its client
    # an older ClientInfo changes nothing; suspension closes the door
    assert put_info(client, hub[1], client_info(status="SUSPENDED", last_updated="2025-01-01T00:00:00Z")
                    ).status_code == 400
    assert put_info(client, hub[1], client_info(status="SUSPENDED", last_updated="2026-03-02T00:00:00Z")
                    ).status_code == 200
    assert put_token(client, hub[1], token_body(uid="04LATE", party_id="EXW")).status_code == 404
    assert HubClient.objects.get().status == "SUSPENDED"


def test_sessions_of_a_hub_client_are_addressed_to_it(client, hub, connector, django_capture_on_commit_callbacks):
    put_info(client, hub[1], client_info())
    put_token(client, hub[1], token_body(country_code="NL", party_id="EXW"))
    session = session_start(connector=connector, started_at=T0, meter_start_wh=0, transaction_ref="h1",
                            id_token=IdToken.objects.get(uid="04ABCDEF"))
    session_push(session.pk)
    push = hub[0].pushes.get(module="sessions")
    assert push.to_party == "NL*EXW"
    assert routing_headers(hub[0], push.to_party) == {
        "OCPI-to-country-code": "NL", "OCPI-to-party-id": "EXW", "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "VOL"}
    data = client.get("/ocpi/2.2.1/sessions", **auth_header(hub[1])).json()["data"]
    assert data[0]["cdr_token"]["party_id"] == "EXW"
    assert PartnerToken.objects.get().partner == hub[0]


def test_only_hubs_push_client_info(client, partner):
    response = put_info(client, partner[1], client_info())
    assert (response.status_code, response.json()["status_code"]) == (405, 2000)
    assert not HubClient.objects.exists()


@pytest.mark.parametrize("change", [{"status": "ASLEEP"}, {"role": "KING"}, {"last_updated": "later"},
                                    {"party_id": "XYZ"}])
def test_bad_client_info_is_2001(client, hub, change):
    body = {**client_info(), **change}
    response = client.put("/ocpi/2.2.1/hubclientinfo/NL/EXW", body, content_type="application/json",
                          **auth_header(hub[1]))
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    assert not HubClient.objects.exists()
