"""Fixtures of the disputes tests: a completed, priced session of the `driver`, support staff for
its operator and for another one, and a clock (`T0`) the tests pass into the services."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app.settlement import services as billing_services
from disputes_app import services
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPENED = T0 + timedelta(hours=2)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def tariff(operator):
    return factories.energy_tariff(operator, price="0.39", vat="19")


@pytest.fixture
def session(connector, id_token, tariff):
    """11 kWh in an hour, then half an hour idle; priced (4.29 + 19 % VAT = 5.11 EUR)."""
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                             meter_start_wh=Decimal(1000), transaction_ref="tx-dispute")
    energy, samples = session.meter_start_wh, []
    for quarter in range(1, 5):
        energy += Decimal(2750)
        samples.append(SampleIn(T0 + timedelta(minutes=15 * quarter), energy, Decimal(11000), Decimal(16)))
    samples.append(SampleIn(T0 + timedelta(minutes=75), energy, Decimal(0), Decimal(0)))
    session_services.session_record_samples(session=session, samples=samples)
    session = session_services.session_stop(session=session, stopped_at=T0 + timedelta(minutes=90),
                                            meter_stop_wh=energy)
    billing_services.session_settle(session_id=session.pk)
    return session


@pytest.fixture
def support(operator):
    user = factories.SupportFactory(username="sam-support")
    user.supported_operators.add(operator)
    return user


@pytest.fixture
def other_support(other_operator):
    user = factories.SupportFactory(username="olga-support")
    user.supported_operators.add(other_operator)
    return user


@pytest.fixture
def other_driver(operator):
    return factories.DriverFactory(operator=operator, username="dora-other")


@pytest.fixture
def ticket(session, driver):
    return services.ticket_open(by=driver, session=session, reason="wrong_amount",
                                description="I was charged for 11 kWh but my car shows 9.", now=OPENED)


def move(ticket, *statuses, by, now=OPENED):
    for status in statuses:
        ticket = services.ticket_transition(ticket=ticket, to_status=status, by=by, now=now)
    return ticket
