"""Template filters for every amount, quantity and time a page, PDF or e-mail shows (a builtin library:
no `{% load %}` needed). They call the one formatting path: `billing_app.money` for money and
quantities, `sessions_app.local_time` for times. CSV exports never use them.

    {{ charge.total_incl_vat|money:charge.currency }}   €16.69 / 16,69 €
    {{ line.unit_price|rate:charge.currency }}          €0.395
    {{ session.energy_kwh|kwh }}                        11.000 kWh
    {{ value|quantity:2 }}                              1,234.50
    {{ line.vat_rate|percent }}                         19 %
    {{ hours|hours }}                                   1 h 05 min
    {{ session.started_at|local_datetime:zone }}        29 Nov 2026, 16:05 (Europe/Helsinki)
    {{ session.started_at|local_time:zone }}            16:05
    {{ invoice.issued_at|local_date }}                  29 Nov 2026
"""
from __future__ import annotations

from decimal import Decimal

from django import template

from billing_app import money
from billing_app.money import NOTHING
from billing_app.payments.messages import failure_text
from sessions_app import local_time
from sessions_app.ocmf.reasons import finding_text

register = template.Library()


@register.filter
def money_amount(amount, currency):
    return money.format_money(amount, currency)


register.filter("money", money_amount)


@register.filter
def rate(amount, currency):
    return money.format_rate(amount, currency)


@register.filter
def quantity(value, digits=3):
    return money.format_quantity(value, int(digits))


@register.filter
def kwh(value, digits=3):
    return NOTHING if value is None else f"{money.format_quantity(value, int(digits))}\u00a0kWh"


@register.filter
def percent(value):
    return money.format_percent(value)


@register.filter
def hours(value):
    return money.format_hours(value)


@register.filter
def local_datetime(moment, zone=None):
    return local_time.format_local_datetime(moment, zone or None)


@register.filter
def local_datetime_seconds(moment, zone=None):
    return local_time.format_local_datetime(moment, zone or None, seconds=True)


@register.filter(name="local_time")
def local_clock(moment, zone=None):
    return local_time.format_local_time(moment, zone or None)


@register.filter
def local_date(value, zone=None):
    return local_time.format_local_date(value, zone or None)


@register.filter
def kwh_from_wh(value, digits=3):
    """A register or period energy stored in Wh, shown in kWh."""
    return NOTHING if value is None else kwh(Decimal(str(value)) / 1000, digits)


@register.filter
def wh_in_k(value, digits=3):
    """A value in a base unit (Wh, W) shown in its kilo unit, without the unit (the column names it)."""
    if value in (None, ""):
        return NOTHING
    return money.format_quantity(Decimal(str(value)) / 1000, int(digits))


@register.filter
def finding(detail: str) -> str:
    """A signed-meter-value check's finding (stored in English) in the reader's language."""
    return finding_text(detail)


@register.filter
def payment_failure(message: str) -> str:
    """A payment's stored (English) failure message in the reader's language (`payments.messages`)."""
    return failure_text(message)
