"""The credentials handshake both ways between our live server and an eMSP we did not write
(extrawest-ocpi in its own virtual environment, tests/ocpi_app/peer/emsp.py), over real HTTP."""
from __future__ import annotations

import pytest
import requests

from ocpi_app import credentials
from ocpi_app.credentials import partner_token_a_issue
from ocpi_app.models import Partner

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("ocpi_peer")]  # one peer


def test_the_peer_registers_with_us_using_our_token_a(ocpi_peer, live_ocpi, operator, cpo_party):
    _, token_a = partner_token_a_issue(operator=operator, name="Extrawest")
    answer = ocpi_peer.control("register", {"url": f"{live_ocpi.url}/ocpi/versions", "token": token_a})
    assert (answer["http_status"], answer["reply"]["status_code"]) == (200, 1000), answer
    assert answer["reply"]["data"]["roles"][0]["party_id"] == "VOL"

    partner = Partner.objects.get(name="Extrawest")
    assert (partner.status, partner.country_code, partner.party_id, partner.role) == ("registered", "NL", "EXW", "EMSP")
    assert partner.endpoint_url("locations") .rstrip("/") == f"{ocpi_peer.url}/ocpi/emsp/2.2.1/locations"
    # token C works (the peer reads our credentials with it), token A no longer does
    reply = ocpi_peer.control("call", {"module": "credentials"})
    assert (reply["http_status"], reply["reply"]["status_code"]) == (200, 1000)
    reply = ocpi_peer.control("call", {"module": "credentials", "token": token_a})
    assert reply["http_status"] == 401
    # a second POST with token C: 405, nothing changed
    reply = ocpi_peer.control("call", {"module": "credentials", "method": "POST", "json": {"token": "x"}})
    assert reply["http_status"] == 405


def test_we_register_with_the_peer_renew_and_unregister(ocpi_peer, live_ocpi, operator, cpo_party):
    partner = credentials.partner_register_outgoing(operator=operator, name="Extrawest out",
                                                    versions_url=ocpi_peer.versions_url, token_a=ocpi_peer.token_a)
    assert (partner.status, partner.party_id, partner.token_kind) == ("registered", "EXW", "B")
    assert ocpi_peer.control("store")["registered"]
    # the peer calls us with the token B we sent it
    reply = ocpi_peer.control("call", {"module": "credentials"})
    assert (reply["http_status"], reply["reply"]["data"]["token"]) == (200, reply["reply"]["data"]["token"])
    token_b = reply["reply"]["data"]["token"]

    credentials.partner_update_outgoing(partner=partner)
    assert ocpi_peer.control("call", {"module": "credentials", "token": token_b})["http_status"] == 401
    reply = ocpi_peer.control("call", {"module": "credentials"})
    assert reply["http_status"] == 200 and reply["reply"]["data"]["token"] != token_b
    renewed = reply["reply"]["data"]["token"]

    credentials.partner_unregister_outgoing(partner=partner)
    partner.refresh_from_db()
    assert (partner.status, partner.token_hash, partner.token_theirs) == ("unregistered", None, "")
    assert not ocpi_peer.control("store")["registered"]  # the peer got our DELETE
    answer = requests.get(f"{live_ocpi.url}/ocpi/2.2.1/credentials", headers={"Authorization": f"Token {renewed}"},
                          timeout=10)
    assert (answer.status_code, answer.json()["status_code"]) == (401, 2000)


def test_registering_with_a_wrong_token_a_leaves_nothing_usable(ocpi_peer, live_ocpi, operator, cpo_party):
    with pytest.raises(credentials.CredentialsError, match="Registration with Bad failed"):
        credentials.partner_register_outgoing(operator=operator, name="Bad", versions_url=ocpi_peer.versions_url,
                                              token_a="not-the-token")
    partner = Partner.objects.get(name="Bad")
    assert (partner.status, partner.token_hash) == ("unregistered", None)
