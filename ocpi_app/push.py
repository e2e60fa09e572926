"""Pushes to partners' receiver interfaces (Client Owned Object push): a `PushDelivery` row per object and
partner, attempted by a Celery task, retried on the OCPI_PUSH_RETRY_SCHEDULE by the beat task.

Intent before effect: the row (with the JSON as it is sent) is written first, then the task sends it; the
beat sweep queues what is due, so a lost task or a worker restart delays a push but never drops it. OCPI
wants the latest state, not a replay: queuing a push supersedes the open ones of the same object to the same
URL (never another object: each CDR is POSTed to the same URL). An answer with an OCPI client error (2xxx)
is final (a retry would get the same answer); no answer, an HTTP error or a 3xxx is retried. The attempt
claims the row under a lock (skip_locked) and sends outside any transaction, like webhooks_app's attempts.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from billing_app.pricing import ocpi
from evbilling.on_commit import after_commit

from . import client
from .models import CdrRecord, CpoParty, Partner, PushDelivery

logger = logging.getLogger(__name__)
Status = PushDelivery.Status
LEASE_SECONDS = 60


def routing_headers(partner: Partner, to_party: str = "") -> dict[str, str]:
    """From us to the partner, or through a hub partner to one of its clients (`to_party`: "CC*PID")."""
    party = CpoParty.objects.filter(operator_id=partner.operator_id).first()
    to_country, _, to_id = to_party.partition("*") if to_party else (partner.country_code, "", partner.party_id)
    headers = {"OCPI-to-country-code": to_country, "OCPI-to-party-id": to_id}
    if party:
        headers.update({"OCPI-from-country-code": party.country_code, "OCPI-from-party-id": party.party_id})
    return headers


def push_enqueue(*, partner: Partner, module: str, object_id: str, method: str, path: str,
                 body: dict[str, Any], to_party: str = "") -> PushDelivery | None:
    """Queue a push of `body` to `<partner's module receiver URL>/<path>`; None when the partner has no such
    receiver (it pulls instead) or is not registered."""
    base = partner.endpoint_url(module, "RECEIVER")
    if partner.status != Partner.Status.REGISTERED or not base:
        return None
    url = f"{base.rstrip('/')}/{path}" if path else base
    now = timezone.now()
    with transaction.atomic():
        PushDelivery.objects.filter(partner=partner, module=module, object_id=object_id, url=url, method=method,
                                    status__in=PushDelivery.OPEN_STATUSES,
                                    ).update(status=Status.SUPERSEDED, next_attempt_at=None)
        delivery = PushDelivery.objects.create(partner=partner, module=module, object_id=object_id, method=method,
                                               url=url, body=ocpi.dumps(body), next_attempt_at=now,
                                               to_party=to_party)
        after_commit(deliver.delay, delivery.pk)
    return delivery


def _claim(delivery_id: int, now: datetime) -> PushDelivery | None:
    with transaction.atomic():
        delivery = (PushDelivery.objects.select_for_update(skip_locked=True)
                    .filter(pk=delivery_id, status__in=PushDelivery.OPEN_STATUSES, next_attempt_at__lte=now)
                    .select_related("partner").first())
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=settings.OCPI_TIMEOUT + LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def push_attempt(*, delivery_id: int, now: datetime | None = None) -> PushDelivery | None:
    """One attempt of a due push (nothing if another worker holds it or it is done); safe to run twice."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return PushDelivery.objects.filter(pk=delivery_id).first()
    partner = delivery.partner
    http_status = status_code = None
    final = False
    if partner.status != Partner.Status.REGISTERED:
        error, final = "Not sent: the partner is no longer registered.", True
    else:
        try:
            reply = client.call(delivery.method, delivery.url, token=partner.token_theirs,
                                body=ocpi.loads(delivery.body), routing=routing_headers(partner, delivery.to_party))
            http_status, status_code = reply.http_status, reply.status_code
            error = "" if reply.ok else f"HTTP {reply.http_status}, OCPI {reply.status_code}: {reply.status_message}"
            final = status_code is not None and 2000 <= status_code < 3000
        except client.PartnerUnreachable as unreachable:
            error = str(unreachable)
    with transaction.atomic():
        delivery = PushDelivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.last_http_status, delivery.last_status_code = http_status, status_code
        delivery.attempt_outcome_record(now=now, delivered=not error, error=error, final=final,
                                        schedule=settings.OCPI_PUSH_RETRY_SCHEDULE)
        delivery.save()
        if delivery.status in (Status.SUCCEEDED, Status.FAILED):  # a CDR's state follows its push
            CdrRecord.objects.filter(push=delivery, state=CdrRecord.State.PENDING).update(
                state=CdrRecord.State.ACKNOWLEDGED if delivery.status == Status.SUCCEEDED else CdrRecord.State.FAILED)
    if error:
        logger.info("OCPI push %s attempt %s: %s", delivery.pk, delivery.attempts, error)
    return delivery


def pushes_queue_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue an attempt of every due push (retries, and first attempts whose task was lost)."""
    due = list(PushDelivery.objects.filter(Q(status__in=PushDelivery.OPEN_STATUSES),
                                           next_attempt_at__lte=now or timezone.now())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@shared_task(name="ocpi_app.push.deliver", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def deliver(delivery_id: int) -> str | None:
    delivery = push_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task(name="ocpi_app.push.deliver_due")
def deliver_due() -> int:
    return pushes_queue_due()
