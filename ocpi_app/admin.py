"""Admin of OCPI roaming: the operator's CPO party, and its partners.

Adding a partner either issues a token A (shown once, for the partner to register with us) or, with the
partner's versions URL and the token A it gave us, registers with it at once. Actions renew the tokens
(PUT our credentials), issue a new token A, or unregister. Tokens are never shown after the fact: the
partner's is stored hashed, ours is the partner's secret. Scoped like every admin page.
"""
from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing_app.invoicing.billing_run import previous_month
from billing_app.money import format_money, quantize_money
from evbilling.errors import ApplicationError
from sessions_app.admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin, ScopedInline
from sessions_app.models import ChargingSession

from . import credentials, reconciliation, settlement
from .models import CdrRecord, CommandRequest, CpoParty, Partner, PartnerTariff, PartnerToken, PushDelivery


@admin.register(CpoParty)
class CpoPartyAdmin(OperatorScopedAdmin):
    list_display = ["__str__", "business_name", "operator"]


class PartnerForm(forms.ModelForm):
    register_url = forms.URLField(
        label=_("partner's versions URL"), required=False, assume_scheme="https",
        help_text=_("To register with the partner now: its versions URL and the token A it gave you. "
                    "Leave both blank to issue a token A for the partner to register with us."))
    register_token_a = forms.CharField(label=_("partner's token A"), required=False, max_length=64)

    class Meta:
        model = Partner
        fields = ["operator", "name"]

    def clean(self):
        data = super().clean()
        if bool(data.get("register_url")) != bool(data.get("register_token_a")):
            raise forms.ValidationError(_("Give both the versions URL and the token A, or neither."))
        return data


class PartnerTariffInline(ScopedInline, admin.TabularInline):
    model = PartnerTariff
    extra = 0
    verbose_name_plural = _("tariffs this partner sees (pulled, pushed, and its drivers are priced with)")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        partner_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if db_field.name == "tariff" and partner_id:
            partner = Partner.objects.filter(pk=partner_id).first()
            if partner:  # only the partner's operator's tariffs, whoever edits
                field.queryset = field.queryset.filter(operator_id=partner.operator_id)
        return field


@admin.register(PushDelivery)
class PushDeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "partner", "module", "object_id", "method", "status", "attempts",
                    "last_http_status", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "module", "method"]
    search_fields = ["object_id", "url", "last_error"]
    list_select_related = ["partner"]
    readonly_fields = ["partner", "module", "object_id", "method", "url", "body", "status", "attempts",
                       "next_attempt_at", "last_attempt_at", "delivered_at", "last_http_status", "last_status_code",
                       "last_error", "created_at"]


