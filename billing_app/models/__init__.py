"""Billing models, one module per concept: tariffs and session charges, payments, invoices."""
from billing_app.models.accounts import BillingAccount
from billing_app.models.collections import *  # noqa: F403
from billing_app.models.companies import CardCapNotice
from billing_app.models.invoices import *  # noqa: F403
from billing_app.models.payments import *  # noqa: F403
from billing_app.models.plans import *  # noqa: F403
from billing_app.models.reviews import ChargeReview
from billing_app.models.tariffs import (
    DriverGroup,
    PriceComponent,
    SessionCharge,
    Tariff,
    TariffAltText,
    TariffAssignment,
    TariffElement,
)
from billing_app.models.what_if import WhatIfRun, WhatIfSession

__all__ = [
    "BillingAccount",
    "CardCapNotice",
    "ChargeReview",
    "DriverGroup",
    "PriceComponent",
    "SessionCharge",
    "Tariff",
    "TariffAltText",
    "TariffAssignment",
    "TariffElement",
    "WhatIfRun",
    "WhatIfSession",
]
