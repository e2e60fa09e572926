"""Group commit of MeterValues: many chargers' samples in one transaction, acknowledged only once
committed, idempotent, and flushed before a stop."""
import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from ocpp.v16 import call

from sessions_app import services
from sessions_app.models import ChargingSession, ChargingStation, MeterSample
from sessions_app.ocpp.sample_writer import SampleWriter
from tests import factories
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def sample(minutes: float, wh: int) -> services.SampleIn:
    return services.SampleIn(taken_at=T0 + timedelta(minutes=minutes), energy_wh=Decimal(wh))


def meter_value(minutes: float, wh: int) -> dict:
    return {"timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "sampledValue": [{"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}


@pytest.fixture
def sessions(operator):
    return [factories.ChargingSessionFactory(connector=factories.ConnectorFactory(station__location__operator=operator),
                                             started_at=T0, meter_start_wh=Decimal(0)) for _ in range(4)]


@pytest.fixture
def batches(monkeypatch):
    """The size of each group commit the writer makes."""
    sizes = []
    record_many = services.session_samples_record_many

    def counting(*, reports, **kwargs):
        sizes.append(len(reports))
        return record_many(reports=reports, **kwargs)

    monkeypatch.setattr(services, "session_samples_record_many", counting)
    return sizes


def test_meter_values_of_many_chargers_share_a_transaction_and_are_committed_before_the_answer(
    sessions, batches, settings
):
    settings.OCPP_GROUP_COMMIT_DELAY = 0.3  # long enough for all four to queue

    async def scenario(gw):
        async def send(session):
            async with charger(gw, session.connector.station.ocpp_identity) as cp:
                await cp.call(call.MeterValues(connector_id=1, transaction_id=session.pk,
                                               meter_value=[meter_value(5, 500)]))
                # acknowledged, hence stored
                return await sync_to_async(MeterSample.objects.filter(session_id=session.pk).count)()

        return await asyncio.gather(*(send(s) for s in sessions))

    stored_when_acknowledged = asyncio.run(_in_gateway(scenario))
    assert stored_when_acknowledged == [1, 1, 1, 1]
    assert batches == [4]


def test_resent_and_foreign_meter_values_store_nothing_twice(sessions, batches):
    mine, other = sessions[0], sessions[1]

    async def scenario(gw):
        async with charger(gw, mine.connector.station.ocpp_identity) as cp:
            values = call.MeterValues(connector_id=1, transaction_id=mine.pk,
                                      meter_value=[meter_value(5, 500), meter_value(10, 900)])
            await asyncio.gather(cp.call(values), cp.call(values))  # same message twice, possibly one batch
            await cp.call(values)
            await cp.call(call.MeterValues(connector_id=1, transaction_id=other.pk, meter_value=[meter_value(5, 1)]))

    asyncio.run(_in_gateway(scenario))
    assert list(MeterSample.objects.filter(session=mine).values_list("energy_wh", flat=True)) == [500, 900]
    assert not MeterSample.objects.filter(session=other).exists()
    mine.refresh_from_db()
    assert mine.last_message_at == T0 + timedelta(minutes=10)


def test_a_stop_first_commits_the_samples_queued_for_its_session(sessions):
    session = sessions[0]
    station_id = session.connector.station_id

    async def scenario():
        writer = SampleWriter(delay=0.5, max_batch=100)
        await writer.start()
        recorded = asyncio.create_task(writer.record(station_id=station_id, session_id=session.pk,
                                                     samples=[sample(5, 500)]))
        await asyncio.sleep(0)
        before = await sync_to_async(MeterSample.objects.filter(session=session).count)()
        await writer.flush(station_id=station_id, session_id=session.pk)
        after = await sync_to_async(MeterSample.objects.filter(session=session).count)()
        await writer.flush(station_id=station_id, session_id=sessions[1].pk)  # nothing queued: returns at once
        await writer.stop()
        return before, after, await recorded

    assert asyncio.run(scenario()) == (0, 1, True)


def test_one_failing_message_does_not_fail_the_others_in_its_batch(sessions, monkeypatch):
    good, bad = sessions[0], sessions[1]
    record_many = services.session_samples_record_many

    def failing_for_bad(*, reports, **kwargs):
        if any(r.session_id == bad.pk for r in reports):
            raise OperationalError("disk I/O error")
        return record_many(reports=reports, **kwargs)

    monkeypatch.setattr(services, "session_samples_record_many", failing_for_bad)

    async def scenario():
        writer = SampleWriter(delay=0.2, max_batch=100)
        await writer.start()
        results = await asyncio.gather(
            writer.record(station_id=good.connector.station_id, session_id=good.pk, samples=[sample(5, 500)]),
            writer.record(station_id=bad.connector.station_id, session_id=bad.pk, samples=[sample(5, 500)]),
            return_exceptions=True,
        )
        await writer.stop()
        return results

    ok, failed = asyncio.run(scenario())
    assert ok is True and isinstance(failed, OperationalError)
    assert MeterSample.objects.filter(session=good).count() == 1
    assert not MeterSample.objects.filter(session=bad).exists()


def test_an_invalid_sample_is_refused_before_it_is_queued(sessions):
    session = sessions[0]

    async def scenario(gw):
        async with charger(gw, session.connector.station.ocpp_identity) as cp:
            values = call.MeterValues(connector_id=1, transaction_id=session.pk, meter_value=[
                {"timestamp": T0.isoformat(), "sampledValue": [
                    {"value": "100", "unit": "Wh"}, {"value": "140", "unit": "Percent", "measurand": "SoC"}]}])
            return await cp.call(values, suppress=False)

    with pytest.raises(Exception, match="State of charge"):
        asyncio.run(_in_gateway(scenario))
    assert not MeterSample.objects.exists()


def test_group_commit_keeps_samples_inside_the_session_window_and_last_message_at_moving_forward(sessions):
    session, stopped = sessions[0], sessions[1]
    services.session_stop(session=stopped, stopped_at=T0 + timedelta(minutes=30), meter_stop_wh=Decimal(3000))
    ChargingSession.objects.filter(pk=session.pk).update(last_message_at=T0 + timedelta(minutes=20))
    station_ids = [s.connector.station_id for s in sessions]
    seen_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    known = services.session_samples_record_many(
        reports=[
            services.SampleReport(station_ids[0], session.pk, (sample(5, 500), sample(-5, 1))),
            services.SampleReport(station_ids[1], stopped.pk, (sample(20, 2000), sample(45, 3100))),
            services.SampleReport(station_ids[2], session.pk, (sample(6, 600),)),  # not that station's session
            services.SampleReport(station_ids[0], session.pk, (sample(5, 999),)),  # the first report wins
        ],
        seen_station_ids=station_ids[:2], seen_at=seen_at,
    )

    assert known == [True, True, False, True]
    assert list(MeterSample.objects.filter(session=session).values_list("energy_wh", flat=True)) == [500]
    assert list(MeterSample.objects.filter(session=stopped).values_list("energy_wh", flat=True)) == [2000]
    session.refresh_from_db()
    assert session.last_message_at == T0 + timedelta(minutes=20)  # never back
    assert list(ChargingStation.objects.filter(pk__in=station_ids).order_by("pk").values_list(
        "last_seen_at", flat=True)) == [seen_at, seen_at, None, None]


async def _in_gateway(scenario):
    async with gateway() as gw:
        return await scenario(gw)
