"""Company (fleet) accounts: the consolidated statement's layout, card spending caps, the fleet manager's
operations, reads and portal pages (docs/companies.md)."""
