"""A payment's or refund's stored failure message in the reader's language (issue 21). The services store the
English sentence (`Payment.failure_message`, `Refund.failure_message`: the record, and what webhooks and the
admin history carry); a driver's page or API answer says it again through the catalogue. The sentences this
platform writes, and Stripe's common card refusals, are the fixed set below; anything else (another of Stripe's
own words) is shown as stored."""
from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop

NO_CARD = gettext_noop("The driver has no card on file.")

_FIXED = {text: text for text in (
    NO_CARD,
    gettext_noop("Your card was declined."),
    gettext_noop("Your card has insufficient funds."),
    gettext_noop("Your card has expired."),
    gettext_noop("Your card's security code is incorrect."),
    gettext_noop("Your card number is incorrect."),
    gettext_noop("This payment requires authentication."),
)}
_ENDED = re.compile(r"^PaymentIntent ended as (?P<status>\S*)$")
ENDED = gettext_noop("PaymentIntent ended as %(status)s")


def ended_as(status: str) -> str:
    """The stored (English) message of a PaymentIntent that ended in a state we did not ask for."""
    return ENDED % {"status": status}


def failure_text(message: str) -> str:
    """A stored failure message in the active language (as stored when it is not one of ours)."""
    if message in _FIXED:
        return gettext(message)
    if match := _ENDED.match(message or ""):
        return gettext(ENDED) % {"status": match["status"]}
    return message


_NOT_REFUNDED = re.compile(r"^(?P<amount>\S+) (?P<currency>[A-Z]{3}) not refunded: (?P<reason>.*)$", re.S)
NOTHING_LEFT = gettext_noop("nothing captured by card is left to refund")


def not_refunded(amount, currency: str, reasons: list[str]) -> str:
    """A credit note's stored refund refusal (English): what was not given back and why."""
    return f"{amount} {currency} not refunded: {'; '.join(reasons) or NOTHING_LEFT}"


def refund_failure_text(message: str) -> str:
    """A credit note's stored refund refusal in the active language; each reason as `failure_text` says it."""
    match = _NOT_REFUNDED.match(message or "")
    if match is None:
        return message
    reasons = [gettext(NOTHING_LEFT) if reason == NOTHING_LEFT else failure_text(reason)
               for reason in match["reason"].split("; ")]
    return gettext("%(amount)s %(currency)s not refunded: %(reason)s") % {
        "amount": match["amount"], "currency": match["currency"], "reason": "; ".join(reasons)}
