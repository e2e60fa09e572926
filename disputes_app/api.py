"""REST API for dispute tickets: drivers open one about their own session or invoice and answer on it;
support and operator staff read and answer the tickets of the operators they serve (and may write
internal notes, which drivers never see). Thin: input is checked here, every change is a service call
(`ticket_open`, `message_post`), a refusal is a 400 with the service's message.

A ticket outside the caller's scope is a 404. A session or invoice that is not the caller's, named when
opening a ticket, is a 400 on that field, as if it did not exist; nothing is written.
"""
from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from billing_app.invoicing.apis import documents_visible_to
from billing_app.models import Invoice
from evbilling.api_conventions import IdFilter
from sessions_app.models import ChargingSession
from sessions_app.selectors import visible_to

from . import selectors, services
from .models import DisputeTicket, MessageAttachment, TicketMessage


def _staff(request) -> bool:
    return selectors.is_ticket_staff(request.user)


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageAttachment
        fields = ["id", "original_name", "content_type", "size"]


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = TicketMessage
        fields = ["id", "author", "from_staff", "internal", "body", "created_at", "attachments"]

    def get_author(self, message) -> str | None:
        return message.author.get_username() if message.author_id else None


class TicketSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=" | ".join(DisputeTicket.Status.values))
    invoice = serializers.IntegerField(source="invoice_id", read_only=True, allow_null=True)
    payment = serializers.IntegerField(source="payment_id", read_only=True, allow_null=True)

    class Meta:
        model = DisputeTicket
        fields = ["id", "subject", "reason", "status", "source", "session", "invoice", "payment", "opened_at",
                  "first_response_due", "resolution_due", "first_responded_at", "resolved_at",
                  "resolution_kind", "resolution_explanation", "resolution_amount", "resolution_currency"]


class TicketDetailSerializer(TicketSerializer):
    messages = serializers.SerializerMethodField(help_text="the conversation, oldest first (internal notes "
                                                           "for staff only)")

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "messages"]

    @extend_schema(responses=MessageSerializer(many=True))
    def get_messages(self, ticket) -> list[dict]:
        staff = self.context.get("staff", False)
        messages = selectors.conversation(ticket, include_internal=staff)
        return MessageSerializer(messages, many=True).data


class TicketOpenSerializer(serializers.Serializer):
    """A driver names the session or the invoice the ticket is about (one of them); the choices are
    limited to what the caller may see, so someone else's is "does not exist"."""

    reason = serializers.ChoiceField(choices=DisputeTicket.Reason.choices)
    description = serializers.CharField(max_length=5000, help_text="what is wrong, in the driver's words")
    session = serializers.PrimaryKeyRelatedField(queryset=ChargingSession.objects.none(), required=False,
                                                 allow_null=True)
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.none(), required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            user = request.user
            self.fields["session"].queryset = visible_to(ChargingSession.objects.all(), user, driver_path="driver")
            self.fields["invoice"].queryset = documents_visible_to(Invoice, user)

    def validate(self, attrs):
        if not attrs.get("session") and not attrs.get("invoice"):
            raise serializers.ValidationError({"session": _("Name the session or the invoice the ticket is about.")})
        return attrs


class MessagePostSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000)
    internal = serializers.BooleanField(default=False, help_text="a note for staff only (staff may write)")


class TicketFilter(django_filters.FilterSet):
    session = IdFilter(field_name="session_id", help_text="tickets about this session")
    invoice = IdFilter(field_name="invoice_id", help_text="tickets about this invoice")

    class Meta:
        model = DisputeTicket
        fields = ["status", "reason"]


class DisputeViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Dispute tickets: drivers their own, support and operator staff those of the operators they serve.
    POST opens one; POST to `messages` answers on one."""

    filterset_class = TicketFilter
    queryset = DisputeTicket.objects.none()  # the schema's model; get_queryset scopes every request

    def get_serializer_class(self):
        if self.action == "create":
            return TicketOpenSerializer
        if self.action == "messages":
            return MessagePostSerializer
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "staff": _staff(self.request)}

    def get_queryset(self):
        user = self.request.user
        tickets = selectors.tickets_for_staff(user) if _staff(self.request) else selectors.tickets_for_driver(user)
        return tickets.order_by("-opened_at", "-pk")

    @extend_schema(request=TicketOpenSerializer, responses={201: TicketDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = TicketOpenSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        invoice = data.validated_data.get("invoice")
        ticket = services.ticket_open(
            by=request.user, reason=data.validated_data["reason"], description=data.validated_data["description"],
            session=data.validated_data.get("session"), invoice_id=invoice.pk if invoice else None)
        output = TicketDetailSerializer(ticket, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MessagePostSerializer, responses={201: MessageSerializer})
    @action(detail=True, methods=["post"])
    def messages(self, request, pk=None):
        ticket = self.get_object()
        data = MessagePostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["internal"] and not _staff(request):
            raise PermissionDenied(_("Only support staff can write internal notes."))
        message = services.message_post(ticket=ticket, author=request.user, body=data.validated_data["body"],
                                        internal=data.validated_data["internal"])
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
