"""Admin of webhooks: operator staff manage their endpoints (the secret shown, rotatable, a test event
a click away) and read their delivery log (each attempt with the receiver's answer), redelivering what
they choose. Scoped like every admin page: another operator's endpoint or delivery is not found."""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from sessions_app.admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin, ScopedInline

from . import payloads, services
from .forms import WebhookEndpointForm
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _may_act(request) -> bool:
    return request.user.is_superuser or request.user.is_operator_staff


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OperatorScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "subscriptions", "is_active", "created_at", "operator"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    actions = ["send_test_event", "rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["secret", "secret_rotated_at", "signature_help", "deliveries", "created_at"]

    @admin.display(description=_("events"))
    def subscriptions(self, endpoint):
        return ", ".join(endpoint.event_types) if endpoint.event_types else "all events"

    @admin.display(description=_("checking the signature"))
    def signature_help(self, endpoint):
        return ("Each request carries Evbilling-Signature: t=<unix time>,v1=<hex>, the HMAC-SHA256 of "
                "\"<t>.<raw body>\" with this secret; see docs/webhooks.md for a receiver in Python.")

    @admin.display(description=_("delivery log"))
    def deliveries(self, endpoint):
        url = reverse("admin:webhooks_app_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{} deliveries</a>', url, endpoint.deliveries.count())

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            try:
                services.webhook_endpoint_send_test(endpoint_id=endpoint.pk, user=request.user)
            except services.WebhookError as error:
                self.message_user(request, str(error), messages.WARNING)
            else:
                self.message_user(request, f"Test event queued for {endpoint}; see its delivery log.")

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            try:
                services.webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, user=request.user)
            except services.WebhookError as error:
                self.message_user(request, str(error), messages.WARNING)
            else:
                self.message_user(request, f"{endpoint} has a new secret (on its page): update the receiver now, "
                                           "the old secret no longer signs.", messages.SUCCESS)


class WebhookAttemptInline(ScopedInline, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "duration_ms", "response_status", "error", "response_body", "requested_by"]
    readonly_fields = fields
    staff_may_add = False
    staff_may_delete = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "last_response_status",
                    "next_attempt_at", "last_attempt_at", "created_at"]
    list_filter = ["status", "event__type"]
    search_fields = ["endpoint__url", "last_error"]
    list_select_related = ["event", "endpoint"]
    fields = ["event_type", "event_id", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at",
              "delivered_at", "last_response_status", "last_error", "last_response_body", "request_body",
              "created_at"]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description=_("event id"))
    def event_id(self, delivery):
        return str(delivery.event.event_id)

    @admin.display(description=_("request body (signed anew at each attempt)"))
    def request_body(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(payloads.envelope(delivery.event), indent=2))

    def has_redeliver_permission(self, request):
        return _may_act(request)

    @admin.action(description=_("Redeliver now"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        queued = 0
        for delivery in queryset:
            try:
                services.webhook_delivery_redeliver(delivery_id=delivery.pk, user=request.user)
            except services.WebhookError as error:
                self.message_user(request, f"Delivery {delivery.pk}: {error}", messages.WARNING)
            else:
                queued += 1
        if queued:
            self.message_user(request, f"{queued} delivery(ies) queued again.", messages.SUCCESS)
