"""Tariffs: rows <-> OCPI 2.2.1 Tariff objects, import/export and which tariff applies (`services`),
a session in OCPI terms and its CDR (`cdr`), the tariffs API (`apis`)."""
