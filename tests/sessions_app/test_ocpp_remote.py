"""Remote commands from the web side reach the charger through Redis and whichever gateway holds it."""
import asyncio
import os
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from sessions_app.models import ChargingSession
from sessions_app.ocpp import commands
from tests import factories
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).isoformat()


@pytest.fixture
def redis_url(settings):
    """REDIS_URL (CI), else a local Redis on its test database; skipped when there is none."""
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis to carry remote commands")
    settings.REDIS_URL = url
    return url


@pytest.fixture
def station(connector):
    return connector.station


async def _eventually(check, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while (result := await sync_to_async(check)()) is None:
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return result


def test_a_remote_stop_from_the_web_side_reaches_a_16_charger(redis_url, station, id_token):
    async def main():
        async with gateway(redis_url) as gw, charger(gw, station.ocpp_identity) as cp:
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=0,
                                                          timestamp=T0))
            session = await sync_to_async(ChargingSession.objects.select_related("connector__station").get)(
                pk=start.transaction_id)
            sent = await sync_to_async(commands.session_remote_stop)(session=session)
            await asyncio.wait_for(cp.command_seen.wait(), 5)
            # the charger does what it was told
            await cp.call(call16.StopTransaction(meter_stop=2500, timestamp=T0, transaction_id=start.transaction_id,
                                                 reason="Remote"))
            result = await _eventually(lambda: commands.command_result(sent.command_id))
            return sent, cp.received, result, start.transaction_id

    sent, received, result, session_id = asyncio.run(main())
    assert sent.delivered
    assert received == [("RemoteStopTransaction", {"transaction_id": session_id})]
    assert result == {"status": "Accepted"}
    session = ChargingSession.objects.get(pk=session_id)
    assert session.state == ChargingSession.State.COMPLETED and session.stop_reason == "Remote"


def test_a_remote_stop_and_reset_reach_a_201_charger(redis_url, station, id_token):
    async def main():
        async with gateway(redis_url) as gw, charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            await cp.call(call201.TransactionEvent(
                event_type="Started", timestamp=T0, trigger_reason="Authorized", seq_no=0,
                transaction_info={"transaction_id": "TX-9"}, evse={"id": 1},
                id_token={"id_token": id_token.uid, "type": "ISO14443"},
                meter_value=[{"timestamp": T0, "sampled_value": [{"value": 0}]}],
            ))
            session = await sync_to_async(ChargingSession.objects.select_related("connector__station").get)(
                transaction_ref="TX-9")
            await sync_to_async(commands.session_remote_stop)(session=session)
            await asyncio.wait_for(cp.command_seen.wait(), 5)
            cp.command_seen.clear()
            await sync_to_async(commands.station_reset)(station=session.connector.station, hard=True)
            await asyncio.wait_for(cp.command_seen.wait(), 5)
            return cp.received

    assert asyncio.run(main()) == [
        ("RequestStopTransaction", {"transaction_id": "TX-9"}),
        ("Reset", {"type": "Immediate"}),
    ]


def test_a_command_for_a_charger_connected_nowhere_is_reported_undelivered(redis_url, station):
    assert commands.station_reset(station=station).delivered is False


def _admin_post(client, operator, url_name: str, action: str, pk: int):
    staff = factories.OperatorStaffFactory(operator=operator)
    client.force_login(staff)
    response = client.post(reverse(url_name), {"action": action, "_selected_action": [pk]}, follow=True)
    return [str(m) for m in response.context["messages"]]


def test_the_admin_says_remote_commands_need_redis(client, settings, station, operator):
    settings.REDIS_URL = ""
    messages = _admin_post(client, operator, "admin:sessions_app_chargingstation_changelist", "reset_soft", station.pk)
    assert messages == ["Remote commands need Redis: set REDIS_URL and run the gateway with it."]


def test_the_admin_stop_action_reports_an_offline_charger(client, redis_url, station, operator, id_token):
    session = factories.ChargingSessionFactory(connector=station.connectors.get(), id_token=id_token)
    messages = _admin_post(client, operator, "admin:sessions_app_chargingsession_changelist", "remote_stop", session.pk)
    assert messages == [f"Stop {session}: not sent, the charger is not connected."]


def test_the_admin_asks_which_token_a_remote_start_is_for(client, redis_url, station, operator, id_token):
    staff = factories.OperatorStaffFactory(operator=operator)
    client.force_login(staff)
    url = reverse("admin:sessions_app_chargingstation_changelist")
    assert client.get(url).status_code == 200  # the list with its online column
    form = client.post(url, {"action": "remote_start", "_selected_action": [station.pk]})
    assert form.status_code == 200 and id_token.uid in form.content.decode()
    done = client.post(url, {"action": "remote_start", "_selected_action": [station.pk], "id_token": id_token.pk},
                       follow=True)
    assert [str(m) for m in done.context["messages"]] == [
        f"Remote start on {station}: not sent, the charger is not connected."
    ]
