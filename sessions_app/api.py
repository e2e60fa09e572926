"""REST API for the charging domain: stations (operator staff) and id tokens (drivers block lost cards)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from .models import ChargingStation, Connector, IdToken, Location
from .selectors import scope_to_user, visible_to
from .services.tokens import token_block


class IsOperatorStaffOrReadOnlySupport(permissions.BasePermission):
    """Operator staff and superusers manage; support staff read; drivers are refused."""

    def has_permission(self, request, view):
        user = request.user
        if user.is_superuser or user.is_operator_staff:
            return True
        return user.is_support and request.method in permissions.SAFE_METHODS


class ConnectorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["number", "standard", "power_type", "max_power_kw", "status"]
        read_only_fields = ["status"]


class StationSerializer(serializers.ModelSerializer):
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.none())
    connectors = ConnectorSerializer(many=True, required=False)
    password = serializers.CharField(write_only=True, min_length=16, required=False,
                                     help_text="OCPP HTTP Basic password (stored hashed)")
    online = serializers.SerializerMethodField()

    class Meta:
        model = ChargingStation
        fields = ["id", "ocpp_identity", "location", "vendor", "model", "serial_number", "firmware_version",
                  "status", "last_seen_at", "online", "connectors", "password"]
        read_only_fields = ["firmware_version", "status", "last_seen_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["location"].queryset = scope_to_user(Location.objects.all(), request.user)

    def get_online(self, station) -> bool:
        return station.is_online

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": _("A new station needs an OCPP password.")})
        numbers = [c["number"] for c in attrs.get("connectors", [])]
        if len(numbers) != len(set(numbers)):
            raise serializers.ValidationError({"connectors": _("Connector numbers must be unique.")})
        return attrs

    @transaction.atomic
    def create(self, validated):
        connectors = validated.pop("connectors", [])
        password = validated.pop("password")
        station = ChargingStation(**validated)
        station.set_password(password)
        station.save()
        Connector.objects.bulk_create(Connector(station=station, **c) for c in connectors)
        return station

    @transaction.atomic
    def update(self, station, validated):
        validated.pop("connectors", None)  # connectors change through the admin, not here
        password = validated.pop("password", None)
        for name, value in validated.items():
            setattr(station, name, value)
        if password:
            station.set_password(password)
        station.save()
        return station


class StationViewSet(viewsets.ModelViewSet):
    serializer_class = StationSerializer
    permission_classes = [permissions.IsAuthenticated, IsOperatorStaffOrReadOnlySupport]
    filterset_fields = ["location", "status"]

    def get_queryset(self):
        return scope_to_user(ChargingStation.objects.all(), self.request.user).select_related(
            "location").prefetch_related("connectors").order_by("ocpp_identity")

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise PermissionDenied(_("This station has sessions; it can be taken out of service, not deleted.")) \
                from None


class IdTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = IdToken
        fields = ["id", "uid", "type", "status", "expires_at", "driver"]
        read_only_fields = fields


class IdTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A driver's own cards and app tokens (staff: their operator's); a lost card can be blocked."""

    serializer_class = IdTokenSerializer
    filterset_fields = ["status", "type"]

    def get_queryset(self):
        return visible_to(IdToken.objects.all(), self.request.user, driver_path="driver").order_by("uid")

    @extend_schema(request=None, responses=IdTokenSerializer)
    @action(detail=True, methods=["post"])
    def block(self, request, pk=None):
        token = self.get_object()
        if request.user.is_support:
            raise PermissionDenied(_("Support staff cannot block tokens."))
        token = token_block(token_id=token.pk, by=request.user)
        return Response(IdTokenSerializer(token).data, status=status.HTTP_200_OK)
