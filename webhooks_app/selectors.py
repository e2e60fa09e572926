"""Read queries of the webhooks app, scoped to the operator they concern."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from sessions_app.selectors import scope_to_user

from .models import WebhookDelivery, WebhookEndpoint


def endpoints_listening(*, operator_ids: Iterable[int], event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints of these operators that subscribe to `event_type` (one query; the
    subscription list is filtered here because SQLite cannot search inside JSON lists)."""
    endpoints = WebhookEndpoint.objects.filter(operator_id__in=set(operator_ids), is_active=True).order_by("pk")
    return [endpoint for endpoint in endpoints if endpoint.subscribes_to(event_type)]


def deliveries_due(*, now: datetime) -> QuerySet[WebhookDelivery]:
    """Open deliveries whose time has come and that no attempt is working on."""
    return (WebhookDelivery.objects.filter(status__in=WebhookDelivery.OPEN_STATUSES, next_attempt_at__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now)).order_by("next_attempt_at", "pk"))


def deliveries_for(user) -> QuerySet[WebhookDelivery]:
    return scope_to_user(WebhookDelivery.objects.select_related("event", "endpoint"), user)


def endpoints_for(user) -> QuerySet[WebhookEndpoint]:
    return scope_to_user(WebhookEndpoint.objects.all(), user)
