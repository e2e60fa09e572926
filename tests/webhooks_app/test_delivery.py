"""Delivery to a real HTTP server on a local port: signed, carrying the event id, retried with growing
backoff after errors and while the receiver is down, failed once attempts are used up, never sent twice
at once, picked up again by the beat task."""
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webhooks_app.conftest import make_endpoint
from webhooks_app import attempts, services, signing, tasks
from webhooks_app.models import WebhookAttempt, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

PAYLOAD = {"session": {"id": 7, "energy_wh": "11000.000"}}


def emit(operator, capture, event_type="session.completed"):
    with capture(execute=True):
        return services.webhook_event_emit(operator=operator, type=event_type, payload=PAYLOAD)


def test_delivery_reaches_the_receiver_signed_with_the_event_id(operator, endpoint, receiver,
                                                                django_capture_on_commit_callbacks):
    event = emit(operator, django_capture_on_commit_callbacks)
    assert receiver.wait_for(1)
    request = receiver.requests[0]
    assert request.path == "/hooks/all"
    assert signing.verify(payload=request.body, header=request.headers["Evbilling-Signature"],
                          secret=endpoint.secret)
    assert "Evbilling-Signature" in list(request.headers.keys())  # sent with this exact name
    assert request.headers["Evbilling-Event-Id"] == str(event.event_id)
    assert request.headers["Evbilling-Event-Type"] == "session.completed"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {"id": str(event.event_id), "type": "session.completed", "operator_id": operator.pk,
                            "created": event.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                            "data": PAYLOAD}
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("succeeded", 1, 200)
    assert delivery.last_response_body == '{"received": true}' and delivery.delivered_at is not None
    assert delivery.next_attempt_at is None and delivery.locked_until is None
    assert list(delivery.attempt_log.values_list("number", "response_status", "error")) == [(1, 200, "")]


