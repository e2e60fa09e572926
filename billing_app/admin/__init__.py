"""Billing admin, one module per concept (registration happens on import)."""
from . import accounts, invoices, payments, plans, tariffs  # noqa: F401
