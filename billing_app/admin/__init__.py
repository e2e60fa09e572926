"""Billing admin, one module per concept (registration happens on import)."""
from . import accounts, invoices, payments, tariffs  # noqa: F401