def test_receiver_error_is_retried_with_growing_backoff_until_it_succeeds(operator, endpoint, receiver,
                                                                          django_capture_on_commit_callbacks):
    receiver.answer_with(500, 503)
    event = emit(operator, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("retrying", 1, 500)
    assert delivery.last_error == "HTTP 500" and delivery.last_response_body == "receiver says 500"
    first_wait = delivery.next_attempt_at - delivery.last_attempt_at

    early = attempts.webhook_delivery_attempt(delivery_id=delivery.pk,
                                              now=delivery.next_attempt_at - timedelta(seconds=1))
    assert early.attempts == 1 and len(receiver.requests) == 1  # not due yet: nothing sent

    delivery = attempts.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("retrying", 2, 503)
    second_wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert (first_wait, second_wait) == (timedelta(minutes=1), timedelta(minutes=5))

    delivery = attempts.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("succeeded", 3, 200)
    assert delivery.next_attempt_at is None and delivery.last_error == ""
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [500, 503, 200]
    assert {r.headers["Evbilling-Event-Id"] for r in receiver.requests} == {str(event.event_id)}
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same body every time; only the signature's timestamp changes


def test_receiver_down_leaves_the_delivery_retrying(operator, refused_url, django_capture_on_commit_callbacks):
    make_endpoint(operator, refused_url)
    event = emit(operator, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("retrying", 1, None)
    assert delivery.last_error.startswith("Could not connect")
    assert delivery.next_attempt_at == delivery.last_attempt_at + timedelta(minutes=1)


def test_attempts_used_up_fail_the_delivery(settings, operator, endpoint, receiver,
                                            django_capture_on_commit_callbacks):
    settings.WEBHOOKS_RETRY_SCHEDULE = [60, 120]  # three attempts in all
    receiver.answer_with(500, 500, 500, 500)
    event = emit(operator, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event=event)
    for _ in range(2):
        delivery = attempts.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    later = attempts.webhook_delivery_attempt(delivery_id=delivery.pk, now=timezone.now() + timedelta(days=30))
    assert later.attempts == 3 and len(receiver.requests) == 3  # a failed delivery is left alone


def test_redirect_is_not_followed(operator, endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.answer_with(302)
    event = emit(operator, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.last_response_status, delivery.last_error) == ("retrying", 302, "HTTP 302")
    assert len(receiver.requests) == 1


def test_slow_receiver_times_out_and_is_retried(settings, operator, endpoint, receiver,
                                                django_capture_on_commit_callbacks):
    settings.WEBHOOKS_TIMEOUT = 0.3
    receiver.hold.clear()  # the server takes the request and does not answer
    event = emit(operator, django_capture_on_commit_callbacks)
    receiver.hold.set()
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.last_error) == ("retrying", "Timed out after 0.3 s.")


def test_private_addresses_are_refused_unless_allowed(settings, operator, endpoint, receiver,
                                                      django_capture_on_commit_callbacks):
    settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS = False
    event = emit(operator, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == "retrying" and "non-public address 127.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_disabled_endpoint_gets_nothing_and_the_delivery_fails(operator, endpoint, receiver):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)
    endpoint.is_active = False
    endpoint.save()
    delivery = attempts.webhook_delivery_attempt(delivery_id=event.deliveries.get().pk)
    assert (delivery.status, delivery.last_error) == ("failed", "Not sent: the endpoint is disabled.")
    assert receiver.requests == []


def test_a_delivery_under_way_is_not_claimed_twice(operator, endpoint, receiver):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() + timedelta(seconds=40))
    assert attempts.webhook_delivery_attempt(delivery_id=delivery.pk).attempts == 0
    assert receiver.requests == []
    # once the lease has run out (its worker died), the delivery is taken up again
    later = timezone.now() + timedelta(seconds=41)
    assert attempts.webhook_delivery_attempt(delivery_id=delivery.pk, now=later).status == "succeeded"


def test_an_attempt_overtaken_by_a_later_claim_only_adds_to_the_log(operator, endpoint, receiver):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2)  # someone claimed it again meanwhile
    attempts._record(delivery_id=delivery.pk, number=1, requested_by_id=None,
                     outcome=attempts._Outcome(status=200), now=timezone.now())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert WebhookAttempt.objects.filter(delivery=delivery, number=1, response_status=200).exists()


def test_beat_task_picks_up_due_retries_and_lost_first_attempts(operator, endpoint, receiver):
    receiver.answer_with(500)
    lost = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)  # never queued
    retry = services.webhook_event_emit(operator=operator, type="invoice.issued", payload={"invoice": {"id": 1}})
    attempts.webhook_delivery_attempt(delivery_id=retry.deliveries.get().pk)  # the 500
    not_due = retry.deliveries.get()
    assert tasks.deliver_due.delay().get() == 1  # only the lost one is due: the retry waits its minute
    WebhookDelivery.objects.filter(pk=not_due.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.deliver_due.delay().get() == 1
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert [json.loads(r.body)["id"] for r in receiver.requests] == [
        str(retry.event_id), str(lost.event_id), str(retry.event_id)]
    assert tasks.deliver_due.delay().get() == 0


def test_deliver_task_returns_the_status_and_is_harmless_twice(operator, endpoint, receiver):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)
    delivery_id = event.deliveries.get().pk
    assert attempts.deliver.delay(delivery_id).get() == "succeeded"
    assert attempts.deliver.delay(delivery_id).get() == "succeeded"
    assert len(receiver.requests) == 1
    assert WebhookEvent.objects.count() == 1


def test_signature_timestamp_is_the_time_of_sending(operator, endpoint, receiver, django_capture_on_commit_callbacks):
    before = int(time.time())
    emit(operator, django_capture_on_commit_callbacks)
    stamp = signing.verify(payload=receiver.requests[0].body,
                           header=receiver.requests[0].headers["Evbilling-Signature"], secret=endpoint.secret)
    assert before <= stamp <= int(time.time())


def test_an_internal_error_counts_as_a_failed_attempt_instead_of_a_stuck_delivery(monkeypatch, operator, endpoint,
                                                                                 receiver):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload=PAYLOAD)

    def broken(event):
        raise TypeError("not JSON serializable")

    monkeypatch.setattr(attempts, "request_body", broken)
    delivery = attempts.webhook_delivery_attempt(delivery_id=event.deliveries.get().pk)
    assert (delivery.status, delivery.attempts, delivery.locked_until) == ("retrying", 1, None)
    assert delivery.last_error == "Not sent: internal error (TypeError)." and receiver.requests == []