class DisputedFilter(admin.SimpleListFilter):
    title = _("disputed")
    parameter_name = "disputed"

    def lookups(self, request, model_admin):
        return [("yes", "Session disputed"), ("no", "Not disputed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(session__dispute_tickets__isnull=False).distinct()
        if self.value() == "no":
            return queryset.filter(session__dispute_tickets__isnull=True)
        return queryset


class MonthForm(forms.Form):
    month = forms.DateField(input_formats=["%Y-%m"], widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
                            help_text=_("YYYY-MM"))


@admin.register(CdrRecord)
class CdrRecordAdmin(ReadOnlyScopedAdmin):
    """The CDRs we issued, as sent (never edited; corrections are credit CDRs), with their push state."""

    list_display = ["cdr_id", "partner", "kind", "session", "total_excl_vat", "total_incl_vat", "currency", "state",
                    "invoice", "credit_note", "last_updated"]
    list_filter = ["state", "kind", "partner", ("invoice", admin.EmptyFieldListFilter),
                   ("credit_note", admin.EmptyFieldListFilter), ("nothing_to_bill_period", admin.EmptyFieldListFilter),
                   DisputedFilter, "last_updated"]
    search_fields = ["cdr_id", "session__id"]
    list_select_related = ["partner", "session", "invoice", "credit_note"]
    readonly_fields = ["cdr_id", "partner", "kind", "credit_reference", "session", "currency", "total_excl_vat",
                       "total_incl_vat", "net_by_rate", "state", "push", "invoice", "credit_note",
                       "nothing_to_bill_period", "last_updated", "body"]
    actions = ["export_csv", "credit_in_full"]

    def has_credit_permission(self, request):
        return request.user.is_superuser or request.user.is_operator_staff

    @admin.action(description=_("Credit the selected CDRs in full on their settlement invoice (sends credit CDRs)"),
                  permissions=["credit"])
    def credit_in_full(self, request, queryset):
        """One credit note per CDR (`settlement.cdr_credit_in_full`); the partner is sent each credit CDR."""
        operator = None if request.user.is_superuser else request.user.operator
        for cdr in queryset.order_by("last_updated", "pk"):
            try:
                note = settlement.cdr_credit_in_full(cdr_pk=cdr.pk, operator=operator,
                                                     reason=f"CDR {cdr.cdr_id} credited by {request.user}")
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, gettext("{note} credits CDR {cdr} on {invoice}: {amount}; the partner is "
                                                   "sent a credit CDR.").format(
                    note=note.number, cdr=cdr.cdr_id, invoice=note.invoice.number,
                    amount=format_money(note.total_incl_vat, note.currency)), messages.SUCCESS)

    @admin.action(description=_("Export the selected CDRs as CSV (accounting)"))
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="ocpi-cdrs.csv"'
        writer = csv.writer(response)
        writer.writerow(["cdr_id", "kind", "credit_reference", "partner", "party", "session", "currency",
                         "total_excl_vat", "total_incl_vat", "state", "last_updated"])
        for cdr in queryset.select_related("partner", "credit_reference").order_by("last_updated", "pk"):
            writer.writerow([cdr.cdr_id, cdr.kind, cdr.credit_reference.cdr_id if cdr.credit_reference else "",
                             cdr.partner.name, f"{cdr.partner.country_code}*{cdr.partner.party_id}", cdr.session_id,
                             cdr.currency, cdr.total_excl_vat, cdr.total_incl_vat, cdr.state,
                             cdr.last_updated.isoformat()])
        return response


@admin.register(PartnerToken)
class PartnerTokenAdmin(ReadOnlyScopedAdmin):
    list_display = ["uid", "type", "partner", "contract_id", "valid", "whitelist", "last_updated"]
    list_filter = ["whitelist", "valid", "partner"]
    search_fields = ["uid", "contract_id"]
    readonly_fields = ["partner", "id_token", "uid", "type", "contract_id", "valid", "whitelist", "last_updated",
                       "data"]


@admin.register(CommandRequest)
class CommandRequestAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "partner", "command", "reference", "connector", "result", "charger_answer",
                    "result_sent_at"]
    list_filter = ["command", "result", "partner"]
    readonly_fields = ["partner", "command", "reference", "connector", "response_url", "body", "command_id",
                       "charger_answer", "result", "result_sent_at", "result_error", "created_at"]


