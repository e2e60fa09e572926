"""Through the real queue: the first attempt is queued on commit and made by a Celery worker consuming
from Redis; a retry is found by the beat task `deliver_due` and made by the worker too."""
import os
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.webhooks_app.conftest import make_endpoint
from webhooks_app import services, signing, tasks
from webhooks_app.models import WebhookDelivery

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI"),
    pytest.mark.django_db(transaction=True),
]


def wait_for_status(delivery_id: int, status: str, timeout: float = 20) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    while delivery.status != status and time.monotonic() < deadline:
        time.sleep(0.05)
        delivery.refresh_from_db()
    return delivery


def test_delivery_and_retry_go_through_the_worker(celery_worker_redis, operator, receiver):
    endpoint = make_endpoint(operator, f"{receiver.url}/queue")
    receiver.answer_with(500)
    with transaction.atomic():
        event = services.webhook_event_emit(operator=operator, type="dispute.opened", payload={"dispute": {"id": 9}})
    delivery_id = event.deliveries.get().pk
    assert receiver.wait_for(1)
    delivery = wait_for_status(delivery_id, "retrying")
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("retrying", 1, 500)

    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.deliver_due.delay().get(timeout=20) == 1
    assert receiver.wait_for(2)
    delivery = wait_for_status(delivery_id, "succeeded")
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    for request in receiver.requests:
        signing.verify(payload=request.body, header=request.headers["Evbilling-Signature"], secret=endpoint.secret)
        assert request.json["id"] == str(event.event_id)
