"""The driver's invoice and credit note downloads (portal): the PDF and the e-invoices. A document of someone else
is a 404. `attachment_response` is the one way every download of the project is built (portal, fleet portal, API)."""
from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from billing_app.invoicing import document_pdf_bytes
from billing_app.invoicing.einvoice import EInvoiceUnavailable, einvoice_file
from billing_app.invoicing.selectors import credit_notes_for_driver, invoices_for_driver


def attachment_response(content: bytes | str | Iterable, *, filename: str, content_type: str) -> HttpResponse:
    """A file to save, never cached by a shared cache (it is somebody's document); an iterable streams."""
    if isinstance(content, bytes | str):
        response = HttpResponse(content, content_type=content_type)
    else:
        response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def pdf_response(document) -> HttpResponse:
    return attachment_response(document_pdf_bytes(document), filename=f"{document.number}.pdf",
                               content_type="application/pdf")


def einvoice_response(document, fmt: str) -> HttpResponse:
    """The document as an e-invoice (`einvoice.FORMATS`); a format it cannot be had in is a 404."""
    try:
        file = einvoice_file(document, fmt)
    except EInvoiceUnavailable as error:
        raise Http404(str(error)) from None
    return attachment_response(file.content, filename=file.filename, content_type=file.content_type)


@require_GET
@login_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(get_object_or_404(invoices_for_driver(request.user), pk=pk))


@require_GET
@login_required
def credit_note_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(get_object_or_404(credit_notes_for_driver(request.user), pk=pk))


@require_GET
@login_required
def invoice_einvoice(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    return einvoice_response(get_object_or_404(invoices_for_driver(request.user), pk=pk), fmt)


@require_GET
@login_required
def credit_note_einvoice(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    return einvoice_response(get_object_or_404(credit_notes_for_driver(request.user), pk=pk), fmt)
