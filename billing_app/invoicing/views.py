"""The driver's invoice and credit note PDFs (portal download). A document of someone else is a 404."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from billing_app.invoicing import document_pdf_bytes
from billing_app.invoicing.selectors import credit_notes_for_driver, invoices_for_driver


def pdf_response(document) -> HttpResponse:
    response = HttpResponse(document_pdf_bytes(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(get_object_or_404(invoices_for_driver(request.user), pk=pk))


@require_GET
@login_required
def credit_note_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(get_object_or_404(credit_notes_for_driver(request.user), pk=pk))
