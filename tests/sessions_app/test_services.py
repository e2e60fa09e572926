"""Session services: start, samples, stop; idempotent and refusing what breaks an invariant."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sessions_app import services
from sessions_app.models import ChargingSession, MeterSample
from sessions_app.services import SampleIn, SessionError
from sessions_app.signals import session_completed
from tests import factories

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def started(connector, id_token):
    return services.session_start(
        connector=connector, id_token=id_token, started_at=T0, meter_start_wh=Decimal(1000), transaction_ref="tx-1"
    )


@pytest.fixture
def completed_signals():
    received = []

    def receiver(sender, session, **kwargs):
        received.append(session.pk)

    session_completed.connect(receiver)
    yield received
    session_completed.disconnect(receiver)


def test_start_creates_active_session_for_the_token_driver(started, id_token, connector):
    assert started.state == ChargingSession.State.ACTIVE
    assert started.driver == id_token.driver
    assert started.operator == connector.station.location.operator


def test_start_twice_with_same_transaction_returns_the_same_session(started, connector, id_token):
    again = services.session_start(
        connector=connector, id_token=id_token, started_at=T0, meter_start_wh=Decimal(1000), transaction_ref="tx-1"
    )
    assert again.pk == started.pk
    assert ChargingSession.objects.count() == 1


def test_second_session_on_busy_connector_is_refused(started, connector, id_token):
    with pytest.raises(SessionError, match="already has an active session"):
        services.session_start(
            connector=connector, id_token=id_token, started_at=T0, meter_start_wh=Decimal(1), transaction_ref="tx-2"
        )
    assert ChargingSession.objects.count() == 1


def test_token_of_another_operator_is_refused(connector, other_operator):
    foreign = factories.IdTokenFactory(operator=other_operator)
    with pytest.raises(SessionError, match="another operator"):
        services.session_start(
            connector=connector, id_token=foreign, started_at=T0, meter_start_wh=Decimal(0), transaction_ref="x"
        )
    assert not ChargingSession.objects.exists()


def test_naive_timestamps_are_refused(connector):
    with pytest.raises(SessionError, match="time zone"):
        services.session_start(connector=connector, started_at=datetime(2026, 1, 1), meter_start_wh=Decimal(0),
                               transaction_ref="x")


def test_samples_twice_are_stored_once(started):
    samples = [SampleIn(T0 + timedelta(minutes=m), Decimal(1000 + 200 * m), Decimal(11000)) for m in range(1, 6)]
    assert services.session_record_samples(session=started, samples=samples) == 5
    assert services.session_record_samples(session=started, samples=samples) == 0
    assert MeterSample.objects.filter(session=started).count() == 5
    started.refresh_from_db()
    assert started.last_message_at == T0 + timedelta(minutes=5)


def test_samples_outside_the_session_window_are_ignored(started):
    early = SampleIn(T0 - timedelta(minutes=1), Decimal(900))
    assert services.session_record_samples(session=started, samples=[early]) == 0


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (SampleIn(T0, Decimal(-1)), "negative"),
        (SampleIn(T0, Decimal(1), power_w=Decimal(-5)), "Power"),
        (SampleIn(T0, Decimal(1), soc_percent=120), "State of charge"),
    ],
)
def test_bad_samples_are_refused_and_nothing_is_written(started, sample, message):
    good = SampleIn(T0 + timedelta(minutes=1), Decimal(1100))
    with pytest.raises(SessionError, match=message):
        services.session_record_samples(session=started, samples=[good, sample])
    assert not MeterSample.objects.exists()


def test_stop_completes_and_announces_once(started, completed_signals):
    stopped = services.session_stop(session=started, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(12000))
    assert stopped.state == ChargingSession.State.COMPLETED
    assert stopped.energy_wh == Decimal(11000)
    assert stopped.energy_kwh == Decimal(11)
    assert stopped.duration == timedelta(hours=1)
    again = services.session_stop(session=started, stopped_at=T0 + timedelta(hours=2), meter_stop_wh=Decimal(99000))
    assert again.stopped_at == T0 + timedelta(hours=1)
    assert again.energy_wh == Decimal(11000)
    assert completed_signals == [started.pk]


def test_stop_before_start_is_refused(started, completed_signals):
    with pytest.raises(SessionError, match="before it started"):
        services.session_stop(session=started, stopped_at=T0 - timedelta(seconds=1), meter_stop_wh=Decimal(2000))
    started.refresh_from_db()
    assert started.state == ChargingSession.State.ACTIVE
    assert completed_signals == []


def test_meter_stop_below_start_is_refused(started):
    with pytest.raises(SessionError, match="below meter start"):
        services.session_stop(session=started, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(999))
    started.refresh_from_db()
    assert started.state == ChargingSession.State.ACTIVE


def test_connector_is_free_again_after_stop(started, connector, id_token):
    services.session_stop(session=started, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(2000))
    second = services.session_start(connector=connector, id_token=id_token, started_at=T0 + timedelta(hours=2),
                                     meter_start_wh=Decimal(2000), transaction_ref="tx-2")
    assert second.state == ChargingSession.State.ACTIVE


def test_stale_sessions_fail_with_the_energy_last_seen(started, settings, completed_signals):
    services.session_record_samples(session=started, samples=[SampleIn(T0 + timedelta(minutes=30), Decimal(4000))])
    closed = services.sessions_close_stale(now=T0 + timedelta(hours=settings.SESSION_STALE_AFTER_HOURS, minutes=31))
    started.refresh_from_db()
    assert closed == 1
    assert started.state == ChargingSession.State.FAILED
    assert started.energy_wh == Decimal(3000)
    assert started.stopped_at == T0 + timedelta(minutes=30)
    assert completed_signals == []
    assert services.sessions_close_stale(now=T0 + timedelta(days=30)) == 0


def test_recent_sessions_are_not_stale(started):
    assert services.sessions_close_stale(now=T0 + timedelta(hours=1)) == 0
