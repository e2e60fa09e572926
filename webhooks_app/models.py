"""Outbound webhooks: the endpoints an operator registers, the events we emit, and one delivery per
(event, endpoint) with its attempt history.

Invariants kept by the database: one delivery per (event, endpoint), one attempt row per (delivery,
number), event types from the catalogue, an endpoint URL that is http(s) and a secret that is never
empty, a retrying delivery always knows when it is due, a finished one never does.
"""
from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from evbilling.outbound_delivery import OutboundDelivery
from sessions_app.models import Operator

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret


class EventType(models.TextChoices):
    SESSION_COMPLETED = "session.completed", "Charging session completed"
    INVOICE_ISSUED = "invoice.issued", "Invoice or receipt issued"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    INVOICE_VOIDED = "invoice.voided", "Invoice voided"
    CREDIT_NOTE_ISSUED = "credit_note.issued", "Credit note issued"
    PAYMENT_CAPTURED = "payment.captured", "Card payment captured"
    PAYMENT_FAILED = "payment.failed", "Card payment failed"
    PAYMENT_REFUNDED = "payment.refunded", "Refund sent to the card"
    PAYMENT_DISPUTE_UPDATED = "payment.dispute_updated", "Chargeback opened or closed at the card issuer"
    DISPUTE_OPENED = "dispute.opened", "Dispute ticket opened"
    DISPUTE_RESOLVED = "dispute.resolved", "Dispute ticket resolved"
    TEST = "webhook.test", "Test event (sent from the admin)"


#: What an endpoint may subscribe to (the test event goes to whoever asks for it).
SUBSCRIBABLE = [(value, label) for value, label in EventType.choices if value != EventType.TEST]


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def validate_webhook_url(url: str) -> None:
    """http(s) with a host; plain http only where WEBHOOKS_ALLOW_HTTP is on (development)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter a full http:// or https:// URL, e.g. https://helpdesk.example.com/hooks/ev."))
    if parts.scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise ValidationError(_("Webhook URLs must use https://."))
    if parts.username or parts.password:
        raise ValidationError(_("Put no user name or password in the URL: check the signature instead."))


def validate_event_types(value) -> None:
    allowed = {choice for choice, _ in SUBSCRIBABLE}
    if not isinstance(value, list) or any(item not in allowed for item in value):
        raise ValidationError(_("Event types must be a list of: %(types)s (empty: all of them).") % {
            "types": ", ".join(sorted(allowed))})


class WebhookEndpoint(models.Model):
    """Where an operator wants its events POSTed, and which ones (an empty list means every event)."""

    OWNER_PATH = "operator"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                 related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500, validators=[validate_webhook_url])
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list, blank=True, validators=[validate_event_types],
                                   help_text=_("the events sent to this URL; none ticked means all of them"))
    secret = models.CharField(_("secret"), max_length=100, default=secret_generate, editable=False,
                              help_text=_("signs every request (Evbilling-Signature); rotate it from the list"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    secret_rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True)

    class Meta:
        verbose_name_plural = _("webhook endpoints")
        ordering = ["operator", "url"]
        verbose_name = _("webhook endpoint")
        constraints = [
            models.CheckConstraint(name="webhook_endpoint_url_http",
                                   condition=Q(url__startswith="https://") | Q(url__startswith="http://")),
            models.CheckConstraint(name="webhook_endpoint_secret_set", condition=Q(secret__startswith=SECRET_PREFIX)
                                   & ~Q(secret=SECRET_PREFIX)),
        ]

    def __str__(self) -> str:
        return self.description or self.url

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """Something that happened to an operator's data, as it was sent (payload frozen at emission)."""

    OWNER_PATH = "operator"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                 related_name="webhook_events")
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at"]
        verbose_name = _("webhook event")
        constraints = [models.CheckConstraint(name="webhook_event_type_known", condition=Q(type__in=EventType.values))]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(OutboundDelivery):
    """One event on its way to one endpoint: pending (first attempt queued), retrying (due again at
    `next_attempt_at`), succeeded (a 2xx came back) or failed (attempts used up, or not sendable).

    `locked_until` is the lease of the attempt under way: while it lasts nobody else claims the row,
    and an attempt that died with its worker is taken up again once it has passed."""

    OWNER_PATH = "endpoint__operator"

    event = models.ForeignKey(WebhookEvent, verbose_name=_("event"), on_delete=models.PROTECT,
                              related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE,
                                 related_name="deliveries")
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(_("last response status"), null=True, blank=True)
    last_response_body = models.TextField(_("last response body"), blank=True,
                                          help_text=_("the start of the receiver's answer"))
    redelivery_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("redelivery requested by"),
                                                null=True, blank=True,
                                                on_delete=models.SET_NULL, related_name="+")
    redelivery_requested_at = models.DateTimeField(_("redelivery requested at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta(OutboundDelivery.Meta):
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "retrying"]),
                                name="webhook_delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_event_endpoint"),
            models.CheckConstraint(name="webhook_delivery_status_known",
                                   condition=Q(status__in=["pending", "retrying", "succeeded", "failed"])),
            models.CheckConstraint(name="webhook_delivery_open_is_scheduled",
                                   condition=~Q(status__in=["pending", "retrying"]) | Q(next_attempt_at__isnull=False)),
            models.CheckConstraint(name="webhook_delivery_done_not_scheduled",
                                   condition=Q(status__in=["pending", "retrying"]) | Q(next_attempt_at__isnull=True)),
            models.CheckConstraint(name="webhook_delivery_tried_unless_pending",
                                   condition=Q(status="pending") | Q(attempts__gte=1)),
            models.CheckConstraint(name="webhook_delivery_succeeded_has_time",
                                   condition=~Q(status="succeeded") | Q(delivered_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return _("%(type)s to %(endpoint)s (%(status)s)") % {
            "type": self.event.type, "endpoint": self.endpoint, "status": self.status}


class WebhookAttempt(models.Model):
    """One POST of a delivery (or one refusal to send it), for the delivery log."""

    OWNER_PATH = "delivery__endpoint__operator"

    delivery = models.ForeignKey(WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE,
                                 related_name="attempt_log")
    number = models.PositiveIntegerField(_("number"))
    attempted_at = models.DateTimeField(_("attempted at"))
    duration_ms = models.PositiveIntegerField(_("duration ms"), default=0)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, blank=True,
                                     on_delete=models.SET_NULL,
                                     related_name="+", help_text=_("who asked for a manual redelivery"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_row_per_number")]

    def __str__(self) -> str:
        outcome = self.response_status or self.error or "-"
        return _("attempt %(number)s: %(outcome)s") % {"number": self.number, "outcome": outcome}
