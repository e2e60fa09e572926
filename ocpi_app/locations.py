"""Our locations as OCPI 2.2.1 Location objects (mod_locations), and which ones a partner sees.

One EVSE per connector (an OCPP 1.6 connector is what a driver plugs into and what a session runs on):
EVSE uid `<charger identity>-<connector number>`, EVSE id `<country>*<party>*E<identity>*<number>`, one OCPI
connector with id `<number>`; the same ids the CDR carries (`billing_app.tariffs.cdr.cdr_for_charge`). The
EVSE status is the connector's OCPP status mapped to OCPI's. `last_updated` is the location's
`LocationVersion` (touched by every change of the location, its chargers, connectors and statuses).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import DateTimeField, F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing_app.pricing import ocpi
from billing_app.tariffs.cdr import country_alpha3
from sessions_app.models import Connector, Location

from .models import CpoParty, LocationVersion, Partner, PartnerTariff

#: OCPP connector status -> OCPI EVSE status.
EVSE_STATUS = {
    "Available": "AVAILABLE", "Preparing": "CHARGING", "Charging": "CHARGING", "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING", "Finishing": "CHARGING", "Occupied": "CHARGING", "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER",
}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def location_touch(location_id: int, *, at: datetime | None = None) -> None:
    """Mark the location changed now (its OCPI last_updated)."""
    LocationVersion.objects.update_or_create(location_id=location_id, defaults={"last_updated": at or timezone.now()})


def partner_locations(partner: Partner) -> QuerySet:
    """The partner's operator's locations, with `last_updated` annotated (never another operator's)."""
    return (Location.objects.filter(operator_id=partner.operator_id)
            .annotate(last_updated=Coalesce(F("ocpi_version__last_updated"), Value(_EPOCH),
                                            output_field=DateTimeField()))
            .prefetch_related("stations__connectors"))


def partner_tariff_ids(partner: Partner) -> list[str]:
    return list(PartnerTariff.objects.filter(partner=partner).order_by("tariff__ocpi_id")
                .values_list("tariff__ocpi_id", flat=True))


def evse_uid(connector: Connector) -> str:
    return f"{connector.station.ocpp_identity}-{connector.number}"


def connector_to_ocpi(connector: Connector, *, last_updated: datetime, tariff_ids: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(connector.number),
        "standard": connector.standard,
        "format": "CABLE" if connector.power_type == Connector.PowerType.DC else "SOCKET",
        "power_type": connector.power_type,
        "max_voltage": 400 if connector.power_type != Connector.PowerType.AC_1_PHASE else 230,
        "max_amperage": int(connector.max_power_kw * 1000 / (400 if connector.power_type == "DC" else 690)) or 1,
        "max_electric_power": int(connector.max_power_kw * 1000),
        "last_updated": ocpi.format_datetime_seconds(last_updated),
    }
    if tariff_ids:
        data["tariff_ids"] = tariff_ids
    return data


def evse_to_ocpi(connector: Connector, party: CpoParty, *, last_updated: datetime,
                 tariff_ids: list[str]) -> dict[str, Any]:
    station = connector.station
    return {
        "uid": evse_uid(connector),
        "evse_id": f"{station.location.country}*{party.party_id}*E{station.ocpp_identity}*{connector.number}",
        "status": EVSE_STATUS.get(connector.status, "UNKNOWN"),
        "capabilities": ["REMOTE_START_STOP_CAPABLE", "RFID_READER"],
        "connectors": [connector_to_ocpi(connector, last_updated=last_updated, tariff_ids=tariff_ids)],
        "last_updated": ocpi.format_datetime_seconds(last_updated),
    }


def location_to_ocpi(location: Location, party: CpoParty, *, tariff_ids: list[str],
                     last_updated: datetime | None = None) -> dict[str, Any]:
    last_updated = last_updated or getattr(location, "last_updated", None) or _EPOCH
    evses = [evse_to_ocpi(connector, party, last_updated=last_updated, tariff_ids=tariff_ids)
             for station in location.stations.all() for connector in station.connectors.all()]
    return {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "id": str(location.pk),
        "publish": True,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "country": country_alpha3(location.country),
        "coordinates": {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"},
        "evses": evses,
        "operator": {"name": party.business_name or location.operator.legal_name},
        "time_zone": location.time_zone,
        "last_updated": ocpi.format_datetime_seconds(last_updated),
    }
