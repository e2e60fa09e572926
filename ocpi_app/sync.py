"""What changed on our side, pushed to the partners that see it: locations (PUT the whole location), EVSE
statuses (PATCH), tariffs (PUT). Each function reads the current state and queues one push per partner
(`push.push_enqueue`); receivers.py calls them after the change is committed."""
from __future__ import annotations

from billing_app.models import Tariff
from billing_app.pricing import ocpi
from billing_app.tariffs.services import tariff_to_ocpi
from sessions_app.models import Connector, Location

from .locations import evse_to_ocpi, evse_uid, location_to_ocpi, location_touch, partner_tariff_ids
from .models import CpoParty, LocationVersion, Partner, PartnerTariff
from .push import push_enqueue


def _partners(operator_id: int):
    return Partner.objects.filter(operator_id=operator_id, status=Partner.Status.REGISTERED)


def location_push(location_id: int) -> int:
    """Mark the location changed and PUT it to every registered partner of its operator; returns how many."""
    location = Location.objects.filter(pk=location_id).select_related("operator").first()
    party = CpoParty.objects.filter(operator_id=location.operator_id).first() if location else None
    if party is None:  # the operator does not roam: nothing to mark or push
        return 0
    location_touch(location_id)
    location.refresh_from_db()
    queued = 0
    for partner in _partners(location.operator_id):
        body = location_to_ocpi(location, party, tariff_ids=partner_tariff_ids(partner),
                                last_updated=location.ocpi_version.last_updated)
        queued += push_enqueue(partner=partner, module="locations", object_id=body["id"], method="PUT",
                               path=f"{party.country_code}/{party.party_id}/{body['id']}", body=body) is not None
    return queued


def evse_status_push(connector_id: int) -> int:
    """PATCH the EVSE's status (and last_updated) to every registered partner of the operator."""
    connector = Connector.objects.filter(pk=connector_id).select_related("station__location").first()
    if connector is None:
        return 0
    location = connector.station.location
    party = CpoParty.objects.filter(operator_id=location.operator_id).first()
    if party is None:
        return 0
    location_touch(location.pk)
    last_updated = LocationVersion.objects.get(location=location).last_updated
    evse = evse_to_ocpi(connector, party, last_updated=last_updated, tariff_ids=[])
    body = {"status": evse["status"], "last_updated": ocpi.format_datetime_seconds(last_updated)}
    return sum(push_enqueue(partner=partner, module="locations", object_id=evse_uid(connector), method="PATCH",
                            path=f"{party.country_code}/{party.party_id}/{location.pk}/{evse_uid(connector)}",
                            body=body) is not None
               for partner in _partners(location.operator_id))


def tariff_push(tariff_id: int, *, partner_id: int | None = None) -> int:
    """PUT the tariff to the partners it is shown to (or to one of them)."""
    tariff = Tariff.objects.filter(pk=tariff_id).first()
    if tariff is None:
        return 0
    links = PartnerTariff.objects.filter(tariff=tariff, partner__status=Partner.Status.REGISTERED)
    if partner_id is not None:
        links = links.filter(partner_id=partner_id)
    body = tariff_to_ocpi(tariff)
    return sum(push_enqueue(partner=link.partner, module="tariffs", object_id=tariff.ocpi_id, method="PUT",
                            path=f"{tariff.country_code}/{tariff.party_id}/{tariff.ocpi_id}", body=body) is not None
               for link in links.select_related("partner"))


def tariff_withdraw(*, partner: Partner, tariff: Tariff) -> None:
    """DELETE a tariff the partner no longer sees."""
    push_enqueue(partner=partner, module="tariffs", object_id=tariff.ocpi_id, method="DELETE",
                 path=f"{tariff.country_code}/{tariff.party_id}/{tariff.ocpi_id}", body={})
