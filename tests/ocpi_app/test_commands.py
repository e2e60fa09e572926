"""Commands (Receiver): a partner's START_SESSION, STOP_SESSION, UNLOCK_CONNECTOR, RESERVE_NOW and
CANCEL_RESERVATION reach an OCPP 1.6 charger through Redis and the gateway, and the charger's answer comes back
to the partner's response_url as the CommandResult. Scoped: another operator's location is unknown."""
from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, CancelReservationStatus, ReservationStatus, UnlockStatus

from ocpi_app.models import CommandRequest
from sessions_app.services import session_start
from tests import factories
from tests.ocpi_app.conftest import auth_header, partner_receiver
from tests.ocpi_app.test_tokens_sessions_cdrs import put_token, token_body
from tests.sessions_app.ocpp_chargers import Charger16, charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)


class RoamingCharger(Charger16):
    @on(Action.unlock_connector)
    def on_unlock(self, connector_id, **_):
        self._note("UnlockConnector", {"connector_id": connector_id})
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.reserve_now)
    def on_reserve(self, connector_id, reservation_id, id_tag, **_):
        self._note("ReserveNow", {"connector_id": connector_id, "reservation_id": reservation_id, "id_tag": id_tag})
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    @on(Action.cancel_reservation)
    def on_cancel(self, reservation_id, **_):
        self._note("CancelReservation", {"reservation_id": reservation_id})
        return call_result.CancelReservation(status=CancelReservationStatus.accepted)


@pytest.fixture
def redis_url(settings):
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis to carry remote commands")
    settings.REDIS_URL = url
    settings.OCPI_ALLOW_PRIVATE_HOSTS = True
    settings.OCPI_COMMAND_TIMEOUT = 5
    return url


@pytest.fixture
def results():
    """The partner's response_url: records each CommandResult POSTed to it."""
    received: list[tuple[str, dict]] = []
    with partner_receiver({"status_code": 1000}, received) as url:
        yield f"{url}/ocpi/emsp/2.2.1/commands", received


def _post(client, token, command, body):
    return client.post(f"/ocpi/2.2.1/commands/{command}", body, content_type="application/json", **auth_header(token))


def test_every_command_reaches_the_charger_and_its_answer_reaches_the_partner(client, partner, connector, redis_url,
                                                                              results):
    url, received = results
    station, location_id = connector.station, str(connector.station.location_id)
    evse = f"{station.ocpp_identity}-1"
    token = token_body()

    async def main():
        async with gateway(redis_url) as gw, charger(gw, station.ocpp_identity, cls=RoamingCharger) as cp:
            post = sync_to_async(_post)
            answers = [await post(client, partner[1], "START_SESSION", {
                "response_url": f"{url}/1", "token": token, "location_id": location_id, "evse_uid": evse})]
            session = await sync_to_async(session_start)(
                connector=connector, started_at=datetime.now(UTC), meter_start_wh=Decimal(0), transaction_ref="r1",
                id_token=await sync_to_async(lambda: partner[0].tokens.get().id_token)())
            answers.append(await post(client, partner[1], "STOP_SESSION",
                                      {"response_url": f"{url}/2", "session_id": str(session.pk)}))
            answers.append(await post(client, partner[1], "UNLOCK_CONNECTOR", {
                "response_url": f"{url}/3", "location_id": location_id, "evse_uid": evse, "connector_id": "1"}))
            expiry = (datetime.now(UTC) + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
            answers.append(await post(client, partner[1], "RESERVE_NOW", {
                "response_url": f"{url}/4", "token": token, "expiry_date": expiry, "reservation_id": "R-77",
                "location_id": location_id, "evse_uid": evse}))
            answers.append(await post(client, partner[1], "CANCEL_RESERVATION",
                                      {"response_url": f"{url}/5", "reservation_id": "R-77"}))
            return answers, cp.received

    answers, charger_saw = asyncio.run(main())
    assert [a.json()["data"]["result"] for a in answers] == ["ACCEPTED"] * 5
    assert [name for name, _ in charger_saw] == ["RemoteStartTransaction", "RemoteStopTransaction", "UnlockConnector",
                                                  "ReserveNow", "CancelReservation"]
    assert charger_saw[0][1]["id_tag"] == "04ABCDEF" and charger_saw[0][1]["connector_id"] == 1
    assert sorted(received) == [(f"/ocpi/emsp/2.2.1/commands/{n}", {"result": result}) for n, result in
                                enumerate(["ACCEPTED", "ACCEPTED", "ACCEPTED", "ACCEPTED", "CANCELED_RESERVATION"],
                                          start=1)]
    reserve = CommandRequest.objects.get(command="RESERVE_NOW")
    assert charger_saw[3][1]["reservation_id"] == reserve.pk
    assert all(r.result_sent_at for r in CommandRequest.objects.all())


def test_a_command_for_an_offline_charger_is_rejected_at_once(client, partner, connector, redis_url, results):
    response = _post(client, partner[1], "UNLOCK_CONNECTOR", {
        "response_url": f"{results[0]}/1", "location_id": str(connector.station.location_id),
        "evse_uid": f"{connector.station.ocpp_identity}-1", "connector_id": "1"})
    assert response.json()["data"]["result"] == "REJECTED"


def test_another_operators_location_and_session_are_unknown(client, partner, other_operator, redis_url, results):
    theirs = factories.ConnectorFactory(station__location__operator=other_operator)
    response = _post(client, partner[1], "START_SESSION", {
        "response_url": f"{results[0]}/1", "token": token_body(), "location_id": str(theirs.station.location_id)})
    assert (response.status_code, response.json()["status_code"]) == (404, 2003)
    session = factories.ChargingSessionFactory(connector=theirs)
    response = _post(client, partner[1], "STOP_SESSION", {"response_url": f"{results[0]}/2",
                                                           "session_id": str(session.pk)})
    assert response.json()["data"]["result"] == "UNKNOWN_SESSION"
    assert not CommandRequest.objects.exclude(command="STOP_SESSION").exists()


@pytest.mark.parametrize("command, body, status", [
    ("FLY_TO_MOON", {"response_url": "http://x.example/r"}, 2000),
    ("START_SESSION", {"location_id": "1"}, 2001),
    ("START_SESSION", {"response_url": "ftp://x", "location_id": "1"}, 2001),
    ("START_SESSION", {"response_url": "http://x.example/r", "location_id": "1"}, 2001),
    ("RESERVE_NOW", {"response_url": "http://x.example/r", "reservation_id": "R", "expiry_date": "soon"}, 2001),
])
def test_bad_commands_are_refused_in_the_envelope(client, partner, connector, command, body, status, settings):
    if "location_id" in body:
        body["location_id"] = str(connector.station.location_id)
    if command == "RESERVE_NOW":
        put_token(client, partner[1], token_body())
        body.update(token=token_body(), location_id=str(connector.station.location_id))
    response = _post(client, partner[1], command, body)
    assert response.status_code in (400, 404) and response.json()["status_code"] == status
    assert not CommandRequest.objects.exists()
