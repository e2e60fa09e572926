"""REST API for billing: sessions with what they cost and why ("explain my bill"), and tariffs as
OCPI 2.2.1 JSON in and out (operator staff)."""
from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from evbilling.api_conventions import IsoDateTimeFilter
from sessions_app.api import IsOperatorStaffOrReadOnlySupport
from sessions_app.models import ChargingSession, MeterSample
from sessions_app.selectors import operators_for, scope_to_user, visible_to

from . import ocpi
from .models import SessionCharge, Tariff
from .tariffs import TariffImportError, tariff_import_ocpi, tariff_to_ocpi


class ChargeSerializer(serializers.ModelSerializer):
    tariff = serializers.SlugRelatedField(slug_field="ocpi_id", read_only=True)
    lines = serializers.SerializerMethodField(help_text="per dimension: quantity, billed after step size, "
                                                        "unit price, amount, VAT")

    class Meta:
        model = SessionCharge
        fields = ["currency", "total_excl_vat", "total_vat", "total_incl_vat", "total_energy_kwh",
                  "total_time_hours", "total_parking_hours", "tariff", "lines", "priced_at"]

    def get_lines(self, charge) -> list[dict]:
        return charge.breakdown.get("lines", [])


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


class SessionDetailSerializer(SessionSerializer):
    charge = serializers.SerializerMethodField()

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "meter_start_wh", "meter_stop_wh", "charge"]

    def get_charge(self, session) -> dict | None:
        charge = getattr(session, "charge", None)
        return ChargeSerializer(charge).data if charge else None


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


class ExactJSONParser(JSONParser):
    """JSON with every non-integer number read as Decimal (OCPI prices stay exact)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return ocpi.loads(stream.read())
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None


class TariffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tariff
        fields = ["id", "ocpi_id", "name", "currency", "type", "operator", "last_updated"]


class TariffViewSet(viewsets.ReadOnlyModelViewSet):
    """Tariffs of the operator. `ocpi` gives the OCPI 2.2.1 Tariff object; POST an OCPI object to
    `import` to create or replace one (by its id)."""

    serializer_class = TariffSerializer
    permission_classes = [permissions.IsAuthenticated, IsOperatorStaffOrReadOnlySupport]
    filterset_fields = ["currency", "type"]

    def get_queryset(self):
        return scope_to_user(Tariff.objects.all(), self.request.user).order_by("name")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True)
    def ocpi(self, request, pk=None):
        return Response(tariff_to_ocpi(self.get_object()))  # DRF writes Decimals as JSON numbers

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: TariffSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[ExactJSONParser])
    def import_ocpi(self, request):
        operators = list(operators_for(request.user))
        if len(operators) != 1:
            raise ValidationError({"operator": "Import as the staff of exactly one operator."})
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": "Send one OCPI Tariff object."})
        try:
            tariff = tariff_import_ocpi(operator=operators[0], data=request.data)
        except TariffImportError as error:
            raise ValidationError({"tariff": str(error)}) from None
        return Response(TariffSerializer(tariff).data, status=status.HTTP_201_CREATED)

