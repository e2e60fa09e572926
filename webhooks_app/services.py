"""Webhook operations: emit an event, attempt a delivery, redeliver, rotate a secret, send a test.

Emission is an outbox: the event and one delivery per subscribed endpoint are written in the caller's
transaction (an invoice that rolls back announces nothing) and the first attempt is queued on commit.
An attempt claims its delivery under a row lock and a lease (`locked_until`), POSTs outside any
transaction (a slow receiver never holds a database lock), then records the outcome if its claim still
stands. A failed attempt is due again after WEBHOOKS_RETRY_SCHEDULE[attempt - 1] seconds; the beat task
`deliver_due` picks up what is due, so retries survive worker restarts. Receivers dedupe on the event id
(payload "id", header Evbilling-Event-Id): a delivery can reach them twice (a lost answer, a redelivery).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Operator, User

from . import payloads, signing, transport
from .models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .selectors import deliveries_due, deliveries_for, endpoints_for

logger = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30
USER_AGENT = "evbilling-webhooks/1"
Status = WebhookDelivery.Status


class WebhookError(Exception):
    """An operation refused; the message says why, for the person who tried."""


class WebhookNotFound(WebhookError):
    """The endpoint or delivery is not the caller's to act on."""


@dataclass(frozen=True, slots=True)
class EventIn:
    """An event to emit. `payload` may be a callable, built only when some endpoint listens."""

    operator_id: int
    type: str
    payload: dict | Callable[[], dict]


def max_attempts() -> int:
    return len(settings.WEBHOOKS_RETRY_SCHEDULE) + 1


def retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1-based) the next one is due."""
    return timedelta(seconds=settings.WEBHOOKS_RETRY_SCHEDULE[attempt - 1])


def _queue(delivery_ids: Sequence[int]) -> None:
    from .tasks import deliver

    for delivery_id in delivery_ids:  # robust: a broker outage leaves them pending for `deliver_due`
        transaction.on_commit(partial(deliver.delay, delivery_id), robust=True)


# --- Emission ------------------------------------------------------------------------------------

def webhook_events_emit(*, events: Sequence[EventIn], now: datetime | None = None) -> list[WebhookEvent]:
    """Store the events some active endpoint of their operator subscribes to, with one delivery per
    such endpoint, in the caller's transaction; queue the attempts on commit. An event nobody
    listens to is not stored. One query when nobody listens, a few inserts otherwise, whatever the
    batch size (a billing run issues hundreds of invoices at once)."""
    if not events:
        return []
    now = now or timezone.now()
    endpoints = list(WebhookEndpoint.objects.filter(operator_id__in={e.operator_id for e in events},
                                                    is_active=True).order_by("pk"))
    planned = []
    for item in events:
        targets = [ep for ep in endpoints if ep.operator_id == item.operator_id and ep.subscribes_to(item.type)]
        if targets:
            payload = item.payload() if callable(item.payload) else item.payload
            planned.append((WebhookEvent(operator_id=item.operator_id, type=item.type, payload=payload), targets))
    if not planned:
        return []
    with transaction.atomic():
        stored = WebhookEvent.objects.bulk_create([event for event, _ in planned])
        deliveries = WebhookDelivery.objects.bulk_create([
            WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now)
            for event, (_, targets) in zip(stored, planned, strict=True) for endpoint in targets
        ])
        _queue([delivery.pk for delivery in deliveries])
    return stored


def webhook_event_emit(*, operator: Operator | int, type: str,
                       payload: dict | Callable[[], dict]) -> WebhookEvent | None:
    """Emit one event of `operator` (see `webhook_events_emit`); None when no endpoint listens."""
    operator_id = operator if isinstance(operator, int) else operator.pk
    stored = webhook_events_emit(events=[EventIn(operator_id=operator_id, type=type, payload=payload)])
    return stored[0] if stored else None


# --- Attempts ------------------------------------------------------------------------------------

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
        delivery.last_attempt_at, delivery.locked_until = now, None
        delivery.last_response_status, delivery.last_response_body = outcome.status, outcome.body
        delivery.last_error = outcome.error
        if outcome.succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = Status.SUCCEEDED, now, None
        elif outcome.final or number >= max_attempts():
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delivery.status, delivery.next_attempt_at = Status.RETRYING, now + retry_delay(number)
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
    from .tasks import deliver

    due = list(deliveries_due(now=now or timezone.now()).values_list("pk", flat=True)[:limit])
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


# --- Operator actions ----------------------------------------------------------------------------

def _may_manage(user: User) -> bool:
    return bool(user.is_active and user.is_staff and (user.is_superuser or user.is_operator_staff))


def _endpoint_for(*, endpoint_id: int, user: User) -> WebhookEndpoint:
    endpoint = endpoints_for(user).select_for_update().filter(pk=endpoint_id).first() if _may_manage(user) else None
    if endpoint is None:
        raise WebhookNotFound("No such webhook endpoint.")
    return endpoint


def webhook_delivery_redeliver(*, delivery_id: int, user: User, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it (the receiver dedupes on the event id). It then
    follows the usual rule: retried while attempts remain, failed again otherwise. Refused for another
    operator's delivery (not found), a disabled endpoint, or while an attempt is under way."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (deliveries_for(user).select_for_update(of=("self",)).filter(pk=delivery_id).first()
                    if _may_manage(user) else None)
        if delivery is None:
            raise WebhookNotFound("No such webhook delivery.")
        if not delivery.endpoint.is_active:
            raise WebhookError(f"{delivery.endpoint} is disabled: enable it before redelivering.")
        if delivery.locked_until and delivery.locked_until > now:
            raise WebhookError("An attempt is under way; wait for its outcome.")
        delivery.status, delivery.next_attempt_at = Status.PENDING, now
        delivery.redelivery_requested_by, delivery.redelivery_requested_at = user, now
        delivery.save()
        _queue([delivery.pk])
    return delivery


def webhook_endpoint_rotate_secret(*, endpoint_id: int, user: User, now: datetime | None = None) -> WebhookEndpoint:
    """Give the endpoint a new secret; requests are signed with it from now on (the old one stops
    working at once: update the receiver right after)."""
    from .models import secret_generate

    with transaction.atomic():
        endpoint = _endpoint_for(endpoint_id=endpoint_id, user=user)
        endpoint.secret = secret_generate()
        endpoint.secret_rotated_at = now or timezone.now()
        endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return endpoint


def webhook_endpoint_send_test(*, endpoint_id: int, user: User, now: datetime | None = None) -> WebhookDelivery:
    """Send a `webhook.test` event to this one endpoint, whatever it subscribes to."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = _endpoint_for(endpoint_id=endpoint_id, user=user)
        if not endpoint.is_active:
            raise WebhookError(f"{endpoint} is disabled: enable it to send a test event.")
        event = WebhookEvent.objects.create(operator_id=endpoint.operator_id, type=EventType.TEST,
                                            payload=payloads.ping_data(endpoint))
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
        _queue([delivery.pk])
    return delivery
