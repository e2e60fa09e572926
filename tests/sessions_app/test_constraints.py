"""What the database refuses even when the services are bypassed."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from sessions_app.models import ChargingSession, MeterSample, User
from tests import factories


def _session(**kwargs):
    return factories.ChargingSessionFactory(**kwargs)


@pytest.mark.django_db
def test_two_active_sessions_on_one_connector_are_refused():
    first = _session()
    with pytest.raises(IntegrityError), transaction.atomic():
        _session(connector=first.connector, id_token=first.id_token)


@pytest.mark.django_db
def test_completed_sessions_may_share_a_connector():
    first = _session()
    first.state = ChargingSession.State.COMPLETED
    first.stopped_at = first.started_at + timedelta(hours=1)
    first.meter_stop_wh = Decimal(2000)
    first.save()
    _session(connector=first.connector, id_token=first.id_token)
    assert ChargingSession.objects.count() == 2


@pytest.mark.django_db
def test_stop_before_start_is_refused():
    session = _session()
    session.state = ChargingSession.State.COMPLETED
    session.stopped_at = session.started_at - timedelta(minutes=1)
    session.meter_stop_wh = Decimal(2000)
    with pytest.raises(IntegrityError), transaction.atomic():
        session.save()


@pytest.mark.django_db
def test_meter_stop_below_start_is_refused():
    session = _session()
    session.state = ChargingSession.State.COMPLETED
    session.stopped_at = session.started_at + timedelta(minutes=1)
    session.meter_stop_wh = Decimal(10)
    with pytest.raises(IntegrityError), transaction.atomic():
        session.save()


@pytest.mark.django_db
def test_completed_session_without_stop_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        _session(state=ChargingSession.State.COMPLETED)


@pytest.mark.django_db
def test_one_sample_per_session_instant():
    session = _session()
    MeterSample.objects.create(session=session, taken_at=session.started_at, energy_wh=Decimal(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterSample.objects.create(session=session, taken_at=session.started_at, energy_wh=Decimal(2))


@pytest.mark.django_db
def test_operator_staff_without_operator_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="orphan", role=User.Role.OPERATOR_STAFF)


@pytest.mark.django_db
def test_station_password_is_stored_hashed():
    station = factories.ChargingStationFactory()
    assert station.password_hash != factories.STATION_PASSWORD
    assert station.check_password(factories.STATION_PASSWORD)
    assert not station.check_password("wrong")
