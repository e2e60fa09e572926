"""The stale-session sweep runs as a real Celery task through Redis when REDIS_URL is set (CI)."""
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sessions_app.models import ChargingSession
from sessions_app.tasks import sessions_close_stale
from tests import factories


@pytest.mark.django_db
def test_task_closes_stale_sessions_eagerly():
    session = factories.ChargingSessionFactory(last_message_at=timezone.now() - timedelta(days=5))
    assert sessions_close_stale.delay().get() == 1
    session.refresh_from_db()
    assert session.state == ChargingSession.State.FAILED
    assert session.energy_wh == Decimal(0)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI")
@pytest.mark.django_db(transaction=True)
def test_task_runs_on_a_real_worker_through_redis(celery_worker_redis):
    session = factories.ChargingSessionFactory(last_message_at=timezone.now() - timedelta(days=5))
    result = sessions_close_stale.delay()
    assert result.get(timeout=20) == 1
    session.refresh_from_db()
    assert session.state == ChargingSession.State.FAILED
