"""factory_boy factories for the whole suite."""
from datetime import UTC, datetime
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password

from sessions_app.models import (
    ChargingSession,
    ChargingStation,
    Company,
    Connector,
    DriverProfile,
    IdToken,
    Location,
    Operator,
    User,
)

STATION_PASSWORD = "station-password-123"


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator

    name = factory.Sequence(lambda n: f"Operator {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} GmbH")
    vat_id = factory.Sequence(lambda n: f"DE{100000000 + n}")
    country = "DE"
    default_currency = "EUR"
    invoice_prefix = factory.Sequence(lambda n: f"OP{n}")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    operator = factory.SubFactory(OperatorFactory)
    legal_name = factory.Sequence(lambda n: f"Company {n} GmbH")
    address = "Fleet Street 1"
    postal_code = "10115"
    city = "Berlin"
    country = "DE"
    billing_email = factory.Sequence(lambda n: f"ap{n}@company.example")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    operator = factory.SubFactory(OperatorFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    address = "Main Street 1"
    postal_code = "10115"
    city = "Berlin"
    country = "DE"
    time_zone = "Europe/Berlin"
    latitude = Decimal("52.52")
    longitude = Decimal("13.40")


class ChargingStationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingStation

    location = factory.SubFactory(LocationFactory)
    ocpp_identity = factory.Sequence(lambda n: f"CS-{n:04d}")
    vendor = "ABB"
    model = "Terra AC"
    password_hash = factory.LazyFunction(lambda: make_password(STATION_PASSWORD))


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    station = factory.SubFactory(ChargingStationFactory)
    number = 1
    standard = Connector.Standard.TYPE2
    power_type = Connector.PowerType.AC_3_PHASE
    max_power_kw = Decimal("22")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class DriverFactory(UserFactory):
    role = User.Role.DRIVER
    operator = factory.SubFactory(OperatorFactory)
    profile = factory.RelatedFactory(
        "tests.factories.DriverProfileFactory", factory_related_name="user"
    )


class DriverProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DriverProfile

    user = factory.SubFactory(DriverFactory, profile=None)
    full_name = factory.LazyAttribute(lambda p: p.user.username.title())
    country = "DE"


class OperatorStaffFactory(UserFactory):
    role = User.Role.OPERATOR_STAFF
    operator = factory.SubFactory(OperatorFactory)
    is_staff = True


class FleetManagerFactory(UserFactory):
    role = User.Role.FLEET_MANAGER
    company = factory.SubFactory(CompanyFactory)
    operator = factory.LazyAttribute(lambda u: u.company.operator)


class SupportFactory(UserFactory):
    role = User.Role.SUPPORT
    is_staff = True


class IdTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdToken

    operator = factory.SubFactory(OperatorFactory)
    driver = factory.SubFactory(DriverFactory, operator=factory.SelfAttribute("..operator"))
    uid = factory.Sequence(lambda n: f"04AA{n:08X}")


class ChargingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingSession

    connector = factory.SubFactory(ConnectorFactory)
    operator = factory.LazyAttribute(lambda s: s.connector.station.location.operator)
    id_token = factory.SubFactory(IdTokenFactory, operator=factory.SelfAttribute("..operator"))
    driver = factory.LazyAttribute(lambda s: s.id_token.driver if s.id_token else None)
    transaction_ref = factory.Sequence(lambda n: f"tx-{n}")
    started_at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    meter_start_wh = Decimal("1000")


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing_app.Tariff"

    operator = factory.SubFactory(OperatorFactory)
    ocpi_id = factory.Sequence(lambda n: f"TARIFF-{n}")
    country_code = "DE"
    party_id = "VOL"
    name = factory.Sequence(lambda n: f"Tariff {n}")
    currency = "EUR"


class TariffElementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing_app.TariffElement"

    tariff = factory.SubFactory(TariffFactory)
    position = 0


class PriceComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing_app.PriceComponent"

    element = factory.SubFactory(TariffElementFactory)
    type = "ENERGY"
    price = Decimal("0.39")
    vat = Decimal("19")
    step_size = 1


def energy_tariff(operator, *, price="0.39", vat="19", **tariff_fields):
    """A one-element energy tariff assigned as the operator's default."""
    from billing_app.models import TariffAssignment

    tariff = TariffFactory(operator=operator, **tariff_fields)
    PriceComponentFactory(element__tariff=tariff, price=Decimal(price), vat=Decimal(vat) if vat else None)
    TariffAssignment.objects.create(tariff=tariff)
    return tariff
