"""Admin for invoices and credit notes."""
