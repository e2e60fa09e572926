"""The charger simulator drives real sessions through the gateway."""
import asyncio

import pytest

from sessions_app.models import ChargingSession, Connector
from sessions_app.ocpp.simulator import SimStation, simulate
from tests import factories
from tests.factories import STATION_PASSWORD
from tests.sessions_app.ocpp_chargers import gateway

pytestmark = pytest.mark.django_db(transaction=True)


def test_simulated_ac_and_dc_chargers_complete_their_sessions(operator, id_token):
    ac = factories.ConnectorFactory(station__location__operator=operator).station
    dc = factories.ConnectorFactory(station__location__operator=operator, power_type=Connector.PowerType.DC,
                                    max_power_kw=150).station
    stations = [
        SimStation(ac.ocpp_identity, STATION_PASSWORD, [1], dc=False, max_kw=22, tokens=[id_token.uid]),
        SimStation(dc.ocpp_identity, STATION_PASSWORD, [1], dc=True, max_kw=150, tokens=[id_token.uid]),
    ]

    async def main():
        async with gateway() as gw:
            return await simulate(stations, f"ws://127.0.0.1:{gw.port}", sessions=2, speed=1e9, seed=7)

    assert asyncio.run(main()) == 4
    sessions = ChargingSession.objects.all()
    assert sessions.count() == 4
    assert all(s.state == ChargingSession.State.COMPLETED and s.energy_wh > 0 and s.samples.count() > 2
               for s in sessions)
    assert {s.connector.station.ocpp_version for s in sessions} == {"1.6", "2.0.1"}
