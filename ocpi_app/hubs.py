"""Hubs (mod_hub_client_info and the routing headers of transport_and_format): a partner with the role HUB
stands for the parties connected to it. It pushes their ClientInfo to us (`client_info_store`); tokens and
commands of those parties arrive through it under their own country code and party id, and what we send for
them (sessions, CDRs) carries their party in the `OCPI-to-*` headers."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from billing_app.pricing import ocpi

from . import envelope
from .envelope import OcpiError
from .models import HubClient, Partner

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


def party_reachable_through(partner: Partner, country_code: str, party_id: str) -> bool:
    """May `partner` act for the party? Its own party always; a hub also for its clients not suspended."""
    key = (country_code.upper(), party_id.upper())
    if key == (partner.country_code, partner.party_id):
        return True
    return partner.role == Partner.Role.HUB and HubClient.objects.filter(
        hub=partner, country_code=key[0], party_id=key[1]).exclude(status=HubClient.Status.SUSPENDED).exists()


def _require_hub(partner: Partner) -> None:
    if partner.role != Partner.Role.HUB:
        raise envelope.method_not_allowed("Only a hub pushes ClientInfo.")


def client_info_get(*, partner: Partner, country_code: str, party_id: str) -> dict[str, Any]:
    _require_hub(partner)
    client = HubClient.objects.filter(hub=partner, country_code=country_code.upper(), party_id=party_id.upper()).first()
    if client is None:
        raise envelope.not_found("Unknown client of this hub.")
    return {"country_code": client.country_code, "party_id": client.party_id, "role": client.role,
            "status": client.status, "last_updated": ocpi.format_datetime_seconds(client.last_updated)}


@transaction.atomic
def client_info_store(*, partner: Partner, country_code: str, party_id: str, data: dict[str, Any]) -> bool:
    """PUT ClientInfo from a hub; an older `last_updated` than stored changes nothing. True when new."""
    _require_hub(partner)
    if (str(data.get("country_code", "")).upper(), str(data.get("party_id", "")).upper()) != (
            country_code.upper(), party_id.upper()):
        raise OcpiError("The ClientInfo in the body is not the one the URL names.")
    if len(country_code) != 2 or len(party_id) != 3:
        raise OcpiError("country_code (2) and party_id (3 characters) are required.")
    if data.get("role") not in ROLES:
        raise OcpiError(f"role: one of {', '.join(ROLES)} is required.")
    if data.get("status") not in HubClient.Status.values:
        raise OcpiError(f"status: one of {', '.join(HubClient.Status.values)} is required.")
    try:
        last_updated = ocpi.parse_datetime(data.get("last_updated"), "last_updated")
    except ocpi.OcpiError as error:
        raise OcpiError(str(error)) from None
    client = (HubClient.objects.select_for_update()
              .filter(hub=partner, country_code=country_code.upper(), party_id=party_id.upper()).first())
    if client is not None and last_updated < client.last_updated:
        raise OcpiError("last_updated is older than the ClientInfo we hold; nothing changed.")
    client = client or HubClient(hub=partner, country_code=country_code.upper(), party_id=party_id.upper())
    created = client.pk is None
    client.role, client.status, client.last_updated = data["role"], data["status"], last_updated
    client.save()
    return created
