"""Invoices, their lines, numbering counters and credit notes.

An invoice is a draft until `billing_app.invoicing.invoice_issue` gives it its number and freezes
the seller's and buyer's details; from then on its lines and amounts never change (the model
refuses to save changed frozen fields, the database refuses a number given twice). Corrections
are credit notes, numbered in their own sequence. Amounts are Decimal, rounded to the currency's
minor unit per line; the net total is the sum of the lines. VAT is per rate (EN 16931 BR-CO-17):
`InvoiceVatSubtotal` stores, per rate, the taxable amount and the VAT computed once on it, and the
invoice's VAT is their sum (checked by the services, not by CHECK constraints: SQLite would compare
the sums as floats). Invoices issued before VAT per rate (`vat_per_rate=False`) keep the VAT they
were issued with, the sum of their lines' VAT, which their per-rate rows were backfilled from.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from billing_app.models.accounts import BillingAccount
from billing_app.models.tariffs import SessionCharge
from sessions_app.models import ChargingSession, Operator, User

__all__ = ["CreditNote", "CreditNoteLine", "Invoice", "InvoiceAttachment", "InvoiceLine", "InvoiceVatSubtotal",
           "NumberSequence"]


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class NumberSequence(models.Model):
    """The last number given per (operator, year, kind); locked with SELECT ... FOR UPDATE while a
    number is taken, inside the issuing transaction, so numbers are gapless and never repeat."""

    OWNER_PATH = "operator"

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="number_sequences")
    year = models.PositiveSmallIntegerField(_("year"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    last_value = models.PositiveIntegerField(_("last value"), default=0)

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")
        ordering = ["operator", "-year", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "year", "kind"], name="unique_number_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.operator} {self.kind} {self.year}: {self.last_value}"


class FrozenOnceIssuedMixin:
    """Refuses to save a document whose frozen fields changed after it was issued.

    The state as loaded from the database decides (so a draft may be issued, an issued document may
    become paid or void), without an extra query."""

    FROZEN_FIELDS: tuple[str, ...] = ()
    DRAFT = "draft"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = {name: getattr(instance, name) for name in (*cls.FROZEN_FIELDS, "state")
                            if name in field_names}
        return instance

    def save(self, *args, **kwargs):
        loaded = getattr(self, "_loaded", None)
        if loaded and loaded.get("state") != self.DRAFT:
            changed = [name for name in self.FROZEN_FIELDS if name in loaded and getattr(self, name) != loaded[name]]
            if changed:
                raise ValidationError(_("%(document)s is issued and cannot change (%(fields)s): "
                                        "correct it with a credit note.") % {
                    "document": self, "fields": ", ".join(changed)})
        super().save(*args, **kwargs)
        self._loaded = {name: getattr(self, name) for name in (*self.FROZEN_FIELDS, "state")}


class Invoice(FrozenOnceIssuedMixin, models.Model):
    """A receipt for one pay-as-you-go session, a monthly statement of a billing account, or a monthly
    settlement invoice to a roaming partner (an eMSP's company account, from the CDRs it was sent)."""

    OWNER_PATH = "operator"

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Session receipt")
        STATEMENT = "statement", _("Monthly statement")
        PLAN_FEE = "plan_fee", _("Plan fee")
        SETTLEMENT = "settlement", _("Roaming settlement")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    FROZEN_FIELDS = (
        "operator_id", "account_id", "driver_id", "kind", "session_id", "period_start", "period_end", "currency",
        "number", "number_year", "number_sequence", "issued_at", "seller", "buyer",
        "total_excl_vat", "total_vat", "total_incl_vat", "vat_per_rate", "language",
    )

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="invoices")
    account = models.ForeignKey(BillingAccount, verbose_name=_("account"), on_delete=models.PROTECT,
                                related_name="invoices")
    driver = models.ForeignKey(User, verbose_name=_("driver"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="invoices",
                               help_text=_("blank on a company's statement or a settlement (the buyer is the company)"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), null=True, blank=True,
                                on_delete=models.PROTECT,
                                related_name="receipts", help_text=_("the session a receipt is for"))
    period_start = models.DateField(_("period start"), help_text=_("first day covered, in the operator's time zone"))
    period_end = models.DateField(_("period end"), help_text=_("last day covered (inclusive)"))
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(_("state"), max_length=6, choices=State.choices, default=State.DRAFT)
    number = models.CharField(_("number"), max_length=32, null=True, blank=True, unique=True)
    number_year = models.PositiveSmallIntegerField(_("number year"), null=True, blank=True)
    number_sequence = models.PositiveIntegerField(_("number sequence"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=200, blank=True)
    seller = models.JSONField(_("seller"), default=dict, blank=True,
                              help_text=_("the operator's legal details, frozen at issue"))
    buyer = models.JSONField(_("buyer"), default=dict, blank=True,
                             help_text=_("the driver's billing details, frozen at issue"))
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("the language it was issued in (the reader's); every re-render uses it; "
                                            "blank: issued before languages were recorded (the default language)"))
    total_excl_vat = _money(verbose_name=_("total excl vat"), default=0)
    total_vat = _money(verbose_name=_("total vat"), default=0)
    total_incl_vat = _money(verbose_name=_("total incl vat"), default=0)
    vat_per_rate = models.BooleanField(
        _("VAT per rate"), default=True,
        help_text=_("VAT computed per rate on the sum of its lines (EN 16931 BR-CO-17); "
                    "off for invoices issued before, whose VAT is the sum of their lines' VAT"))
    pdf = models.FileField(_("pdf"), upload_to="invoices/", blank=True, max_length=200)
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-pk"]
        indexes = [
            models.Index(fields=["driver", "-issued_at"], name="invoice_driver_issued"),
            models.Index(fields=["operator", "-issued_at", "-id"], name="invoice_operator_issued"),
            models.Index(fields=["-issued_at", "-id"], name="invoice_issued"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["session"], name="one_receipt_per_session"),
            models.UniqueConstraint(fields=["account", "period_start"], condition=Q(kind="statement"),
                                    name="one_statement_per_account_period"),
            models.UniqueConstraint(fields=["account", "period_start"], condition=Q(kind="settlement"),
                                    name="one_settlement_per_account_period"),
            models.UniqueConstraint(fields=["operator", "number_year", "number_sequence"],
                                    name="unique_invoice_sequence_per_operator_year"),
            models.CheckConstraint(name="invoice_driver_unless_statement",
                                   condition=Q(driver__isnull=False) | Q(kind__in=["statement", "settlement"])),
            models.CheckConstraint(name="invoice_receipt_has_session",
                                   condition=~Q(kind="receipt") | Q(session__isnull=False)),
            models.CheckConstraint(name="invoice_numbered_unless_draft",
                                   condition=(Q(state="draft") & Q(number__isnull=True))
                                   | (~Q(state="draft") & Q(number__isnull=False) & Q(issued_at__isnull=False))),
            models.CheckConstraint(name="invoice_period_ordered", condition=Q(period_end__gte=F("period_start"))),
        ]

    def __str__(self) -> str:
        return self.number or _("draft invoice %(id)s") % {"id": self.pk}

    @property
    def is_issued(self) -> bool:
        return self.state != self.State.DRAFT


class InvoiceLine(models.Model):
    """One line, rounded once to the currency's minor unit; traceable to the session and the line of
    its pricing breakdown (`source_index` into `SessionCharge.breakdown["lines"]`)."""

    OWNER_PATH = "invoice__operator"

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=20,
                            help_text=_("ENERGY, TIME, PARKING_TIME, FLAT, ... or PLAN_FEE, DISCOUNT"))
    description = models.CharField(_("description"), max_length=200)
    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), null=True, blank=True,
                                on_delete=models.PROTECT,
                                related_name="invoice_lines")
    session_charge = models.ForeignKey(SessionCharge, verbose_name=_("session charge"), null=True, blank=True,
                                       on_delete=models.PROTECT,
                                       related_name="invoice_lines")
    source_index = models.PositiveSmallIntegerField(_("source index"), null=True, blank=True,
                                                    help_text=_("index of the breakdown line it comes from"))
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=12)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=6, help_text=_("excl. VAT"))
    vat_rate = models.DecimalField(_("VAT %"), max_digits=6, decimal_places=3, null=True, blank=True,
                                   help_text=_("blank: no VAT applies"))
    amount_excl_vat = _money(verbose_name=_("amount excl vat"))
    vat_amount = _money(verbose_name=_("vat amount"))
    amount_incl_vat = _money(verbose_name=_("amount incl vat"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="unique_invoice_line_position"),
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        if self.invoice.is_issued:
            raise ValidationError(_("%(invoice)s is issued: its lines cannot change.") % {"invoice": self.invoice})
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.invoice.is_issued:
            raise ValidationError(_("%(invoice)s is issued: its lines cannot change.") % {"invoice": self.invoice})
        return super().delete(*args, **kwargs)


class InvoiceVatSubtotal(models.Model):
    """One VAT rate of an invoice (EN 16931 BG-23 "VAT breakdown"): the sum of that rate's net lines
    (`taxable_amount`) and the VAT on it, computed once and rounded once (`money.vat_breakdown`).
    Written with the invoice's totals; frozen once it is issued, like its lines. Rows of invoices
    issued before VAT per rate hold the sums of their lines, as those were issued."""

    OWNER_PATH = "invoice__operator"

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE,
                                related_name="vat_subtotals")
    position = models.PositiveSmallIntegerField(_("position"))
    vat_rate = models.DecimalField(_("VAT %"), max_digits=6, decimal_places=3, null=True, blank=True,
                                   help_text=_("blank: no VAT applies"))
    taxable_amount = _money(verbose_name=_("taxable amount"))
    vat_amount = _money(verbose_name=_("vat amount"))

    class Meta:
        verbose_name = _("invoice vat subtotal")
        verbose_name_plural = _("invoice vat subtotals")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="unique_invoice_vat_subtotal_position"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice}: {self.vat_rate if self.vat_rate is not None else _('no VAT')}"

    def save(self, *args, **kwargs):
        if self.invoice.is_issued:
            raise ValidationError(_("%(invoice)s is issued: its VAT cannot change.") % {"invoice": self.invoice})
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.invoice.is_issued:
            raise ValidationError(_("%(invoice)s is issued: its VAT cannot change.") % {"invoice": self.invoice})
        return super().delete(*args, **kwargs)

    @property
    def gross_amount(self):
        return self.taxable_amount + self.vat_amount


