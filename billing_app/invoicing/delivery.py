"""Getting issued documents to people: the stored PDF (with its SHA-256) and the email, and the Celery
tasks that do it (they live here, beside their services, because issuing queues them: `documents` and
`credit_notes` import this module, and it imports neither).

Both are idempotent: a stored PDF is not rendered again, and the email is sent once (the row is
locked while sending and `emailed_at` recorded in the same transaction; should the commit fail
after the mail went out, a retry sends it again: at least once, never twice on success).
"""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import OperationalError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from billing_app.companies.statement import is_company_statement, session_list_csv, session_list_name
from billing_app.invoicing import pdf
from billing_app.invoicing.einvoice import einvoice_file, einvoice_formats, facturx_pdf
from billing_app.invoicing.errors import InvoicingError
from billing_app.models import CreditNote, Invoice

logger = logging.getLogger(__name__)

Document = Invoice | CreditNote


def pdf_path(document: Document) -> str:
    return f"{settings.INVOICE_PDF_DIR}/{document.operator_id}/{document.number_year}/{document.number}.pdf"


def _stored(document: Document) -> bool:
    return bool(document.pdf and document.pdf_sha256) and default_storage.exists(document.pdf.name)


def document_pdf_store(document: Document) -> Document:
    """Render and store the document's PDF unless it is stored already."""
    if not document.number:
        raise InvoicingError(gettext("%(document)s is a draft: drafts have no PDF.") % {"document": document})
    if _stored(document):
        return document
    data = pdf.document_pdf(document)
    name = pdf_path(document)
    if default_storage.exists(name):
        default_storage.delete(name)
    document.pdf.name = default_storage.save(name, ContentFile(data))
    document.pdf_sha256 = pdf.sha256(data)
    type(document).objects.filter(pk=document.pk).update(pdf=document.pdf.name, pdf_sha256=document.pdf_sha256)
    return document


def document_pdf_bytes(document: Document) -> bytes:
    """The stored PDF (rendered first if it is not there yet: demo history renders lazily)."""
    document_pdf_store(document)
    with default_storage.open(document.pdf.name, "rb") as handle:
        return handle.read()


def invoice_pdf_store(*, invoice_id: int) -> Invoice:
    return document_pdf_store(Invoice.objects.select_related("operator").get(pk=invoice_id))


def credit_note_pdf_store(*, credit_note_id: int) -> CreditNote:
    return document_pdf_store(CreditNote.objects.select_related("operator", "invoice").get(pk=credit_note_id))


def _reader_language(document: Document) -> str:
    """The language the driver chose on their account now, else the one the document was issued in (a company's),
    else the default."""
    invoice = document.invoice if isinstance(document, CreditNote) else document
    return (invoice.driver.language if invoice.driver_id else "") or document.language or settings.LANGUAGE_CODE


def _send(document: Document, *, to: str) -> None:
    """The e-mail in the driver's language (money in its format); the PDF stays as issued."""
    with translation.override(_reader_language(document)):
        _send_now(document, to=to)


def _send_now(document: Document, *, to: str) -> None:
    is_credit_note = isinstance(document, CreditNote)
    label = "Credit note" if is_credit_note else (
        "Receipt" if document.kind == Invoice.Kind.RECEIPT else "Invoice")
    document_file = _document_attachment(document)
    context = {"document": document, "label": label, "seller": document.seller, "buyer": document.buyer,
               "total": pdf.money(document.total_incl_vat, document.currency), "is_credit_note": is_credit_note,
               "xml_attached": document_file[2] == "application/xml"}
    subject = " ".join(render_to_string("emails/invoice_subject.txt", context).split())
    message = EmailMultiAlternatives(subject, render_to_string("emails/invoice.txt", context),
                                     settings.DEFAULT_FROM_EMAIL, [to],
                                     reply_to=[document.seller["email"]] if document.seller.get("email") else None)
    message.attach_alternative(render_to_string("emails/invoice.html", context), "text/html")
    message.attach(*document_file)
    if isinstance(document, Invoice) and is_company_statement(document):
        message.attach(session_list_name(document), session_list_csv(document), "text/csv")
    if isinstance(document, Invoice):
        for attachment in document.attachments.all():  # e.g. a settlement's CDR list
            message.attach(attachment.name, attachment.content, attachment.content_type)
    message.send()


def _document_attachment(document: Document) -> tuple[str, bytes, str]:
    """What the e-mail attaches, as the company chose (`Company.invoice_format`, frozen in the buyer snapshot):
    Factur-X (the PDF with its XML, named like the PDF), XRechnung (the XML alone: it is the invoice; a PDF beside it
    would be a second original), else the PDF. XRechnung the document cannot have (no Leitweg-ID, seller details
    missing at issue) falls back to Factur-X."""
    chosen = (document.buyer or {}).get("invoice_format")
    if chosen == "xrechnung" and "xrechnung" in einvoice_formats(document):
        file = einvoice_file(document, "xrechnung")
        return file.filename, file.content, file.content_type
    if chosen in ("facturx", "xrechnung"):
        return f"{document.number}.pdf", facturx_pdf(document), "application/pdf"
    return f"{document.number}.pdf", document_pdf_bytes(document), "application/pdf"


def _email_once(model: type[Document], pk: int) -> bool:
    with transaction.atomic():
        document = model.objects.select_for_update(of=("self",)).select_related("operator").get(pk=pk)
        if document.emailed_at is not None:
            return False
        if not document.number:
            raise InvoicingError(gettext("%(document)s is a draft: drafts are not sent.") % {
                "document": document})
        to = document.buyer.get("email")
        if not to:
            logger.warning("%s not emailed: the buyer has no email address", document)
            return False
        _send(document, to=to)
        document.emailed_at = timezone.now()
        document.save(update_fields=["emailed_at"])
    return True


def invoice_email_send(*, invoice_id: int) -> bool:
    """Email the issued invoice with its PDF to the driver, once; True when it was sent now."""
    return _email_once(Invoice, invoice_id)


def credit_note_email_send(*, credit_note_id: int) -> bool:
    return _email_once(CreditNote, credit_note_id)


# --- Tasks: thin, take ids, safe to run twice (the services above are idempotent) -------------------

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(name="billing_app.tasks.invoice_pdf_render", autoretry_for=(OperationalError, OSError), **RETRY)
def invoice_pdf_render(invoice_id: int) -> str:
    invoice = invoice_pdf_store(invoice_id=invoice_id)
    invoice_email_send_task.delay(invoice_id)
    return invoice.pdf_sha256


@shared_task(name="billing_app.tasks.invoice_email_send", autoretry_for=(OperationalError, OSError), **RETRY)
def invoice_email_send_task(invoice_id: int) -> bool:
    return invoice_email_send(invoice_id=invoice_id)


@shared_task(name="billing_app.tasks.credit_note_pdf_render", autoretry_for=(OperationalError, OSError), **RETRY)
def credit_note_pdf_render(credit_note_id: int) -> str:
    note = credit_note_pdf_store(credit_note_id=credit_note_id)
    credit_note_email_send_task.delay(credit_note_id)
    return note.pdf_sha256


@shared_task(name="billing_app.tasks.credit_note_email_send", autoretry_for=(OperationalError, OSError), **RETRY)
def credit_note_email_send_task(credit_note_id: int) -> bool:
    return credit_note_email_send(credit_note_id=credit_note_id)
