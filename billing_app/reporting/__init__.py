"""Operator reporting: usage, revenue and dispute analytics (`analytics`) and CSV exports for
accounting (`exports`); read-only and scoped to the operators the asking user may see."""
