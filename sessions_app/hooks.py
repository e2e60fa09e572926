"""What sessions_app asks of the apps above it, without importing them (dependencies point
billing_app -> sessions_app, ocpi_app -> billing_app). Billing's AppConfig sets the first two, ocpi_app's the
third; no others.

- `running_cost(session) -> Decimal | None`: what an active session has cost so far, incl. VAT
  (OCPP 2.0.1 totalCost on the charger's display). Unset: no running cost is sent.
- `payment_standing(*, id_token, station, at) -> str | None`: asked when a token is accepted; None keeps
  it accepted, a string refuses it with that reason (billing places its pay-as-you-go hold here, and refuses
  a driver with a receipt overdue too long: `OVERDUE_RECEIPT`). Unset: every known, valid token is accepted.
- `remote_authorization(*, uid, id_token, station, at) -> tuple[str, IdToken | None] | None`: asked before
  the payment hook about every token, known or not: None leaves the local verdict, a (status, token) pair
  replaces it (ocpi_app asks the roaming partner that issued the token, in real time, per its whitelist).
  Unset: the local verdict stands.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

#: The payment hook's reason for a driver who owes an overdue receipt. A refusal is Blocked in OCPP 1.6 (it has no
#: better status); OCPP 2.0.1 answers NoCredit ("Identifier is valid, but EV Driver doesn't have enough credit to
#: start charging"), which tells the charger the token itself is fine.
OVERDUE_RECEIPT = "overdue_receipt"
NO_CREDIT_REASONS = frozenset({OVERDUE_RECEIPT})

RunningCost = Callable[[Any], Decimal | None]
PaymentStanding = Callable[..., str | None]

RemoteAuthorization = Callable[..., tuple[str, Any] | None]

running_cost: RunningCost | None = None
payment_standing: PaymentStanding | None = None
remote_authorization: RemoteAuthorization | None = None


def hooks_set(*, running_cost_of: RunningCost | None, payment_standing_of: PaymentStanding | None) -> None:
    """Install the app above's functions (billing_app.apps.BillingAppConfig.ready)."""
    global running_cost, payment_standing
    running_cost = running_cost_of
    payment_standing = payment_standing_of


def session_running_cost(session: Any) -> Decimal | None:
    return running_cost(session) if running_cost is not None else None


def token_payment_standing(*, id_token: Any, station: Any, at: datetime) -> str | None:
    return payment_standing(id_token=id_token, station=station, at=at) if payment_standing is not None else None


def remote_authorization_set(function: RemoteAuthorization | None) -> None:
    """Install the roaming app's real-time authorization (ocpi_app.apps.OcpiAppConfig.ready)."""
    global remote_authorization
    remote_authorization = function


def token_remote_verdict(*, uid: str, id_token: Any, station: Any, at: datetime) -> tuple[str, Any] | None:
    return remote_authorization(uid=uid, id_token=id_token, station=station, at=at) if remote_authorization else None
