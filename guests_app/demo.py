"""Guest charging in the demo: Voltara's AD_HOC_PAYMENT tariff (demo_tariffs/voltara-ad-hoc.json) as its
operator default for guests, and the demo connector whose QR code `make run` prints."""
from __future__ import annotations

from pathlib import Path

from billing_app.models import TariffAssignment
from billing_app.pricing.ocpi import loads
from billing_app.tariffs.services import tariff_import_ocpi
from sessions_app.models import Connector, Operator

TARIFF_FILE = Path(__file__).resolve().parent / "demo_tariffs" / "voltara-ad-hoc.json"
DEMO_OPERATOR = "Voltara Charging"


def load_guest_tariff() -> bool:
    """Import the ad hoc tariff once and make it the operator's default for guests; True when it was added."""
    operator = Operator.objects.filter(name=DEMO_OPERATOR).first()
    if operator is None:
        return False
    data = loads(TARIFF_FILE.read_text())
    if operator.tariffs.filter(ocpi_id=data["id"]).exists():
        return False
    tariff = tariff_import_ocpi(operator=operator, data=data)
    TariffAssignment.objects.get_or_create(tariff=tariff, driver_group=None, location=None, station=None,
                                           connector=None)
    return True


def demo_connector() -> Connector | None:
    """The demo's guest connector: the first AC connector (an OCPP 1.6 charger) of the demo operator at a site
    without calibration law (Berlin's sessions need signed meter values, which the guest charger does not send:
    they would wait for review)."""
    return (Connector.objects.filter(station__location__operator__name=DEMO_OPERATOR, power_type__startswith="AC",
                                     station__location__calibration_law=False)
            .select_related("station__location").order_by("station__ocpp_identity", "number").first())
