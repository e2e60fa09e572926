"""The REST API's entry points: token login and the router of every app's viewsets (/api/v1/).
Pagination and the error shape are in `api_conventions` (read by the settings)."""
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView


class TokenView(APIView):
    """Exchange a username and password for an API token (rate limited)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=AuthTokenSerializer,
                   responses=inline_serializer("Token", {"token": serializers.CharField()}))
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key}, status=status.HTTP_200_OK)


class ApiRouter(DefaultRouter):
    """The viewsets' routes plus a few single-object views that are no collection (`extra_urls`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_urls: list = []

    def get_urls(self):
        return [*super().get_urls(), *self.extra_urls]


router = ApiRouter()


def register_routes() -> ApiRouter:
    """Every app's viewsets under /api/v1/."""
    from billing_app.invoicing.apis import CreditNoteViewSet, InvoiceViewSet
    from billing_app.payments.apis import PaymentViewSet
    from billing_app.plans.apis import PlanViewSet, SubscriptionView
    from billing_app.settlement.apis import SessionViewSet
    from billing_app.tariffs.apis import TariffViewSet
    from disputes_app.api import DisputeViewSet
    from sessions_app.api import IdTokenViewSet, StationViewSet

    router.register("sessions", SessionViewSet, basename="session")
    router.register("tariffs", TariffViewSet, basename="tariff")
    router.register("stations", StationViewSet, basename="station")
    router.register("tokens", IdTokenViewSet, basename="token")
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
    router.register("payments", PaymentViewSet, basename="payment")
    router.register("disputes", DisputeViewSet, basename="dispute")
    router.register("plans", PlanViewSet, basename="plan")
    router.extra_urls = [path("subscription/", SubscriptionView.as_view(), name="subscription")]
    return router
