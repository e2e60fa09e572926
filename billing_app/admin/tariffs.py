"""Admin for tariffs and session charges, scoped to the staff member's operator."""
from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing_app.admin.display import TrimmedDecimalInput, kwh_column, money_column
from billing_app.admin.filters import CurrencyFilter, ReviewFilter
from billing_app.admin.tariff_forms import RESTRICTIONS, TariffElementForm, TariffForm
from billing_app.models import (
    DriverGroup,
    PriceComponent,
    SessionCharge,
    Tariff,
    TariffAltText,
    TariffAssignment,
    TariffElement,
)
from billing_app.money import format_percent, format_rate
from billing_app.pricing.ocpi import dumps, loads
from billing_app.settlement.selectors import charge_vat_breakdown
from billing_app.tariffs.cdr import cdr_for_charge
from billing_app.tariffs.services import (
    TariffImportError,
    tariff_copy_draft,
    tariff_import_ocpi,
    tariff_to_ocpi,
    tariff_warnings,
)
from sessions_app.admin_paginator import EstimatedCountPaginator
from sessions_app.admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin, ScopedInline
from sessions_app.selectors import operators_for


def warn_about(admin_view, request, tariff: Tariff) -> None:
    """The tariff's checks as warning messages (never a refusal): shown after a save or an import."""
    for warning in tariff_warnings(tariff):
        admin_view.message_user(request, gettext("Check: {warning}").format(warning=warning), messages.WARNING)


class TariffAltTextInline(ScopedInline, admin.TabularInline):
    model = TariffAltText
    extra = 0


class TariffElementInline(ScopedInline, admin.StackedInline):
    model = TariffElement
    form = TariffElementForm
    extra = 0
    show_change_link = True
    fieldsets = [(None, {"fields": [("position", "components_summary")]}), RESTRICTIONS]
    readonly_fields = ["components_summary"]

    @admin.display(description=_("price components"))
    def components_summary(self, obj):
        if not obj.pk:
            return "Save, then open the element to add its price components."
        currency = obj.tariff.currency
        parts = [f"{c.type} {format_rate(c.price, currency)}" + (f" + {format_percent(c.vat)} VAT" if c.vat is not None
                                                                 else "") + f" step {c.step_size}"
                 for c in obj.price_components.all()]
        return "; ".join(parts) or "none yet: open the element (change link) to add them"


class TariffAssignmentInline(ScopedInline, admin.TabularInline):
    model = TariffAssignment
    extra = 0


def read_ocpi_upload(upload) -> dict:
    """An uploaded file as one OCPI Tariff object (numbers exact), or a form error saying why not (the JSON
    error's line and column); the tariff import and the what-if draft upload both read files this way."""
    if upload.size > 1_000_000:
        raise forms.ValidationError(_("The file is larger than 1 MB."))
    try:
        data = loads(upload.read())
    except ValueError as error:
        raise forms.ValidationError(_("Not JSON: %(error)s") % {"error": error}) from None
    if not isinstance(data, dict):
        raise forms.ValidationError(_("The file must hold one OCPI Tariff object."))
    return data


