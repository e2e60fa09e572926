"""Tariffs module, Sender interface (mod_tariffs): the tariffs the operator shows this partner, paginated."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from billing_app.models import Tariff
from billing_app.tariffs.services import tariff_to_ocpi

from ..endpoint import ocpi_view
from ..pagination import paginated


@ocpi_view(methods=("GET",))
def tariff_list(request: HttpRequest) -> HttpResponse:
    partner = request.ocpi_partner
    tariffs = (Tariff.objects.filter(operator_id=partner.operator_id, ocpi_partner_links__partner=partner)
               .prefetch_related("alt_texts", "elements__price_components"))
    return paginated(request, tariffs, serialize=tariff_to_ocpi)
