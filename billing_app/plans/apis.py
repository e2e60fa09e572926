"""REST API for subscription plans (read-only): the plans a driver may choose (their operator's active
ones; staff see all of their operators' plans) and the driver's current subscription with the period
in force. Subscribing, changing and cancelling stay in the portal (they charge a card)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing_app.models import Plan, SubscriptionPeriod
from billing_app.plans import services as plans
from sessions_app.models import User
from sessions_app.selectors import scope_to_user


def _is_driver(user: User) -> bool:
    return bool(user.is_authenticated and user.is_driver and not user.is_superuser)


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["id", "name", "description", "period", "fee_excl_vat", "vat_rate", "currency", "included_kwh",
                  "member_tariff", "energy_discount_percent", "time_discount_percent", "waive_flat_fee",
                  "idle_fee_policy", "idle_grace_minutes", "active"]


class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Drivers: the active plans of their operator. Operator and support staff: their operators' plans."""

    serializer_class = PlanSerializer
    queryset = Plan.objects.none()  # the schema's model; get_queryset scopes every request
    filterset_fields = ["period", "currency", "active"]

    def get_queryset(self):
        user = self.request.user
        if _is_driver(user):
            return plans.plans_offered(driver=user)
        return scope_to_user(Plan.objects.all(), user).order_by("operator_id", "name")


class PeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionPeriod
        fields = ["period_start", "period_end", "status", "currency", "fee_excl_vat", "fee_vat", "fee_incl_vat",
                  "included_kwh", "used_kwh", "invoice", "paid_at"]


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    plan = PlanSerializer()
    pending_plan = PlanSerializer(allow_null=True, help_text="takes effect at the next period")
    current_period_start = serializers.DateField()
    current_period_end = serializers.DateField(help_text="exclusive; the renewal is due from this day on")
    cancel_at_period_end = serializers.BooleanField()
    current_period = PeriodSerializer(allow_null=True, help_text="the period in force, with the kWh used")


class SubscriptionView(APIView):
    """The driver's live subscription (active, past due or suspended); 404 when they have none."""

    @extend_schema(responses={200: SubscriptionSerializer,
                              404: OpenApiResponse(description="no live subscription")})
    def get(self, request):
        user = request.user
        subscription = plans.live_subscription(driver=user) if _is_driver(user) else None
        if subscription is None:
            raise NotFound("You have no subscription.")
        subscription.current_period = (subscription.periods.filter(period_start=subscription.current_period_start)
                                       .first())
        return Response(SubscriptionSerializer(subscription).data)
