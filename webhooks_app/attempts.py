"""Webhook delivery attempts: one attempt of one delivery, and the Celery task that makes it.

An attempt claims its delivery under a row lock and a lease (`locked_until`), POSTs outside any
transaction (a slow receiver never holds a database lock), then records the outcome if its claim still
stands. A failed attempt is due again after WEBHOOKS_RETRY_SCHEDULE[attempt - 1] seconds; the beat task
`deliver_due` (tasks.py) queues what is due, so retries survive worker restarts. The `deliver` task
lives here, beside its service, because `services` queues it on emission and imports this module.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, transaction
from django.utils import timezone

from . import payloads, signing, transport
from .models import WebhookAttempt, WebhookDelivery, WebhookEvent
from .selectors import deliveries_due

logger = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30
USER_AGENT = "evbilling-webhooks/1"

RETRY = {"retry_backoff": True, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 5}


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None = None
    body: str = ""
    error: str = ""
    duration_ms: int = 0
    final: bool = False  # not worth retrying (endpoint disabled, wrong owner)

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _claim(*, delivery_id: int, now: datetime) -> tuple[WebhookDelivery, int, int | None] | None:
    """Take a due delivery for one attempt: count the attempt and set the lease, under a row lock
    (skip_locked: a delivery another worker holds is simply not due for us)."""
    with transaction.atomic():
        delivery = (deliveries_due(now=now).select_for_update(skip_locked=True, of=("self",))
                    .select_related("event", "endpoint").filter(pk=delivery_id).first())
        if delivery is None:
            return None
        requested_by_id = delivery.redelivery_requested_by_id
        delivery.attempts += 1
        delivery.locked_until = now + timedelta(seconds=settings.WEBHOOKS_TIMEOUT + LEASE_MARGIN_SECONDS)
        delivery.redelivery_requested_by = None
        delivery.redelivery_requested_at = None
        delivery.save(update_fields=["attempts", "locked_until", "redelivery_requested_by",
                                     "redelivery_requested_at", "updated_at"])
    return delivery, delivery.attempts, requested_by_id


def request_body(event: WebhookEvent) -> bytes:
    return json.dumps(payloads.envelope(event), separators=(",", ":"), cls=DjangoJSONEncoder).encode()


def _send(delivery: WebhookDelivery) -> _Outcome:
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.is_active:
        return _Outcome(error="Not sent: the endpoint is disabled.", final=True)
    if endpoint.operator_id != event.operator_id:
        return _Outcome(error="Not sent: the event belongs to another operator.", final=True)
    body = request_body(event)
    headers = {signing.SIGNATURE_HEADER: signing.sign(secret=endpoint.secret, payload=body),
               signing.EVENT_ID_HEADER: str(event.event_id), signing.EVENT_TYPE_HEADER: event.type,
               "User-Agent": USER_AGENT}
    started = time.monotonic()
    try:
        answer = transport.post(url=endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOKS_TIMEOUT)
    except transport.TransportError as error:
        return _Outcome(error=str(error)[:255], duration_ms=int((time.monotonic() - started) * 1000))
    duration_ms = int((time.monotonic() - started) * 1000)
    error = "" if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    return _Outcome(status=answer.status, body=answer.body_excerpt, error=error, duration_ms=duration_ms)


def _record(*, delivery_id: int, number: int, requested_by_id: int | None, outcome: _Outcome,
            now: datetime) -> WebhookDelivery | None:
    """Write the attempt row, and the delivery's new state unless a later claim superseded ours."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:  # its endpoint was deleted meanwhile
            return None
        WebhookAttempt.objects.create(delivery=delivery, number=number, attempted_at=now,
                                      duration_ms=outcome.duration_ms, response_status=outcome.status,
                                      response_body=outcome.body, error=outcome.error,
                                      requested_by_id=requested_by_id)
        if delivery.attempts != number:
            return delivery
        delivery.locked_until = None
        delivery.last_response_status, delivery.last_response_body = outcome.status, outcome.body
        delivery.attempt_outcome_record(now=now, delivered=outcome.succeeded, error=outcome.error,
                                        final=outcome.final, schedule=settings.WEBHOOKS_RETRY_SCHEDULE)
        delivery.save()
    return delivery


def webhook_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt of a delivery if it is due and nobody else is making one; otherwise
    change nothing. 2xx: succeeded. Anything else (an error status, no answer, a timeout): retrying
    after the backoff, or failed once WEBHOOKS_RETRY_SCHEDULE is used up. Safe to run twice."""
    now = now or timezone.now()
    claimed = _claim(delivery_id=delivery_id, now=now)
    if claimed is None:
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    delivery, number, requested_by_id = claimed
    try:
        outcome = _send(delivery)
    except Exception as error:  # a bug of ours still counts as an attempt: the delivery ends failed, not stuck
        logger.exception("webhook delivery %s attempt %s could not be made", delivery_id, number)
        outcome = _Outcome(error=f"Not sent: internal error ({type(error).__name__}).")
    if not outcome.succeeded:
        logger.info("webhook delivery %s attempt %s failed: %s", delivery_id, number, outcome.error)
    return _record(delivery_id=delivery_id, number=number, requested_by_id=requested_by_id, outcome=outcome,
                   now=now)


def webhook_deliveries_queue_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue an attempt for each due delivery (retries, and first attempts whose task was lost).
    Queued twice is harmless: the second finds it claimed or done. Returns how many were queued."""
    due = list(deliveries_due(now=now or timezone.now()).values_list("pk", flat=True)[:limit])
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@shared_task(name="webhooks_app.tasks.deliver", autoretry_for=(OperationalError,), **RETRY)
def deliver(delivery_id: int) -> str | None:
    """One attempt of one delivery (if due); returns the delivery's status afterwards."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None
