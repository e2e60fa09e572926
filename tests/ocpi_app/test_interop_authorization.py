"""Real-time authorization of roaming tokens against the extrawest-ocpi eMSP: an unknown token is put to the
partner and stored when it allows it; its refusal refuses; NEVER and ALLOWED_OFFLINE tokens follow the
partner's answer, and their whitelist when it cannot be reached."""
from __future__ import annotations

import pytest

from ocpi_app import credentials
from ocpi_app.models import PartnerToken
from ocpi_app.tokens import token_store
from sessions_app.services import token_authorize
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("ocpi_peer")]  # one peer


def emsp_token(uid, whitelist="ALLOWED_OFFLINE"):
    return {"country_code": "NL", "party_id": "EXW", "uid": uid, "type": "RFID", "contract_id": f"NL-EXW-{uid}",
            "issuer": "Extrawest", "valid": True, "whitelist": whitelist, "last_updated": "2026-03-01T00:00:00Z"}


@pytest.fixture
def partner(ocpi_peer, live_ocpi, operator, cpo_party):
    return credentials.partner_register_outgoing(operator=operator, name="Extrawest", token_a=ocpi_peer.token_a,
                                                 versions_url=ocpi_peer.versions_url)


def test_an_unknown_token_is_authorized_by_the_partner_and_stored(ocpi_peer, partner, operator):
    station = factories.ConnectorFactory(station__location__operator=operator).station
    ocpi_peer.control("emsp_token", {"token": emsp_token("04RT0001"), "allowed": "ALLOWED"})
    verdict = token_authorize(station=station, uid="04RT0001")
    assert verdict.accepted and verdict.id_token.uid.upper() == "04RT0001"  # the peer writes CiStrings in lower case
    stored = PartnerToken.objects.get(uid__iexact="04RT0001")
    assert (stored.partner, stored.whitelist) == (partner, "ALLOWED_OFFLINE")
    assert ocpi_peer.control("store")["objects"]["authorizations"]["04rt0001"]["location_id"] == str(
        station.location_id)

    ocpi_peer.control("emsp_token", {"token": emsp_token("04RT0002"), "allowed": "BLOCKED"})
    verdict = token_authorize(station=station, uid="04RT0002")
    assert (verdict.status, verdict.id_token) == ("Blocked", None)
    assert not token_authorize(station=station, uid="04NOBODY").accepted  # the partner does not know it
    assert PartnerToken.objects.count() == 1


@pytest.mark.parametrize("whitelist", ["NEVER", "ALLOWED_OFFLINE"])
def test_never_and_offline_tokens_follow_the_partner_then_their_whitelist(ocpi_peer, partner, operator, whitelist):
    station = factories.ConnectorFactory(station__location__operator=operator).station
    uid = f"04{whitelist[:5]}"
    token_store(partner=partner, country_code="NL", party_id="EXW", uid=uid, token_type="RFID",
                data=emsp_token(uid, whitelist))
    ocpi_peer.control("emsp_token", {"token": emsp_token(uid, whitelist), "allowed": "ALLOWED"})
    assert token_authorize(station=station, uid=uid).accepted
    ocpi_peer.control("emsp_token", {"token": emsp_token(uid, whitelist), "allowed": "NO_CREDIT"})
    assert token_authorize(station=station, uid=uid).status == "Blocked"
    # the partner unreachable: the whitelist decides
    partner.endpoints = [{**e, "url": "http://127.0.0.1:9/tokens"} if e["identifier"] == "tokens" else e
                         for e in partner.endpoints]
    partner.save()
    assert token_authorize(station=station, uid=uid).accepted is (whitelist == "ALLOWED_OFFLINE")
