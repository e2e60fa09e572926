"""The public price API (AFIR Art. 20's dynamic data): per connector and per location, the ad hoc price
components incl. VAT with their rates, and the status. No sign-in; it shows only what the QR page shows."""
from __future__ import annotations

from django.http import Http404, JsonResponse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from evbilling.errors import NotFoundError
from guests_app import prices, services
from guests_app.qr import connector_path
from sessions_app.models import Connector, Location


def connector_data(connector: Connector, *, language: str) -> dict:
    price = prices.connector_price(connector, language=language)
    return {
        "station": connector.station.ocpp_identity, "connector": connector.number,
        "standard": connector.standard, "power_type": connector.power_type,
        "max_power_kw": str(connector.max_power_kw), "status": prices.connector_status(connector),
        "page": connector_path(connector), "price": price.as_dict() if price else None,
    }


def _language() -> str:
    return (get_language() or "en").split("-")[0]


@require_GET
def connector_price(request, identity: str, number: int):
    try:
        connector = services.connector_public(identity, number)
    except NotFoundError as error:
        return JsonResponse({"error": {"status": 404, "code": "not_found", "message": error.message}}, status=404)
    return JsonResponse(connector_data(connector, language=_language()))


@require_GET
def location_prices(request, location_id: int):
    location = Location.objects.select_related("operator").filter(pk=location_id).first()
    if location is None:
        raise Http404("No such location.")
    connectors = Connector.objects.filter(station__location=location).select_related(
        "station__location__operator").order_by("station__ocpp_identity", "number")
    return JsonResponse({
        "location": {"id": location.pk, "name": location.name, "address": location.address,
                     "postal_code": location.postal_code, "city": location.city, "country": location.country,
                     "time_zone": location.time_zone, "latitude": str(location.latitude),
                     "longitude": str(location.longitude), "operator": location.operator.name},
        "connectors": [connector_data(c, language=_language()) for c in connectors],
    })
