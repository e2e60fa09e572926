"""Billing admin, one module per concept (registration happens on import)."""
from billing_app.admin import accounts, collections, invoices, payments, plans, reviews, tariffs  # noqa: F401
