"""Stripe webhooks: verify, record, acknowledge; processing happens in a task (`stripe_events`).

`WebhookView`, mounted on dj-stripe's URL (/stripe/webhook/<uuid>/), verifies the signature on the raw body
with dj-stripe's WebhookEventTrigger, records the Event (one row per event id) and queues
`stripe_event_process` on commit, so Stripe gets its 2xx without waiting for any API call (dj-stripe's own
view would sync every object from the API inside the request, and fail on objects it cannot fetch). The task
lets dj-stripe mirror the objects and applies the event to our Payment (`stripe_events`).
"""
from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from djstripe.models import Event, WebhookEndpoint, WebhookEventTrigger
from djstripe.models.webhooks import get_remote_ip
from djstripe.settings import djstripe_settings

from billing_app.payments.tasks import stripe_event_process
from evbilling.on_commit import after_commit

logger = logging.getLogger(__name__)

@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class WebhookView(View):
    """dj-stripe's webhook endpoint (/stripe/webhook/<uuid>/, same models and signature check) minus
    its synchronous processing: verify, record the trigger and the Event, answer, process in a task."""

    def post(self, request, uuid):
        if "stripe-signature" not in request.headers:
            return HttpResponseBadRequest()
        endpoint = get_object_or_404(WebhookEndpoint, djstripe_uuid=uuid)
        trigger = WebhookEventTrigger.objects.create(
            headers=dict(request.headers), body=request.body.decode(request.encoding or "utf-8", "replace"),
            remote_ip=get_remote_ip(request), stripe_trigger_account=endpoint.djstripe_owner_account,
            webhook_endpoint=endpoint,
        )
        trigger.valid = trigger.validate(secret=endpoint.secret, api_key="")
        if not trigger.valid:
            trigger.save(update_fields=["valid"])
            return HttpResponseBadRequest()
        event = webhook_event_record(trigger)
        trigger.event = event
        trigger.processed = True
        trigger.save(update_fields=["valid", "event", "processed"])
        return HttpResponse(str(trigger.id))


def webhook_event_record(trigger: WebhookEventTrigger) -> Event:
    """Record the verified event once (dj-stripe's Event, unique id) and queue its processing on commit.
    A replayed event is queued again: processing is idempotent, and this recovers a lost task."""
    data = trigger.json_body
    event = Event.objects.filter(id=data["id"]).first()
    if event is None:
        try:
            with transaction.atomic():
                event = Event._create_from_stripe_object(data, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        except IntegrityError:
            event = Event.objects.get(id=data["id"])
    event_id = event.id
    after_commit(stripe_event_process.delay, event_id)
    return event