class InvoiceAttachment(models.Model):
    """A file that belongs to an issued invoice and goes out with it (e.g. a settlement's CDR list as CSV),
    written in the issuing transaction and never changed."""

    OWNER_PATH = "invoice__operator"

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE,
                                related_name="attachments")
    name = models.CharField(_("name"), max_length=100)
    content_type = models.CharField(_("content type"), max_length=100)
    content = models.TextField(_("content"))

    class Meta:
        verbose_name = _("invoice attachment")
        verbose_name_plural = _("invoice attachments")
        ordering = ["invoice", "name"]
        constraints = [models.UniqueConstraint(fields=["invoice", "name"], name="unique_invoice_attachment_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.pk and self.invoice.is_issued:
            raise ValidationError(_("%(invoice)s is issued: its attachments cannot change.") % {
                "invoice": self.invoice})
        super().save(*args, **kwargs)


class CreditNote(FrozenOnceIssuedMixin, models.Model):
    """A correction of an issued invoice, full or partial, issued (and numbered) at creation.

    Never above what remains on the invoice: `billing_app.invoicing.credit_note_issue` checks it
    while holding a row lock on the invoice. A credit note that gives money back to the card carries
    the refund it owes (`refund_amount`, `refund_status` pending), written in the issuing transaction;
    `billing_app.invoicing.refunds` sends it and records the outcome."""

    OWNER_PATH = "operator"

    class State(models.TextChoices):
        ISSUED = "issued", _("Issued")

    class RefundStatus(models.TextChoices):
        NONE = "none", _("No refund")
        PENDING = "pending", _("Refund pending")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Refund failed")

    FROZEN_FIELDS = ("invoice_id", "number", "issued_at", "total_excl_vat", "total_vat", "total_incl_vat",
                     "seller", "buyer", "reason", "refund_amount", "language", "session_id")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT,
                                related_name="credit_notes")
    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="credit_notes",
                                help_text=_("the session whose line on the invoice this credit note reduces (blank: "
                                            "the invoice as a whole)"))
    state = models.CharField(_("state"), max_length=6, choices=State.choices, default=State.ISSUED)
    number = models.CharField(_("number"), max_length=32, unique=True)
    number_year = models.PositiveSmallIntegerField(_("number year"))
    number_sequence = models.PositiveIntegerField(_("number sequence"))
    issued_at = models.DateTimeField(_("issued at"))
    reason = models.CharField(_("reason"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3)
    seller = models.JSONField(_("seller"), default=dict)
    buyer = models.JSONField(_("buyer"), default=dict)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("the language it was issued in (the reader's); every re-render uses it"))
    total_excl_vat = _money(verbose_name=_("total excl vat"))
    total_vat = _money(verbose_name=_("total vat"))
    total_incl_vat = _money(verbose_name=_("total incl vat"))
    refund_amount = _money(verbose_name=_("refund amount"), default=0,
                           help_text=_("what goes back to the card (0: no refund)"))
    refund_status = models.CharField(_("refund status"), max_length=9, choices=RefundStatus.choices,
                                     default=RefundStatus.NONE)
    refund_failure_message = models.CharField(_("refund failure message"), max_length=255, blank=True,
                                              help_text=_("why the refund (or part of it) could not be made"))
    pdf = models.FileField(_("pdf"), upload_to="invoices/", blank=True, max_length=200)
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-issued_at", "-pk"]
        indexes = [
            models.Index(fields=["refund_status"], condition=Q(refund_status="pending"),
                         name="credit_note_refund_pending"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["operator", "number_year", "number_sequence"],
                                    name="unique_credit_note_sequence_per_operator_year"),
            models.CheckConstraint(name="credit_note_positive", condition=Q(total_incl_vat__gt=0)),
            models.CheckConstraint(name="credit_note_refund_within_total",
                                   condition=Q(refund_amount__gte=0) & Q(refund_amount__lte=F("total_incl_vat"))),
            models.CheckConstraint(name="credit_note_refund_status_matches_amount",
                                   condition=(Q(refund_status="none") & Q(refund_amount=0))
                                   | (~Q(refund_status="none") & Q(refund_amount__gt=0))),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def driver(self) -> User:
        return self.invoice.driver


class CreditNoteLine(models.Model):
    """The credited amount at one VAT rate (credits are shared out per rate of the invoice)."""

    OWNER_PATH = "credit_note__operator"

    credit_note = models.ForeignKey(CreditNote, verbose_name=_("credit note"), on_delete=models.CASCADE,
                                    related_name="lines")
    position = models.PositiveIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=200)
    vat_rate = models.DecimalField(_("VAT %"), max_digits=6, decimal_places=3, null=True, blank=True)
    amount_excl_vat = _money(verbose_name=_("amount excl vat"))
    vat_amount = _money(verbose_name=_("vat amount"))
    amount_incl_vat = _money(verbose_name=_("amount incl vat"))

    class Meta:
        verbose_name = _("credit note line")
        verbose_name_plural = _("credit note lines")
        ordering = ["credit_note", "position"]
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"], name="unique_credit_note_line_position"),
        ]

    def __str__(self) -> str:
        return self.description
