"""Billing admin, one module per concept (registration happens on import)."""
from billing_app.admin import (  # noqa: F401
    accounts,
    collections,
    companies,
    invoices,
    payments,
    plans,
    reviews,
    sessions,
    tariffs,
    what_if,
)
