"""How a resolution is carried out, per kind: a table of resolvers.

A resolver is `func(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict`.
It runs inside `services.ticket_resolve`'s transaction with the ticket row locked, does what the kind
means (refund through the payments service, issue a credit note, re-price), raises `ResolutionError`
to refuse (e.g. a refund above what was captured: nothing is written then), and returns references
to what it created (stored in `DisputeTicket.resolution_reference`). It must be idempotent on
`idempotency_key` (stable per ticket, kind and reopen round) and push external effects (Stripe)
after commit or behind that key.

Only `reject` is built in. Billing registers `refund`, `credit_note` and `reprice` with
`register_resolver` (or through settings.DISPUTE_RESOLVERS); a kind nobody registered is refused,
never pretended.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

Resolver = Callable[..., dict[str, Any]]


class ResolutionError(Exception):
    """A resolution that cannot be carried out; the message says why, for the support agent."""


_resolvers: dict[str, Resolver] = {}


def register_resolver(kind: str, func: Resolver) -> None:
    _resolvers[kind] = func


def unregister_resolver(kind: str) -> None:
    _resolvers.pop(kind, None)


def resolver_for(kind: str) -> Resolver:
    try:
        return _resolvers[kind]
    except KeyError:
        raise ResolutionError(
            f"Resolving by {kind.replace('_', ' ')} is not available: no billing resolver is registered for it."
        ) from None


def available_kinds() -> list[str]:
    return list(_resolvers)


def _reject(*, ticket, amount, currency, explanation: str, details, by, idempotency_key) -> dict[str, Any]:
    if not explanation.strip():
        raise ResolutionError("A rejection needs an explanation for the driver.")
    if amount is not None:
        raise ResolutionError("A rejection has no amount.")
    return {}


register_resolver("reject", _reject)
