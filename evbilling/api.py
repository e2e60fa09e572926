"""The REST API's entry points: sign-in for API tokens, sign-out, and the router of every app's viewsets
(/api/v1/). Pagination and the error shape are in `api_conventions` (read by the settings)."""
from __future__ import annotations

from django.contrib.auth import authenticate
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from evbilling import signin
from evbilling.api_tokens import TokenAuthentication, api_token_create, api_token_revoke, api_tokens_revoke_all


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenView(APIView):
    """Exchange a username and password for a new API token, valid for a limited time (24 hours by default).
    Failed attempts count toward the sign-in lockout of the account and of the client address (429 while locked)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenLoginSerializer,
                   responses={200: inline_serializer("Token", {"token": serializers.CharField()}),
                              400: OpenApiResponse(description="wrong username or password"),
                              429: OpenApiResponse(description="too many failed sign-ins: locked for a while")})
    def post(self, request):
        credentials = TokenLoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # The DRF request, not the HttpRequest: axes flags the lockout on it, and the lockout middleware
        # (which would answer with the HTML page) never sees the flag.
        user = authenticate(request, **credentials.validated_data)
        if getattr(request, "axes_locked_out", False):
            raise Throttled(wait=signin.lockout_seconds(), detail=signin.LOCKOUT_MESSAGE)
        if user is None:
            raise ValidationError({"non_field_errors": [_("Unable to log in with provided credentials.")]})
        return Response({"token": api_token_create(user=user)}, status=status.HTTP_200_OK)


class LogoutView(APIView):
    """Revoke the token this request is made with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the user (every device must sign in again); from a token or a browser session."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        api_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
