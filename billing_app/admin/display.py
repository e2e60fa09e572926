"""How the admin shows amounts and rates: through the one formatting path (`billing_app.money`), never a
stored Decimal's every digit (`80.000000`, `1.0000`).

`money_column("total_incl_vat")` is a changelist/readonly column showing `€16.69` (the row's `currency`);
`TrimmedDecimalInput` shows an editable rate as the operator typed it (`0.39`, not `0.390000`)."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin

from billing_app.money import NOTHING, format_money, format_quantity


def _attr(obj, path: str):
    for name in path.split("__"):
        obj = getattr(obj, name, None) if obj is not None else None
    return obj


def money_column(field: str, *, currency: str = "currency", description: str | None = None):
    """A display function for ModelAdmin.list_display / readonly_fields: the amount in the reader's locale."""

    @admin.display(description=description or field.replace("_", " ").replace("vat", "VAT"), ordering=field)
    def show(self, obj):
        value, code = _attr(obj, field), _attr(obj, currency)
        return NOTHING if value is None or not code else format_money(value, code)

    return show


def kwh_column(field: str, *, description: str | None = None, in_wh: bool = False):
    """A display function for an energy: `11.000 kWh` (from kWh, or from Wh with in_wh)."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def show(self, obj):
        value = _attr(obj, field)
        if value is None:
            return NOTHING
        return f"{format_quantity(Decimal(value) / 1000 if in_wh else value)}\u00a0kWh"

    return show


class TrimmedDecimalInput(forms.NumberInput):
    """A decimal input without the column's trailing zeros (`0.39` for a stored 0.390000)."""

    def format_value(self, value):
        if isinstance(value, Decimal):
            value = value.normalize()
            return format(value, "f") if value == value.to_integral() or value.as_tuple().exponent < 0 else str(value)
        return super().format_value(value)
