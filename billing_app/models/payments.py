"""Payments through Stripe: our Payment rows tied to sessions and invoices."""

__all__: list[str] = []