@admin.register(Partner)
class PartnerAdmin(OperatorScopedAdmin):
    list_display = ["name", "country_code", "party_id", "role", "status", "roaming_sessions", "cdr_net",
                    "cdr_gross", "cdr_states", "registered_at", "operator"]
    list_filter = ["status", "role"]
    search_fields = ["name", "party_id", "business_name"]
    actions = ["issue_token_a", "renew_credentials", "unregister", "settle_previous_month"]
    staff_may_delete = False
    change_list_template = "admin/ocpi_app/partner/change_list.html"

    def get_inlines(self, request, obj=None):
        return [PartnerTariffInline] if obj is not None else []

    def get_queryset(self, request):
        """Each partner with its roaming revenue: the net and gross of the CDRs issued to it (credit CDRs count
        negative) and how many are acknowledged, waiting or failed."""
        return super().get_queryset(request).annotate(
            _sessions=Count("cdrs__session", distinct=True), _net=Sum("cdrs__total_excl_vat"),
            _gross=Sum("cdrs__total_incl_vat"),
            _acknowledged=Count("cdrs", filter=Q(cdrs__state=CdrRecord.State.ACKNOWLEDGED)),
            _open=Count("cdrs", filter=Q(cdrs__state__in=[CdrRecord.State.PENDING, CdrRecord.State.SENT])),
            _failed=Count("cdrs", filter=Q(cdrs__state=CdrRecord.State.FAILED)))

    @admin.display(description=_("priced sessions"), ordering="_sessions")
    def roaming_sessions(self, partner):
        return partner._sessions

    @staticmethod
    def _money(value, partner) -> str:  # SQLite sums decimals as floats: back to the currency's cents
        if value is None:
            return "-"
        currency = partner.operator.default_currency
        return f"{quantize_money(Decimal(str(value)), currency)} {currency}"

    @admin.display(description=_("CDR net"), ordering="_net")
    def cdr_net(self, partner):
        return self._money(partner._net, partner)

    @admin.display(description=_("CDR gross"), ordering="_gross")
    def cdr_gross(self, partner):
        return self._money(partner._gross, partner)

    @admin.display(description=_("CDRs acknowledged / waiting / failed"))
    def cdr_states(self, partner):
        return f"{partner._acknowledged} / {partner._open} / {partner._failed}"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = PartnerForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            fields = ["operator", "name", "register_url", "register_token_a"]
            return [f for f in fields if f != "operator" or not request.user.is_operator_staff]
        return ["operator", "name", "company", "status", "country_code", "party_id", "role", "business_name",
                "versions_url", "version", "endpoints", "roles", "token_kind", "registered_at", "unregistered_at",
                "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [f for f in self.get_fields(request, obj) if f not in ("name", "company")]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        partner_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if db_field.name == "company" and partner_id and field is not None:
            partner = Partner.objects.filter(pk=partner_id).first()
            if partner:  # the buyer is one of the partner's operator's companies, whoever edits
                field.queryset = field.queryset.filter(operator_id=partner.operator_id)
        return field

    # --- Settlement and reconciliation (ocpi_app.settlement, ocpi_app.reconciliation) ---------------------------

    def _acting_operator(self, request):
        return None if request.user.is_superuser else request.user.operator

    def _settle(self, request, partners, month_of) -> None:
        for partner in partners:
            try:
                result = settlement.partner_settle(partner_id=partner.pk, period=month_of(partner),
                                                   operator=self._acting_operator(request))
            except ApplicationError as error:
                self.message_user(request, f"{partner.name}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, str(result), messages.SUCCESS if result.invoice else messages.INFO)

    @admin.action(description=_("Settle the previous month (invoice and credit notes)"), permissions=["change"])
    def settle_previous_month(self, request, queryset):
        now = timezone.now()
        self._settle(request, queryset.select_related("operator"), lambda p: previous_month(now, p.operator))

    def get_urls(self):
        return [path("reconciliation/", self.admin_site.admin_view(self.reconciliation_view),
                     name="ocpi_app_partner_reconciliation"), *super().get_urls()]

    def reconciliation_view(self, request):
        """Per partner and month: CDRs sent vs acknowledged vs failed vs invoiced vs disputed, with amounts and
        links to the records; staff may settle the month from here (POST `settle` = the partner's id)."""
        partners = self.get_queryset(request)
        operator = getattr(request.user, "operator", None)
        last_month = (timezone.now().date().replace(day=1) - timedelta(days=1)).replace(day=1)  # UTC's
        default = previous_month(timezone.now(), operator) if operator else last_month
        form = MonthForm(request.POST or request.GET or {"month": f"{default:%Y-%m}"})
        period = form.cleaned_data["month"] if form.is_valid() else default
        if request.method == "POST":
            if not self.has_change_permission(request):
                self.message_user(request, "You may look, not settle.", messages.ERROR)
            elif form.is_valid():
                self._settle(request, partners.filter(pk__in=request.POST.getlist("settle")[:50]), lambda p: period)
            else:
                self.message_user(request, f"Month: {'; '.join(form.errors.get('month', []))}", messages.ERROR)
            return redirect(f"{reverse('admin:ocpi_app_partner_reconciliation')}?month={period:%Y-%m}")
        rows = []
        cdr_list = reverse("admin:ocpi_app_cdrrecord_changelist")
        for row in reconciliation.partners_reconcile(partners=partners, period=period):
            base = {"partner__id__exact": row.partner.pk, "last_updated__gte": row.start.isoformat(),
                    "last_updated__lt": row.end.isoformat()}
            extra = {"sent": {"kind__exact": "cdr"},
                     "acknowledged": {"kind__exact": "cdr", "state__exact": "acknowledged"},
                     "pulled": {"kind__exact": "cdr", "state__exact": "sent"},
                     "pending": {"kind__exact": "cdr", "state__exact": "pending"},
                     "failed": {"kind__exact": "cdr", "state__exact": "failed"},
                     "invoiced": {"kind__exact": "cdr", "invoice__isempty": "0"},
                     "not_invoiced": {"kind__exact": "cdr", "invoice__isempty": "1",
                                      "nothing_to_bill_period__isempty": "1"},
                     "nothing_to_bill": {"kind__exact": "cdr", "nothing_to_bill_period__isempty": "0"},
                     "credits": {"kind__exact": "credit"}, "credited": {"credit_note__isempty": "0"},
                     "disputed": {"disputed": "yes"}}
            cells = [{"bucket": b, "url": f"{cdr_list}?{urlencode({**base, **extra[b.key]})}"} for b in row.buckets]
            rows.append({"row": row, "cells": cells})
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "period": period,
                   "rows": rows, "headers": [label for label, _ in reconciliation.BUCKETS.values()],
                   "may_settle": self.has_change_permission(request), "title": f"OCPI reconciliation {period:%Y-%m}"}
        return TemplateResponse(request, "admin/ocpi_app/partner/reconciliation.html", context)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        operator = request.user.operator if request.user.is_operator_staff else obj.operator
        url, token_a = form.cleaned_data.get("register_url"), form.cleaned_data.get("register_token_a")
        try:
            if url:
                partner = credentials.partner_register_outgoing(operator=operator, name=obj.name, versions_url=url,
                                                                token_a=token_a)
                self.message_user(request, f"Registered with {partner}.", messages.SUCCESS)
            else:
                partner, token = credentials.partner_token_a_issue(operator=operator, name=obj.name)
                self.message_user(request, f"Token A for {partner.name} (shown once): {token} — send it with our "
                                           f"versions URL {credentials.versions_url()}", messages.SUCCESS)
        except ApplicationError as error:
            partner = Partner.objects.filter(operator=operator, name=obj.name).first()
            self.message_user(request, error.message, messages.ERROR)
        obj.pk = partner.pk if partner else None
        if obj.pk is None:  # nothing stored: the admin's redirect needs a row; keep an unregistered one
            obj.operator, obj.status = operator, Partner.Status.UNREGISTERED
            obj.save()

    @admin.action(description=_("Issue a new token A (the partner registers with us)"), permissions=["change"])
    def issue_token_a(self, request, queryset):
        for partner in queryset:
            try:
                _, token = credentials.partner_token_a_issue(operator=partner.operator, name=partner.name)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"Token A for {partner.name} (shown once): {token}", messages.SUCCESS)

    @admin.action(description=_("Renew the credentials tokens (PUT)"), permissions=["change"])
    def renew_credentials(self, request, queryset):
        for partner in queryset:
            try:
                credentials.partner_update_outgoing(partner=partner)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"New tokens exchanged with {partner}.", messages.SUCCESS)

    @admin.action(description=_("Unregister (DELETE)"), permissions=["change"])
    def unregister(self, request, queryset):
        for partner in queryset:
            try:
                credentials.partner_unregister_outgoing(partner=partner)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"{partner} unregistered.", messages.SUCCESS)


