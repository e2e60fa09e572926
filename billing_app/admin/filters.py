"""Admin list filters that stay cheap on tables of millions of rows."""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing_app.models import ChargeReview, ReceiptCollection
from sessions_app.selectors import operators_for


class CurrencyFilter(admin.SimpleListFilter):
    """Currencies of the operators the user sees (a handful of rows), not of every document."""

    title = _("currency")
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = operators_for(request.user).values_list("default_currency", flat=True)
        return [(c, c) for c in sorted(set(currencies))]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


class ReviewFilter(admin.SimpleListFilter):
    """Session charges by review: held (nothing captured or invoiced yet), resolved, never held."""

    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("held", _("Held for review")), ("resolved", _("Reviewed")), ("none", _("Never held"))]

    def queryset(self, request, queryset):
        if self.value() == "held":
            return queryset.filter(review__status=ChargeReview.Status.HELD)
        if self.value() == "resolved":
            return queryset.filter(review__isnull=False).exclude(review__status=ChargeReview.Status.HELD)
        if self.value() == "none":
            return queryset.filter(review__isnull=True)
        return queryset


class CollectionFilter(admin.SimpleListFilter):
    """Receipts by their off-session collection (`invoicing.collection`): overdue, in dunning, collected."""

    title = _("collection")
    parameter_name = "collection"

    def lookups(self, request, model_admin):
        return ReceiptCollection.Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(collection__status=self.value()) if self.value() else queryset
