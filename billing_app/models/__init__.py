"""Billing models, one module per concept: tariffs and session charges, payments, invoices."""
from .accounts import BillingAccount
from .invoices import *  # noqa: F403
from .payments import *  # noqa: F403
from .plans import *  # noqa: F403
from .tariffs import DriverGroup, PriceComponent, SessionCharge, Tariff, TariffAltText, TariffAssignment, TariffElement

__all__ = [
    "BillingAccount",
    "DriverGroup",
    "PriceComponent",
    "SessionCharge",
    "Tariff",
    "TariffAltText",
    "TariffAssignment",
    "TariffElement",
]
