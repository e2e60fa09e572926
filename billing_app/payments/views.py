"""A driver's payment methods as a JSON API (the portal page and the mobile app use it) and the page
that adds a card with the Stripe.js served by the configured Stripe host. Thin: parse, call a service.

Only the logged-in driver's own Customer is ever touched: another driver's card id is a 404.
"""
from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing_app.payments import methods as payment_methods


def _driver_only(user):
    if not (user.is_authenticated and user.is_driver):
        raise Http404("Payment methods belong to drivers.")
    return user


class PaymentMethodOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)
    wallet = serializers.CharField()
    is_default = serializers.BooleanField()


class SetupIntentOutputSerializer(serializers.Serializer):
    setup_intent_id = serializers.CharField()
    client_secret = serializers.CharField()
    publishable_key = serializers.CharField()


class PaymentMethodListApi(APIView):
    serializer_class = PaymentMethodOutputSerializer

    class InputSerializer(serializers.Serializer):
        setup_intent_id = serializers.CharField(required=False, allow_blank=True, default="")
        payment_method_id = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(responses=PaymentMethodOutputSerializer(many=True))
    def get(self, request):
        result = payment_methods.payment_methods_list(driver=_driver_only(request.user))
        return Response([asdict(m) for m in result])

    @extend_schema(request=InputSerializer, responses={201: PaymentMethodOutputSerializer})
    def post(self, request):
        driver = _driver_only(request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = payment_methods.payment_method_add(driver=driver, **data.validated_data)
        return Response(asdict(result), status=status.HTTP_201_CREATED)


class PaymentMethodDetailApi(APIView):
    serializer_class = PaymentMethodOutputSerializer

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, payment_method_id: str):
        payment_methods.payment_method_remove(driver=_driver_only(request.user), payment_method_id=payment_method_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PaymentMethodDefaultApi(APIView):
    serializer_class = PaymentMethodOutputSerializer

    @extend_schema(request=None, responses=PaymentMethodOutputSerializer)
    def post(self, request, payment_method_id: str):
        result = payment_methods.payment_method_set_default(driver=_driver_only(request.user),
                                                            payment_method_id=payment_method_id)
        return Response(asdict(result))


class SetupIntentApi(APIView):
    serializer_class = SetupIntentOutputSerializer

    @extend_schema(request=None, responses={201: SetupIntentOutputSerializer})
    def post(self, request):
        result = payment_methods.payment_method_setup_start(driver=_driver_only(request.user))
        return Response(result, status=status.HTTP_201_CREATED)


@login_required
def payment_methods_page(request):
    _driver_only(request.user)
    return render(request, "portal/payment_methods.html", {
        "stripe_js_url": settings.STRIPE_JS_URL, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    })
