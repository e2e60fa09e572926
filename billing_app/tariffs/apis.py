"""REST API for tariffs as OCPI 2.2.1 JSON in and out (operator staff; support staff read)."""
from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from billing_app.models import Tariff
from billing_app.pricing import ocpi
from billing_app.tariffs.services import TariffImportError, tariff_import_ocpi, tariff_to_ocpi, tariff_warnings
from sessions_app.api import IsOperatorStaffOrReadOnlySupport
from sessions_app.selectors import operators_for, scope_to_user


class ExactJSONParser(JSONParser):
    """JSON with every non-integer number read as Decimal (OCPI prices stay exact)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return ocpi.loads(stream.read())
        except ValueError as error:
            raise ParseError(_("JSON parse error - %(detail)s") % {"detail": error}) from None


class TariffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tariff
        fields = ["id", "ocpi_id", "name", "currency", "type", "operator", "last_updated"]


class TariffWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    path = serializers.CharField()
    message = serializers.CharField()


class TariffImportedSerializer(TariffSerializer):
    """The imported tariff with the tariff checks' warnings (never a refusal)."""

    warnings = TariffWarningSerializer(many=True, read_only=True)

    class Meta(TariffSerializer.Meta):
        fields = [*TariffSerializer.Meta.fields, "warnings"]


class TariffViewSet(viewsets.ReadOnlyModelViewSet):
    """Tariffs of the operator. `ocpi` gives the OCPI 2.2.1 Tariff object; POST an OCPI object to
    `import` to create or replace one (by its id); the answer carries the tariff checks as `warnings`
    (code, path, message), which never refuse an import."""

    serializer_class = TariffSerializer
    permission_classes = [permissions.IsAuthenticated, IsOperatorStaffOrReadOnlySupport]
    filterset_fields = ["currency", "type"]

    def get_queryset(self):
        return scope_to_user(Tariff.objects.all(), self.request.user).order_by("name")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True)
    def ocpi(self, request, pk=None):
        return Response(tariff_to_ocpi(self.get_object()))  # DRF writes Decimals as JSON numbers

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: TariffImportedSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[ExactJSONParser])
    def import_ocpi(self, request):
        operators = list(operators_for(request.user))
        if len(operators) != 1:
            raise ValidationError({"operator": _("Import as the staff of exactly one operator.")})
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": _("Send one OCPI Tariff object.")})
        try:
            tariff = tariff_import_ocpi(operator=operators[0], data=request.data)
        except TariffImportError as error:
            raise ValidationError({"tariff": str(error)}) from None
        tariff.warnings = tariff_warnings(tariff)
        return Response(TariffImportedSerializer(tariff).data, status=status.HTTP_201_CREATED)

