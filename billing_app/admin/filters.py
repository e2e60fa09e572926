"""Admin list filters that stay cheap on tables of millions of rows."""
from __future__ import annotations

from django.contrib import admin

from sessions_app.selectors import operators_for


class CurrencyFilter(admin.SimpleListFilter):
    """Currencies of the operators the user sees (a handful of rows), not of every document."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = operators_for(request.user).values_list("default_currency", flat=True)
        return [(c, c) for c in sorted(set(currencies))]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset
