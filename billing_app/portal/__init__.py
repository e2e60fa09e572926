"""The driver's self-service portal (/portal/): sessions and what they cost, invoices, cards, tokens,
profile. Disputes and payment methods have their own pages, linked from the portal navigation."""
