"""Admin for invoices and credit notes: read-only records (services write them), scoped to the
staff member's operator, with the PDF a click away (another operator's document: 404)."""
from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing_app import invoicing
from billing_app.admin.display import money_column
from billing_app.admin.filters import CollectionFilter, CurrencyFilter
from billing_app.invoicing.views import pdf_response
from billing_app.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceAttachment,
    InvoiceLine,
    InvoiceVatSubtotal,
)
from billing_app.money import format_money, format_percent, format_quantity, format_rate
from billing_app.payments.messages import refund_failure_text
from sessions_app.admin_paginator import EstimatedCountPaginator
from sessions_app.admin_scope import ReadOnlyScopedAdmin, ScopedInline


class _ReadOnlyInline(ScopedInline, admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InvoiceLineInline(_ReadOnlyInline):
    """The lines as the document shows them: quantity, unit price, VAT rate and amounts through the one
    formatting path (not the columns' `1.0000`, `0.390000`)."""

    model = InvoiceLine
    fields = ["position", "description", "session", "quantity_shown", "unit", "unit_price_shown", "vat_rate_shown",
              "excl", "vat", "incl"]
    readonly_fields = fields
    excl = money_column("amount_excl_vat", currency="invoice__currency", description=_("Excl. VAT"))
    vat = money_column("vat_amount", currency="invoice__currency", description=_("VAT"))
    incl = money_column("amount_incl_vat", currency="invoice__currency", description=_("Incl. VAT"))

    @admin.display(description=_("Quantity"))
    def quantity_shown(self, line):
        return format_quantity(line.quantity)

    @admin.display(description=_("Unit price"))
    def unit_price_shown(self, line):
        return format_rate(line.unit_price, line.invoice.currency)

    @admin.display(description=_("VAT rate"))
    def vat_rate_shown(self, line):
        return format_percent(line.vat_rate)


class InvoiceVatSubtotalInline(_ReadOnlyInline):
    """The VAT per rate (EN 16931 BR-CO-17) the invoice was issued with."""

    model = InvoiceVatSubtotal
    verbose_name = _("VAT per rate")
    verbose_name_plural = _("VAT per rate")
    fields = ["vat_rate", "taxable_amount", "vat_amount"]
    readonly_fields = fields


class InvoiceAttachmentInline(_ReadOnlyInline):
    """What goes out with the invoice besides its PDF (a settlement's CDR list); action "Download the attachment"."""

    model = InvoiceAttachment
    fields = ["name", "content_type"]
    readonly_fields = fields


class CreditNoteInline(_ReadOnlyInline):
    model = CreditNote
    fields = ["number", "issued_at", "reason", "total_incl_vat", "refund_amount", "refund_status"]
    readonly_fields = fields
    show_change_link = True


class CreditNoteLineInline(_ReadOnlyInline):
    model = CreditNoteLine
    fields = ["position", "description", "vat_rate", "amount_excl_vat", "vat_amount", "amount_incl_vat"]
    readonly_fields = fields


class _DocumentDisplayMixin:
    """What a document page shows besides its fields: the parties as addresses (the JSON frozen at issue, read
    only), amounts in the reader's locale, times in the viewer's zone."""

    @admin.display(description=_("seller"))
    def seller_address(self, obj):
        return render_to_string("admin/billing_app/party.html", {"party": obj.seller})

    @admin.display(description=_("buyer"))
    def buyer_address(self, obj):
        return render_to_string("admin/billing_app/party.html", {"party": obj.buyer})

    total_excl_shown = money_column("total_excl_vat", description=_("total excl. VAT"))
    total_vat_shown = money_column("total_vat", description=_("VAT"))
    total_shown = money_column("total_incl_vat", description=_("total incl. VAT"))


class _PdfLinkMixin:
    pdf_url_name = ""

    def get_urls(self):
        opts = self.model._meta
        return [path("<path:object_id>/pdf/", self.admin_site.admin_view(self.pdf_view),
                     name=f"{opts.app_label}_{opts.model_name}_pdf"), *super().get_urls()]

    def pdf_view(self, request, object_id):
        document = self.get_object(request, object_id)  # scoped queryset: another operator's is None
        if document is None or not document.number or not self.has_view_permission(request, document):
            raise Http404("No such document.")
        return pdf_response(document)

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj):
        if not obj.number:
            return "-"
        opts = self.model._meta
        return format_html('<a href="{}">{}.pdf</a>', reverse(f"admin:{opts.app_label}_{opts.model_name}_pdf",
                                                               args=[obj.pk]), obj.number)


