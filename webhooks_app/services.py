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

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from evbilling.errors import ApplicationError, NotFoundError
from evbilling.on_commit import after_commit
from sessions_app.models import Operator, User

from . import payloads
from .attempts import deliver
from .models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent, secret_generate
from .selectors import deliveries_for, endpoints_for

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status


class WebhookError(ApplicationError):
    """An operation refused; the message says why, for the person who tried."""


class WebhookNotFound(WebhookError, NotFoundError):
    """The endpoint or delivery is not the caller's to act on."""


@dataclass(frozen=True, slots=True)
class EventIn:
    """An event to emit. `payload` may be a callable, built only when some endpoint listens."""

    operator_id: int
    type: str
    payload: dict | Callable[[], dict]


def _queue(delivery_ids: Sequence[int]) -> None:
    for delivery_id in delivery_ids:  # robust: a broker outage leaves them pending for `deliver_due`
        after_commit(deliver.delay, delivery_id)


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
            raise WebhookNotFound(gettext("No such webhook delivery."))
        if not delivery.endpoint.is_active:
            raise WebhookError(gettext("%(endpoint)s is disabled: enable it before redelivering.") % {
                "endpoint": delivery.endpoint})
        if delivery.locked_until and delivery.locked_until > now:
            raise WebhookError(gettext("An attempt is under way; wait for its outcome."))
        delivery.status, delivery.next_attempt_at = Status.PENDING, now
        delivery.redelivery_requested_by, delivery.redelivery_requested_at = user, now
        delivery.save()
        _queue([delivery.pk])
    return delivery


def webhook_endpoint_rotate_secret(*, endpoint_id: int, user: User, now: datetime | None = None) -> WebhookEndpoint:
    """Give the endpoint a new secret; requests are signed with it from now on (the old one stops
    working at once: update the receiver right after)."""

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
            raise WebhookError(gettext("%(endpoint)s is disabled: enable it to send a test event.") % {
                "endpoint": endpoint})
        event = WebhookEvent.objects.create(operator_id=endpoint.operator_id, type=EventType.TEST,
                                            payload=payloads.ping_data(endpoint))
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
        _queue([delivery.pk])
    return delivery