class OcpiImportForm(forms.Form):
    """An OCPI tariff file, imported for the operator of the staff member who uploads it; only someone who
    sees several operators (a superuser) picks one, and with a single one it is chosen already."""

    operator = forms.ModelChoiceField(queryset=None, label=_("operator"))
    file = forms.FileField(label=_("file"), help_text=_("An OCPI 2.2.1 Tariff object (JSON)."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.own_operator = user.operator if user.is_operator_staff else None
        if self.own_operator is not None:
            del self.fields["operator"]
            return
        operators = operators_for(user)
        self.fields["operator"].queryset = operators
        if len(operators[:2]) == 1:
            self.fields["operator"].initial = operators[0]

    def clean_file(self):
        return read_ocpi_upload(self.cleaned_data["file"])

    def chosen_operator(self):
        return self.own_operator or self.cleaned_data["operator"]


@admin.register(Tariff)
class TariffAdmin(OperatorScopedAdmin):
    form = TariffForm
    fieldsets = [
        (None, {"fields": ["operator", "name", ("ocpi_id", "type", "currency"), "parking_grace_minutes"]}),
        (_("Validity"), {"fields": [("start_date_time", "end_date_time")]}),
        (_("Price bounds"), {"classes": ["collapse"], "fields": [("min_price_excl_vat", "min_price_incl_vat"),
                                                                 ("max_price_excl_vat", "max_price_incl_vat")]}),
        (_("OCPI details"), {"classes": ["collapse"], "fields": [("country_code", "party_id"), "tariff_alt_url",
                                                                 "energy_mix"]}),
        (_("Checks"), {"fields": ["checks"]}),
    ]
    list_display = ["name", "ocpi_id", "currency", "type", "start_date_time", "end_date_time", "operator",
                    "last_updated"]
    list_filter = ["operator", "currency", "type"]
    search_fields = ["name", "ocpi_id", "alt_texts__text"]
    inlines = [TariffAltTextInline, TariffElementInline, TariffAssignmentInline]
    actions = ["export_ocpi", "copy_as_draft"]
    change_list_template = "admin/billing_app/tariff/change_list.html"
    readonly_fields = ["checks"]

    @admin.display(description=_("checks"))
    def checks(self, obj):
        if not obj.pk:
            return "Shown once the tariff is saved."
        warnings = tariff_warnings(obj)
        if not warnings:
            return "No warnings."
        return format_html("<ul>{}</ul>", format_html_join("", "<li><code>{}</code> {}</li>",
                                                           ((w.path, w.message) for w in warnings)))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        warn_about(self, request, form.instance)

    @admin.action(description=_("Export selected as OCPI 2.2.1 JSON"))
    def export_ocpi(self, request, queryset):
        tariffs = [tariff_to_ocpi(t) for t in queryset.prefetch_related("alt_texts", "elements__price_components")]
        payload = tariffs[0] if len(tariffs) == 1 else tariffs
        response = HttpResponse(dumps(payload, indent=2), content_type="application/json")
        name = queryset[0].ocpi_id if len(tariffs) == 1 else "tariffs"
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response

    @admin.action(description=_("Copy as a draft for a what-if (unassigned)"), permissions=["add"])
    def copy_as_draft(self, request, queryset):
        for tariff in queryset:
            copy = tariff_copy_draft(tariff=tariff)
            url = reverse("admin:billing_app_whatifrun_add") + f"?draft_tariff={copy.pk}&compared_tariff={tariff.pk}"
            self.message_user(request, format_html(
                'Copied {} as <a href="{}">{}</a>: edit it (it applies to no session), then <a href="{}">try it in '
                "a what-if</a>.", tariff.ocpi_id, reverse("admin:billing_app_tariff_change", args=[copy.pk]),
                copy.ocpi_id, url), messages.SUCCESS)

    def get_urls(self):
        return [
            path("import-ocpi/", self.admin_site.admin_view(self.import_ocpi_view), name="billing_app_tariff_import"),
            *super().get_urls(),
        ]

    def import_ocpi_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = OcpiImportForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                tariff = tariff_import_ocpi(operator=form.chosen_operator(), data=form.cleaned_data["file"])
            except TariffImportError as error:
                form.add_error("file", str(error))
            else:
                imported = gettext("Imported tariff {tariff}.").format(tariff=tariff.ocpi_id)
                self.message_user(request, imported, messages.SUCCESS)
                warn_about(self, request, tariff)
                return redirect(reverse("admin:billing_app_tariff_change", args=[tariff.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": gettext("Import an OCPI tariff")}
        return TemplateResponse(request, "admin/billing_app/tariff/import_ocpi.html", context)


class PriceComponentInline(ScopedInline, admin.TabularInline):
    model = PriceComponent
    extra = 1
    fields = ["position", "type", "price", "vat", "step_size"]
    formfield_overrides = {models.DecimalField: {"widget": TrimmedDecimalInput(attrs={"step": "any"})}}


@admin.register(TariffElement)
class TariffElementAdmin(OperatorScopedAdmin):
    form = TariffElementForm
    list_display = ["__str__", "position", "start_time", "end_time", "day_of_week"]
    list_filter = ["tariff__operator"]
    inlines = [PriceComponentInline]
    fieldsets = [(None, {"fields": ["tariff", "position"]}), RESTRICTIONS]

    def has_module_permission(self, request):
        return False  # reached from a tariff's page

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        warn_about(self, request, form.instance.tariff)


@admin.register(DriverGroup)
class DriverGroupAdmin(OperatorScopedAdmin):
    list_display = ["name", "operator"]
    list_filter = ["operator"]
    filter_horizontal = ["drivers"]


@admin.register(SessionCharge)
class SessionChargeAdmin(ReadOnlyScopedAdmin):
    list_display = ["session", "total_excl_vat_shown", "total_vat_shown", "total_incl_vat_shown", "energy_shown",
                    "tariff", "priced_at"]
    total_excl_vat_shown = money_column("total_excl_vat")
    total_vat_shown = money_column("total_vat")
    total_incl_vat_shown = money_column("total_incl_vat")
    energy_shown = kwh_column("total_energy_kwh", description=_("energy"))
    list_filter = [ReviewFilter, CurrencyFilter, "session__operator"]
    search_fields = ["session__transaction_ref", "session__driver__username"]
    # Newest sessions first through the sessions' (operator, started_at) index: ordering by priced_at walks
    # every charge of the other operators before finding an operator's newest (0.8 s at a million).
    ordering = ["-session__started_at"]
    list_select_related = ["session__connector__station", "tariff"]
    paginator = EstimatedCountPaginator  # a charge per session: no COUNT(*) per page view
    show_full_result_count = False
    readonly_fields = ["breakdown_table"]
    actions = ["export_cdr"]

    @admin.action(description=_("Export selected as OCPI 2.2.1 CDRs"))
    def export_cdr(self, request, queryset):
        cdrs = [cdr_for_charge(c) for c in queryset.select_related("session__connector__station__location")]
        payload = cdrs[0] if len(cdrs) == 1 else cdrs
        response = HttpResponse(dumps(payload, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="cdrs.json"'
        return response

    @admin.display(description=_("lines"))
    def breakdown_table(self, obj):
        from django.template.loader import render_to_string

        return render_to_string("billing/breakdown_table.html", {"breakdown": obj.breakdown, "currency": obj.currency,
                                                                 "vat_rows": charge_vat_breakdown(obj)})
