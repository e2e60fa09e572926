"""REST API for sessions with what they cost and why ("explain my bill")."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing_app.models import SessionCharge
from billing_app.settlement.selectors import charge_vat_breakdown
from evbilling.api_conventions import IsoDateTimeFilter
from sessions_app.models import ChargingSession, MeterSample, MeterSignatureCheck
from sessions_app.selectors import visible_to


class ChargeSerializer(serializers.ModelSerializer):
    tariff = serializers.SlugRelatedField(slug_field="ocpi_id", read_only=True)
    lines = serializers.SerializerMethodField(help_text="per dimension: quantity, billed after step size, "
                                                        "unit price, amount, the line's own VAT (information)")
    vat_breakdown = serializers.SerializerMethodField(
        help_text="VAT per rate (EN 16931 BR-CO-17): rate (null: no VAT), taxable_amount, vat_amount; "
                  "total_vat is their sum")

    class Meta:
        model = SessionCharge
        fields = ["currency", "total_excl_vat", "total_vat", "total_incl_vat", "total_energy_kwh",
                  "total_time_hours", "total_parking_hours", "tariff", "vat_breakdown", "lines", "priced_at"]

    def get_lines(self, charge) -> list[dict]:
        return charge.breakdown.get("lines", [])

    def get_vat_breakdown(self, charge) -> list[dict]:
        return charge_vat_breakdown(charge)


class SessionSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="connector.station.ocpp_identity")
    connector = serializers.IntegerField(source="connector.number")
    location = serializers.CharField(source="connector.station.location.name")
    energy_kwh = serializers.DecimalField(max_digits=12, decimal_places=3)
    duration_seconds = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()

    class Meta:
        model = ChargingSession
        fields = ["id", "state", "started_at", "stopped_at", "duration_seconds", "energy_kwh", "stop_reason",
                  "location", "station", "connector", "cost"]

    def get_duration_seconds(self, session) -> int | None:
        return int(session.duration.total_seconds()) if session.duration is not None else None

    @extend_schema(exclude=True)
    def get_cost(self, session) -> dict | None:
        charge = getattr(session, "charge", None)
        if charge is None:
            return None
        return {"currency": charge.currency, "excl_vat": str(charge.total_excl_vat),
                "incl_vat": str(charge.total_incl_vat)}


class MeterSignatureSerializer(serializers.ModelSerializer):
    """What the meter's signed readings (OCMF) prove: verified, invalid (reasons) or unsigned."""

    reasons = serializers.ListField(child=serializers.DictField(child=serializers.CharField()),
                                    help_text='why it is invalid: [{"code", "detail"}]')
    signed_energy_wh = serializers.DecimalField(max_digits=15, decimal_places=3, allow_null=True, read_only=True)

    class Meta:
        model = MeterSignatureCheck
        fields = ["status", "meter_serial", "begin_wh", "end_wh", "signed_energy_wh", "reasons", "checked_at"]


class SessionDetailSerializer(SessionSerializer):
    charge = serializers.SerializerMethodField()
    meter_signature = serializers.SerializerMethodField(
        help_text="the meter's signed readings (German Eichrecht); the signed data itself is downloaded from the "
                  "portal's session page")

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "meter_start_wh", "meter_stop_wh", "charge", "meter_signature"]

    def get_charge(self, session) -> dict | None:
        charge = getattr(session, "charge", None)
        return ChargeSerializer(charge).data if charge else None

    @extend_schema_field(MeterSignatureSerializer(allow_null=True))
    def get_meter_signature(self, session) -> dict | None:
        check = MeterSignatureCheck.objects.filter(session=session).first()
        return MeterSignatureSerializer(check).data if check else None


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MeterSample
        fields = ["taken_at", "energy_wh", "power_w", "current_a", "soc_percent"]


class SessionFilter(django_filters.FilterSet):
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    station = django_filters.CharFilter(field_name="connector__station__ocpp_identity")

    class Meta:
        model = ChargingSession
        fields = ["state"]


class SessionViewSet(viewsets.ReadOnlyModelViewSet):
    """Drivers: their own sessions. Operator and support staff: their operators' sessions."""

    filterset_class = SessionFilter

    def get_serializer_class(self):
        return SessionDetailSerializer if self.action == "retrieve" else SessionSerializer

    def get_queryset(self):
        return (visible_to(ChargingSession.objects.all(), self.request.user, driver_path="driver")
                .select_related("connector__station__location", "charge__tariff").order_by("-started_at"))

    @extend_schema(responses=SampleSerializer(many=True))
    @action(detail=True, pagination_class=None)  # a session's whole curve, as the schema says
    def samples(self, request, pk=None):
        session = self.get_object()
        return Response(SampleSerializer(session.samples.order_by("taken_at"), many=True).data)
