"""Invoices, their lines, numbering counters and credit notes."""

__all__: list[str] = []