# --- Roaming sessions in the session admin: their CDRs and the CDR state (sessions_app knows nothing of OCPI) ---

class SessionCdrInline(ScopedInline, admin.TabularInline):
    """The CDRs issued for a roaming session (credit CDRs included), with their push state and settlement."""

    model = CdrRecord
    fk_name = "session"
    extra = 0
    can_delete = False
    verbose_name = _("OCPI CDR (roaming: the eMSP pays)")
    verbose_name_plural = _("OCPI CDRs (roaming: the eMSP pays)")
    fields = ["cdr_id", "partner", "kind", "state", "total_excl_vat", "total_incl_vat", "invoice", "credit_note",
              "last_updated"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RoamingCdrStateFilter(admin.SimpleListFilter):
    """Roaming sessions by the state of their CDR (sent, acknowledged, failed, ...)."""

    title = "roaming CDR"
    parameter_name = "roaming_cdr"

    def lookups(self, request, model_admin):
        return [("any", "Roaming (has a CDR)"), *CdrRecord.State.choices]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.filter(ocpi_cdrs__isnull=False).distinct()
        if self.value() in CdrRecord.State.values:
            return queryset.filter(ocpi_cdrs__kind=CdrRecord.Kind.CDR, ocpi_cdrs__state=self.value()).distinct()
        return queryset


def _extend_session_admin() -> None:
    session_admin = admin.site.get_model_admin(ChargingSession)
    session_admin.inlines = [*session_admin.inlines, SessionCdrInline]
    session_admin.list_filter = [*session_admin.list_filter, RoamingCdrStateFilter]


_extend_session_admin()
