"""Admin for session charges held for review: the list (filter "held"), and resolving one by accepting it
as measured or correcting its energy. Operator staff resolve their operator's; support staff look; nobody
edits or deletes a review (deleting one would let its charge through unreviewed)."""
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing_app.models import ChargeReview
from billing_app.money import format_money
from billing_app.settlement.review import charge_review_accept, charge_review_correct
from evbilling.errors import ApplicationError
from sessions_app.admin_scope import ReadOnlyScopedAdmin


class CorrectionForm(forms.Form):
    corrected_energy_kwh = forms.DecimalField(label=_("Corrected energy (kWh)"), min_value=Decimal(0),
                                              max_digits=12, decimal_places=3, required=False)

    def clean(self):
        data = super().clean()
        if "correct" in self.data and data.get("corrected_energy_kwh") is None:
            self.add_error("corrected_energy_kwh", _("Give the energy the session really delivered."))
        return data


@admin.register(ChargeReview)
class ChargeReviewAdmin(ReadOnlyScopedAdmin):
    list_display = ["session", "operator", "status", "reason_list", "measured_energy_kwh", "priced_total",
                    "corrected_energy_kwh", "corrected_total_incl_vat", "resolved_by", "opened_at"]
    list_filter = ["status"]
    list_select_related = ["charge__session__operator", "resolved_by"]
    search_fields = ["charge__session__transaction_ref", "charge__session__driver__username"]
    ordering = ["-opened_at"]
    readonly_fields = ["session", "operator", "status", "reason_list", "measured_energy_kwh", "priced_total",
                       "corrected_energy_kwh", "corrected_total_incl_vat", "resolved_by", "resolved_at", "opened_at",
                       "resolve_link"]
    fields = readonly_fields
    actions = ["accept_selected"]

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resolve_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and (user.is_superuser or user.is_operator_staff))

    @admin.display(description=_("session"))
    def session(self, review):
        session = review.charge.session
        return format_html('<a href="{}">{}</a>', reverse("admin:sessions_app_chargingsession_change",
                                                          args=[session.pk]), session)

    @admin.display(description=_("operator"))
    def operator(self, review):
        return review.charge.session.operator

    @admin.display(description=_("why"))
    def reason_list(self, review):
        return format_html_join("", "<div><b>{}</b>: {}</div>",
                                ((r.get("code", ""), r.get("detail", "")) for r in review.reasons or []))

    @admin.display(description=_("priced at"))
    def priced_total(self, review):
        return format_money(review.priced_total_incl_vat, review.charge.currency)

    @admin.display(description=_("resolve"))
    def resolve_link(self, review):
        if review.status != ChargeReview.Status.HELD:
            return "—"
        return format_html('<a class="button" href="{}">Accept or correct the energy</a>',
                           reverse("admin:billing_app_chargereview_resolve", args=[review.pk]))

    @admin.action(description=_("Accept selected as measured (capture and invoice)"), permissions=["resolve"])
    def accept_selected(self, request, queryset):
        accepted = 0
        for review in queryset.filter(status=ChargeReview.Status.HELD):
            try:
                charge_review_accept(charge_id=review.charge_id, by=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{review}: {error.message}", messages.ERROR)
            else:
                accepted += 1
        self.message_user(request, ngettext("Accepted {count} held session.", "Accepted {count} held sessions.",
                                                   accepted).format(count=accepted), messages.SUCCESS)

    def get_urls(self):
        return [
            path("<path:object_id>/resolve/", self.admin_site.admin_view(self.resolve_view),
                 name="billing_app_chargereview_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request, object_id: str):
        review = self.get_object(request, object_id)
        if review is None:
            raise Http404("No such session held for review.")
        if not self.has_resolve_permission(request):
            return redirect("admin:billing_app_chargereview_change", review.pk)
        form = CorrectionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                if "correct" in request.POST:
                    charge_review_correct(charge_id=review.charge_id, by=request.user,
                                          corrected_energy_kwh=form.cleaned_data["corrected_energy_kwh"])
                else:
                    charge_review_accept(charge_id=review.charge_id, by=request.user)
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, gettext("Resolved: {review}.").format(
                    review=ChargeReview.objects.get(pk=review.pk)), messages.SUCCESS)
                return redirect("admin:billing_app_chargereview_change", review.pk)
        context = {**self.admin_site.each_context(request), "form": form, "review": review,
                   "opts": self.model._meta,
                   "title": gettext("Resolve the held {session}").format(session=review.charge.session)}
        return TemplateResponse(request, "admin/billing_app/chargereview/resolve.html", context)