@admin.register(Invoice)
class InvoiceAdmin(_DocumentDisplayMixin, _PdfLinkMixin, ReadOnlyScopedAdmin):
    list_display = ["__str__", "kind", "driver", "period_start", "total_shown", "state",
                    "collection_status", "issued_at", "pdf_link", "operator"]
    # issued_at as a filter, not a date_hierarchy, and currencies from the operators, not a DISTINCT over
    # every invoice: both read the whole table on each page view (bench/web_load.py, a million receipts).
    list_filter = ["state", CollectionFilter, "kind", "operator", CurrencyFilter, "issued_at"]
    search_fields = ["number", "driver__username", "driver__email", "buyer__company_name"]
    list_select_related = ["driver", "operator", "collection"]
    paginator = EstimatedCountPaginator  # a receipt per session: no COUNT(*) per page view
    show_full_result_count = False
    readonly_fields = ["pdf_link", "seller_address", "buyer_address", "total_excl_shown", "total_vat_shown",
                       "total_shown"]
    fieldsets = [
        (None, {"fields": [("number", "kind", "state"), ("operator", "driver", "account"), "session",
                           ("period_start", "period_end"), "pdf_link"]}),
        (_("Parties"), {"fields": [("seller_address", "buyer_address")]}),
        (_("Amounts"), {"fields": [("total_excl_shown", "total_vat_shown", "total_shown"), "vat_per_rate"]}),
        (_("Dates and payment"), {"fields": [("issued_at", "paid_at"), "payment_reference",
                                             ("voided_at", "void_reason"), "emailed_at", "created_at"]}),
    ]
    inlines = [InvoiceLineInline, InvoiceVatSubtotalInline, InvoiceAttachmentInline, CreditNoteInline]
    actions = ["issue_drafts", "credit_remaining", "download_attachment"]

    def has_issue_permission(self, request):
        return request.user.is_superuser or request.user.is_operator_staff

    @admin.display(description=_("collection"))
    def collection_status(self, obj):
        collection = getattr(obj, "collection", None)  # only receipts no payment covered have one
        return collection.get_status_display() if collection else "-"

    @admin.action(description=_("Issue selected drafts"), permissions=["issue"])
    def issue_drafts(self, request, queryset):
        issued = 0
        for invoice in queryset.filter(state=Invoice.State.DRAFT):
            invoicing.invoice_issue(invoice_id=invoice.pk)
            issued += 1
        issued_text = ngettext("{count} invoice issued.", "{count} invoices issued.", issued).format(count=issued)
        self.message_user(request, issued_text, messages.SUCCESS)

    @admin.action(description=_("Download the attachment (e.g. a settlement's CDR list)"))
    def download_attachment(self, request, queryset):
        attachments = list(InvoiceAttachment.objects.filter(invoice__in=queryset)[:2])
        if len(attachments) != 1:
            self.message_user(request, gettext("Select one invoice that has one attachment."), messages.WARNING)
            return None
        attachment = attachments[0]
        response = HttpResponse(attachment.content, content_type=attachment.content_type)
        response["Content-Disposition"] = f'attachment; filename="{attachment.name}"'
        return response

    @admin.action(description=_("Credit what remains (full credit note)"), permissions=["issue"])
    def credit_remaining(self, request, queryset):
        for invoice in queryset.filter(state__in=[Invoice.State.ISSUED, Invoice.State.PAID]):
            try:
                note = invoicing.credit_note_issue(invoice_id=invoice.pk, reason=f"Credited by {request.user}")
            except invoicing.CreditNoteError as error:
                self.message_user(request, f"{invoice}: {error}", messages.WARNING)
            else:
                credited = format_money(note.total_incl_vat, note.currency)
                done = gettext("{note} credits {amount} of {invoice}.").format(note=note, amount=credited,
                                                                              invoice=invoice)
                self.message_user(request, done, messages.SUCCESS)


@admin.register(CreditNote)
class CreditNoteAdmin(_DocumentDisplayMixin, _PdfLinkMixin, ReadOnlyScopedAdmin):
    list_display = ["number", "invoice", "total_shown", "refund_shown", "refund_status", "issued_at",
                    "pdf_link", "operator"]
    refund_shown = money_column("refund_amount", description=_("refund"))
    list_filter = ["refund_status", "operator", CurrencyFilter]
    search_fields = ["number", "invoice__number"]
    list_select_related = ["invoice", "operator"]
    readonly_fields = ["pdf_link", "seller_address", "buyer_address", "total_excl_shown", "total_vat_shown",
                       "total_shown", "refund_shown", "refund_failure_shown"]
    fieldsets = [
        (None, {"fields": [("number", "state"), ("operator", "invoice", "session"), "reason", "pdf_link"]}),
        (_("Parties"), {"fields": [("seller_address", "buyer_address")]}),
        (_("Amounts"), {"fields": [("total_excl_shown", "total_vat_shown", "total_shown"),
                                   ("refund_shown", "refund_status"), "refund_failure_shown"]}),
        (_("Dates"), {"fields": [("issued_at", "emailed_at", "created_at")]}),
    ]
    inlines = [CreditNoteLineInline]

    @admin.display(description=_("refund failure message"))
    def refund_failure_shown(self, obj):
        """Stored in English; said in the reader's language (`payments.messages.refund_failure_text`)."""
        return refund_failure_text(obj.refund_failure_message)
