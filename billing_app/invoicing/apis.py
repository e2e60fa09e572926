"""REST API for issued documents: invoices (receipts, monthly statements, plan fees) with their lines,
credit notes and PDFs, and what became of their payment.

Who sees what is `visible_to`: a driver their own documents, operator staff their operator's, support
staff the operators they serve, superusers all; anything else is a 404. Drafts are nobody's business
through the API (no number, no PDF, may still change). PDFs are the same stored files the portal and
the admin hand out (`document_pdf_bytes`), here reachable with an API token too.
"""
from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, viewsets
from rest_framework.decorators import action

from billing_app.companies.selectors import company_credit_notes, company_invoices, manager_company
from billing_app.invoicing.einvoice import FORMATS, einvoice_formats
from billing_app.invoicing.reconciliation import SESSION_KINDS
from billing_app.invoicing.views import einvoice_response, pdf_response
from billing_app.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceVatSubtotal, Payment
from evbilling.api_conventions import IdFilter
from sessions_app.models import User
from sessions_app.selectors import visible_to


def documents_visible_to(model: type[Invoice] | type[CreditNote], user: User) -> QuerySet:
    """Issued invoices or credit notes `user` may read (drafts excluded); a fleet manager their company's."""
    company = manager_company(user) if user.is_authenticated else None
    if company is not None:
        return company_invoices(company) if model is Invoice else company_credit_notes(company)
    if model is Invoice:
        issued = Invoice.objects.exclude(state=Invoice.State.DRAFT)
        return visible_to(issued, user, driver_path="driver").select_related("operator")
    return visible_to(CreditNote.objects.all(), user, driver_path="invoice__driver").select_related("invoice")


def _absolute(request, url_name: str, pk: int) -> str:
    url = reverse(url_name, args=[pk])
    return request.build_absolute_uri(url) if request is not None else url


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client send `Accept: application/pdf`; the PDF itself goes out as a plain response and
    an error (404) as the usual JSON body."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class XmlRenderer(PdfRenderer):
    """Lets a client send `Accept: application/xml` for an e-invoice's XML."""

    media_type = "application/xml"
    format = "xml"


EINVOICE_RENDERERS = [renderers.JSONRenderer, PdfRenderer, XmlRenderer]
EINVOICE_PATH = r"e-invoice/(?P<fmt>[a-z]+)"
EINVOICE_FORMAT = OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(FORMATS),
                                   description="facturx, cii (EN 16931 XML) or xrechnung (a buyer with a Leitweg-ID)")
EINVOICE_RESPONSES = {
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="Factur-X: PDF/A-3 with the XML"),
    (200, "application/xml"): OpenApiResponse(OpenApiTypes.BINARY, description="the EN 16931 or XRechnung XML"),
    404: OpenApiResponse(description="not yours, no such document, or not available in this format")}


def _einvoice_urls(request, url_name: str, document) -> dict[str, str]:
    urls = {fmt: reverse(url_name, args=[document.pk, fmt]) for fmt in einvoice_formats(document)}
    return {fmt: request.build_absolute_uri(url) if request is not None else url for fmt, url in urls.items()}


PDF_RESPONSES = {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="the PDF"),
                 404: OpenApiResponse(description="not yours, or no such document")}


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["position", "kind", "description", "session", "quantity", "unit", "unit_price", "vat_rate",
                  "amount_excl_vat", "vat_amount", "amount_incl_vat"]


class InvoiceVatSubtotalSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceVatSubtotal
        fields = ["vat_rate", "taxable_amount", "vat_amount"]


class CreditNoteLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNoteLine
        fields = ["position", "description", "vat_rate", "amount_excl_vat", "vat_amount", "amount_incl_vat"]


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    lines = CreditNoteLineSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()
    einvoice_urls = serializers.SerializerMethodField(
        help_text="the credit note as e-invoice per format: facturx, cii (EN 16931 XML), xrechnung (with a Leitweg-ID)")

    class Meta:
        model = CreditNote
        fields = ["id", "number", "invoice", "invoice_number", "issued_at", "reason", "currency",
                  "total_excl_vat", "total_vat", "total_incl_vat", "refund_amount", "refund_status", "lines", "pdf_url",
                  "einvoice_urls"]
        extra_kwargs = {"refund_amount": {"help_text": "what goes back to the card (0.00: no refund)"},
                        "refund_status": {"help_text": "none, pending (sent shortly, retried while Stripe is "
                                                       "unreachable), succeeded or failed"}}

    def get_pdf_url(self, note) -> str:
        return _absolute(self.context.get("request"), "credit-note-pdf", note.pk)

    def get_einvoice_urls(self, note) -> dict[str, str]:
        return _einvoice_urls(self.context.get("request"), "credit-note-einvoice", note)


class InvoiceSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="state", read_only=True, help_text="issued, paid or void")
    payment_status = serializers.SerializerMethodField(
        help_text="paid, void, pending (a card payment is under way), failed (the last card payment was "
                  "declined) or unpaid")
    lines = InvoiceLineSerializer(many=True, read_only=True)
    vat_breakdown = InvoiceVatSubtotalSerializer(
        source="vat_subtotals", many=True, read_only=True,
        help_text="VAT per rate (EN 16931 BR-CO-17): total_vat is their sum; a line's vat_amount is information")
    credit_notes = CreditNoteSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()
    einvoice_urls = serializers.SerializerMethodField(
        help_text="the invoice as e-invoice per format: facturx, cii (EN 16931 XML), xrechnung (with a Leitweg-ID)")

    class Meta:
        model = Invoice
        fields = ["id", "number", "kind", "status", "payment_status", "issued_at", "paid_at", "period_start",
                  "period_end", "session", "currency", "total_excl_vat", "total_vat", "total_incl_vat",
                  "vat_per_rate", "vat_breakdown", "lines", "credit_notes", "pdf_url", "einvoice_urls"]

    def get_payment_status(self, invoice) -> str:
        if invoice.state in (Invoice.State.PAID, Invoice.State.VOID):
            return invoice.state
        if getattr(invoice, "payment_open", False):
            return "pending"
        if getattr(invoice, "payment_failed", False) and not getattr(invoice, "payment_captured", False):
            return "failed"
        return "unpaid"

    def get_pdf_url(self, invoice) -> str:
        return _absolute(self.context.get("request"), "invoice-pdf", invoice.pk)

    def get_einvoice_urls(self, invoice) -> dict[str, str]:
        return _einvoice_urls(self.context.get("request"), "invoice-einvoice", invoice)


def with_payment_state(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate each invoice with whether a card payment for it is under way or has failed: a receipt's
    are its session's card payments, a statement's or plan fee's those that name the invoice."""
    settles = Payment.objects.filter(Q(invoice_id=OuterRef("pk"))
                                     | Q(session_id=OuterRef("session_id"), kind__in=SESSION_KINDS))
    return invoices.annotate(
        payment_open=Exists(settles.filter(status__in=Payment.OPEN_STATUSES)),
        payment_failed=Exists(settles.filter(status=Payment.Status.FAILED)),
        payment_captured=Exists(settles.filter(status=Payment.Status.CAPTURED)),
    )


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(field_name="state", choices=[
        (value, label) for value, label in Invoice.State.choices if value != Invoice.State.DRAFT])
    issued_after = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte",
                                             help_text="issued on or after this day (YYYY-MM-DD)")
    issued_before = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte",
                                              help_text="issued on or before this day (YYYY-MM-DD)")
    session = IdFilter(field_name="session_id", help_text="the session a receipt is for")

    class Meta:
        model = Invoice
        fields = ["kind"]


class InvoiceViewSet(viewsets.ReadOnlyModelViewSet):
    """Issued invoices: drivers their own, operator and support staff their operators'. `pdf` is the
    document as a PDF file."""

    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter

    def get_queryset(self):
        notes = CreditNote.objects.prefetch_related("lines").select_related("invoice").order_by("issued_at", "pk")
        return with_payment_state(documents_visible_to(Invoice, self.request.user)).prefetch_related(
            "lines", "vat_subtotals", Prefetch("credit_notes", queryset=notes)).order_by("-issued_at", "-pk")

    @extend_schema(responses=PDF_RESPONSES)
    @action(detail=True, renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def pdf(self, request, pk=None, format=None):
        return pdf_response(self.get_object())

    @extend_schema(responses=EINVOICE_RESPONSES, parameters=[EINVOICE_FORMAT])
    @action(detail=True, url_path=EINVOICE_PATH, renderer_classes=EINVOICE_RENDERERS)
    def einvoice(self, request, pk=None, fmt=None, format=None):
        return einvoice_response(self.get_object(), fmt)


class CreditNoteFilter(django_filters.FilterSet):
    invoice = IdFilter(field_name="invoice_id", help_text="the invoice credited")

    class Meta:
        model = CreditNote
        fields: list[str] = []


class CreditNoteViewSet(viewsets.ReadOnlyModelViewSet):
    """Credit notes on the invoices the caller may read; `pdf` is the credit note as a PDF file."""

    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilter

    def get_queryset(self):
        return documents_visible_to(CreditNote, self.request.user).prefetch_related("lines").order_by(
            "-issued_at", "-pk")

    @extend_schema(responses=PDF_RESPONSES)
    @action(detail=True, renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def pdf(self, request, pk=None, format=None):
        return pdf_response(self.get_object())

    @extend_schema(responses=EINVOICE_RESPONSES, parameters=[EINVOICE_FORMAT])
    @action(detail=True, url_path=EINVOICE_PATH, renderer_classes=EINVOICE_RENDERERS)
    def einvoice(self, request, pk=None, fmt=None, format=None):
        return einvoice_response(self.get_object(), fmt)
