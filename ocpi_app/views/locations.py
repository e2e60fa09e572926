"""Locations module, Sender interface (mod_locations): the list (paginated, date filters), one location,
one EVSE, one connector. A partner sees only its operator's locations; anything else is unknown (2003)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import envelope
from ..credentials import cpo_party
from ..endpoint import ocpi_view
from ..locations import location_to_ocpi, partner_locations, partner_tariff_ids
from ..pagination import paginated


def _unknown(what: str) -> envelope.OcpiError:
    return envelope.not_found(f"Unknown {what}.", status_code=envelope.UNKNOWN_LOCATION)


@ocpi_view(methods=("GET",))
def location_list(request: HttpRequest) -> HttpResponse:
    partner = request.ocpi_partner
    party, tariff_ids = cpo_party(partner.operator), partner_tariff_ids(partner)
    return paginated(request, partner_locations(partner),
                     serialize=lambda location: location_to_ocpi(location, party, tariff_ids=tariff_ids))


@ocpi_view(methods=("GET",))
def location_detail(request: HttpRequest, location_id: str, evse: str | None = None,
                    connector: str | None = None) -> HttpResponse:
    partner = request.ocpi_partner
    party, tariff_ids = cpo_party(partner.operator), partner_tariff_ids(partner)
    location = partner_locations(partner).filter(pk=int(location_id) if location_id.isdigit() else -1).first()
    if location is None:
        raise _unknown("location")
    data = location_to_ocpi(location, party, tariff_ids=tariff_ids)
    if evse is None:
        return envelope.success(data)
    found = next((e for e in data["evses"] if e["uid"] == evse), None)
    if found is None:
        raise _unknown("EVSE")
    if connector is None:
        return envelope.success(found)
    found = next((c for c in found["connectors"] if c["id"] == connector), None)
    if found is None:
        raise _unknown("connector")
    return envelope.success(found)


