"""REST API for card payments: what was held, captured and refunded for each session (or invoice), the
status and why a payment failed. Read-only: payments move through `billing_app.payments.services` only.

A driver sees their own payments, operator and support staff their operators', superusers all; another's
payment is a 404. Stripe's own ids stay out of the output (support looks them up in the admin).
"""
from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from billing_app.models import Payment, Refund
from billing_app.payments.messages import failure_text
from evbilling.api_conventions import IdFilter
from sessions_app.selectors import visible_to


class RefundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = ["id", "amount", "status", "reason", "failure_message", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["failure_message"] = failure_text(data["failure_message"])
        return data


class PaymentSerializer(serializers.ModelSerializer):
    invoice = serializers.IntegerField(source="invoice_id", read_only=True, allow_null=True,
                                       help_text="the invoice this payment settles, if any")
    amount_held = serializers.DecimalField(source="amount_authorized", max_digits=14, decimal_places=2,
                                           read_only=True, help_text="what the card issuer authorized")
    failure_reason = serializers.SerializerMethodField(help_text="why it failed, in the reader's language")
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "session", "invoice", "kind", "status", "currency", "amount_requested", "amount_held",
                  "amount_captured", "amount_refunded", "amount_due", "failure_code", "failure_reason",
                  "dispute_status", "created_at", "authorized_at", "settled_at", "refunds"]

    def get_failure_reason(self, payment) -> str:
        return failure_text(payment.failure_message)


class PaymentFilter(django_filters.FilterSet):
    session = IdFilter(field_name="session_id", help_text="payments of this session")
    invoice = IdFilter(field_name="invoice_id", help_text="payments that settle this invoice")

    class Meta:
        model = Payment
        fields = ["status", "kind"]


class PaymentViewSet(viewsets.ReadOnlyModelViewSet):
    """Card payments: drivers their own, operator and support staff their operators'. Filter by
    `session` to see how a session was paid."""

    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        return (visible_to(Payment.objects.all(), self.request.user, driver_path="driver")
                .prefetch_related("refunds").order_by("-created_at", "-pk"))
